"""The applicant's pages: the list, a new draft, the Art 67(2) form, the team, withdrawal,
answers to the committees, comments, the ethics approval, and the invitation answer.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from access import forms, selectors, services, uploads
from access.models import (
    Application,
    InvalidTransition,
    ProhibitedUse,
    Review,
    TeamMember,
)
from access.views.common import (
    EDITABLE,
    PAGE_SIZE,
    _listed,
    _named,
    _posted,
    _refused,
)
from access.views.page import _detail_action
from catalogue.selectors import basket_datasets
from portal.downloads import stored_file_response
from portal.forms import show_refusal
from portal.models import Role
from portal.permissions import role_required

# --- The applicant's pages ------------------------------------------------------------------


@role_required(Role.RESEARCHER)
def application_list(request):
    """Applications the person filed or joined as an accepted team member."""
    user = request.user
    joined = TeamMember.objects.filter(
        application=OuterRef("pk"), user=user, status=TeamMember.Status.ACCEPTED
    )
    applications = (
        selectors.visible_applications(user)
        .filter(Q(applicant=user) | Q(Exists(joined)))
        .order_by("-updated_at", "-pk")
    )
    page = Paginator(applications, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [
        {
            "application": a,
            "mine": a.applicant_id == user.pk,
            "editable": a.applicant_id == user.pk and a.status in EDITABLE,
            "overdue": selectors.is_overdue(a, now=now),
        }
        for a in page.object_list
    ]
    return render(request, "access/application_list.html", {"page": page, "rows": rows})


@role_required(Role.RESEARCHER)
def application_create(request):
    form = forms.ApplicationCreateForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            application = services.application_create(
                applicant=request.user, title=form.cleaned_data["title"]
            )
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(request, _("Your draft was created. Fill it in, then submit it."))
            return redirect("access:application_edit", application.pk)
    return render(
        request,
        "access/application_create.html",
        {"form": form, "datasets": basket_datasets(request.user)},
    )


def _edit_form(application, data=None, files=None):
    items = list(application.items.select_related("dataset__node").order_by("dataset__title"))
    form = forms.ApplicationForm(
        data,
        files,
        instance=application,
        items=items,
        can_remove=application.status == Application.Status.DRAFT,
    )
    return form, items


def _render_edit(request, application, *, form=None, items=None, invite_form=None,
                 answer_form=None, missing=None):  # fmt: skip
    if form is None:
        form, items = _edit_form(application)
    if answer_form is None and application.status == Application.Status.CLARIFICATION:
        answer_form = forms.ClarificationAnswerForm(auto_id="answer-%s")
    return render(
        request,
        "access/application_edit.html",
        {
            "application": application,
            "form": form,
            "items": items,
            "invite_form": invite_form or forms.TeamInviteForm(auto_id="invite-%s"),
            "answer_form": answer_form,
            "team": application.team.select_related("user").order_by("invited_at"),
            "open_questions": application.clarifications.filter(answered_at__isnull=True),
            "missing": missing,
            "prohibited_uses": ProhibitedUse.choices,
            "is_draft": application.status == Application.Status.DRAFT,
            "can_withdraw": application.can_transition_to(Application.Status.WITHDRAWN),
        },
    )


@role_required(Role.RESEARCHER)
def application_edit(request, pk):
    """The Art 67(2) form: save a (partial) draft; or save, then submit the draft or answer
    the committees' questions (while a clarification is requested)."""
    application = selectors.access_application(request.user, pk, for_write=True)
    if application.status not in EDITABLE:
        messages.info(request, _("This application can no longer be changed."))
        return redirect("access:application_detail", application.pk)
    posted = request.method == "POST"
    action = request.POST.get("action", "save") if posted else None
    form, items = _edit_form(application, _posted(request), request.FILES if posted else None)
    answer_form = None
    if application.status == Application.Status.CLARIFICATION:
        answer_form = forms.ClarificationAnswerForm(
            request.POST if action == "answer" else None, auto_id="answer-%s"
        )

    def again(**extra):
        return _render_edit(
            request, application, form=form, items=items, answer_form=answer_form, **extra
        )

    if not posted:
        return again()
    valid = form.is_valid()
    if action == "answer" and answer_form is not None:
        valid = answer_form.is_valid() and valid
    if not valid:
        return again()
    try:
        services.application_save_draft(
            application=application,
            actor=request.user,
            remove_datasets=form.cleaned_data.get("remove_datasets"),
            **form.changes(),
        )
    except InvalidTransition as error:
        return _refused(request, error, application)
    except ValidationError as error:
        show_refusal(form, error)
        return again()
    if action == "submit" and application.status == Application.Status.DRAFT:
        return _submit(request, application)
    if action == "answer" and answer_form is not None:
        return _answer(request, application, answer_form)
    messages.success(request, _("Your application was saved."))
    return redirect("access:application_edit", application.pk)


def _submit(request, application):
    try:
        services.application_submit(application=application, actor=request.user)
    except services.IncompleteApplication as error:
        application.refresh_from_db()
        messages.info(request, _("Your draft was saved, but it cannot be submitted yet."))
        return _render_edit(request, application, missing=error.messages)
    except InvalidTransition as error:
        return _refused(request, error, application)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("access:application_edit", application.pk)
    messages.success(
        request, _("Your application was submitted. The reviewing committees have been told.")
    )
    return redirect("access:application_detail", application.pk)


def _answer(request, application, answer_form):
    try:
        services.clarification_answer(
            application=application,
            actor=request.user,
            answer=answer_form.cleaned_data["answer"],
        )
    except services.IncompleteApplication as error:
        application.refresh_from_db()
        messages.info(request, _("Your changes were saved, but the application is incomplete."))
        return _render_edit(request, application, missing=error.messages, answer_form=answer_form)
    except InvalidTransition as error:
        return _refused(request, error, application)
    except ValidationError as error:
        show_refusal(answer_form, error)
        return _render_edit(request, application, answer_form=answer_form)
    messages.success(request, _("Your answer was sent; the review continues."))
    return redirect("access:application_detail", application.pk)


@require_POST
@role_required(Role.RESEARCHER)
def application_team_invite(request, pk):
    application = selectors.access_application(request.user, pk, for_write=True)
    form = forms.TeamInviteForm(request.POST, auto_id="invite-%s")
    if form.is_valid():
        try:
            member = services.team_invite(
                application=application,
                actor=request.user,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except InvalidTransition as error:
            return _refused(request, error, application)
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(request, _("%s was invited and must accept.") % member.email)
            return redirect(reverse("access:application_edit", args=[application.pk]) + "#team")
    return _render_edit(request, application, invite_form=form)


@role_required(Role.RESEARCHER)
def application_withdraw(request, pk):
    """Withdrawing asks for confirmation on its own page."""
    application = selectors.access_application(request.user, pk, for_write=True)
    if not application.can_transition_to(Application.Status.WITHDRAWN):
        messages.error(request, _("This application can no longer be withdrawn."))
        return redirect("access:application_detail", application.pk)
    form = forms.WithdrawForm(_posted(request))
    closing = [
        r.committee.name
        for r in application.reviews.filter(status=Review.Status.PENDING)
        .select_related("committee")
        .order_by("committee__name")
    ]
    if request.method == "POST" and form.is_valid():
        try:
            services.application_withdraw(
                application=application, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except InvalidTransition as error:
            return _refused(request, error, application)
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(request, _withdrawn_message(application, closing))
            return redirect("access:application_detail", application.pk)
    return render(
        request,
        "access/application_withdraw.html",
        {"application": application, "form": form, "closing": closing},
    )


def _withdrawn_message(application: Application, closing: list[str]) -> str:
    if not closing:
        return _("%s was withdrawn.") % _named(application, first=True)
    return _(
        "%(application)s was withdrawn; the reviews by %(committees)s were closed and the "
        "committees were told."
    ) % {"application": _named(application, first=True), "committees": _listed(closing)}


@require_POST
@role_required(Role.RESEARCHER)
def application_answer(request, pk):
    """Answer the committees' questions; the service checks the application again."""
    application = selectors.access_application(request.user, pk, for_write=True)

    def act(data):
        services.clarification_answer(
            application=application, actor=request.user, answer=data["answer"]
        )

    return _detail_action(
        request, application, "answer", forms.ClarificationAnswerForm, act,
        _("Your answer was sent; the review continues."),
    )  # fmt: skip


@require_POST
@role_required(Role.RESEARCHER)
def application_comment(request, pk):
    """The applicant writes to the reviewing committees."""
    application = selectors.access_application(request.user, pk, for_write=True)

    def act(data):
        services.comment_add(
            application=application, actor=request.user, body=data["body"],
            visible_to_applicant=True,
        )  # fmt: skip

    return _detail_action(
        request, application, "applicant_comment", forms.ApplicantCommentForm, act,
        _("Your message was sent to the committees."), anchor="#comments",
    )  # fmt: skip


@login_required
def application_ethics_file(request, pk):
    """The ethics approval, only to people who may read the application (never a public URL),
    as a sandboxed attachment named by the portal (``portal.downloads``)."""
    application = selectors.access_application(request.user, pk)
    if not application.ethics_approval:
        raise Http404
    stored = application.ethics_approval.name
    kind = uploads.stored_type(stored)
    try:
        handle = application.ethics_approval.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return stored_file_response(
        handle,
        filename=uploads.download_name(application, stored),
        content_type=kind.content_type if kind else "application/octet-stream",
    )


@login_required
def invitation(request, token):
    member = selectors.access_invitation(request.user, token)
    answer = request.POST.get("answer")
    if request.method == "POST" and answer not in ("accept", "decline"):
        messages.error(request, _("Choose to accept or to decline."))
        return redirect("access:invitation", token)
    if request.method == "POST":
        try:
            services.team_answer(token=token, user=request.user, accept=answer == "accept")
        except (ValidationError, InvalidTransition) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            answered = (
                _("You joined the team of “%s”: you can now read the application.")
                if answer == "accept"
                else _("You declined to join the team of “%s”; you have no access to it.")
            )
            messages.success(request, answered % member.application.title)
        return redirect("access:invitation", token)
    return render(request, "access/invitation.html", {"member": member})
