"""Pages for applicants, committees and the access body. Thin: parse, check access, call a
service, render.

Each action is a POST that redirects on success. When a service refuses, the page is shown
again with the refusal next to the field it concerns (or at the top) and nothing is stored;
a refusal because the workflow moved on (InvalidTransition) becomes a message instead.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from access import forms, selectors, services, uploads
from access.models import (
    Application,
    InvalidTransition,
    Permit,
    ProhibitedUse,
    Review,
    TeamMember,
    Vote,
)
from access.permissions import (
    committees_of,
    is_chair,
    is_party,
    may_change_permit,
    may_extend_deadline,
    members_of,
)
from catalogue import duo
from catalogue.selectors import basket_datasets
from portal.confirm import Confirmation, confirmation_page, is_confirmed, wants_change
from portal.downloads import stored_file_response
from portal.forms import show_refusal
from portal.models import Role
from portal.permissions import role_required

PAGE_SIZE = 20
PRESCREEN_LABELS = {
    "compatible": gettext_lazy("compatible"),
    "incompatible": gettext_lazy("incompatible"),
    "needs_judgement": gettext_lazy("needs judgement"),
}
EDITABLE = {Application.Status.DRAFT, Application.Status.CLARIFICATION}


def _refused(request, error: InvalidTransition, application: Application):
    messages.error(request, str(error))
    return redirect("access:application_detail", application.pk)


def _posted(request):
    """The submitted data, even when empty (an empty form is still a submission)."""
    return request.POST if request.method == "POST" else None


def _auto_id(kind: str, pk) -> str:
    # Several reviews' forms share the detail page; their ids must not collide.
    return f"{kind}-{pk}-%s"


def _named(application: Application, *, first: bool = False) -> str:
    """How messages and confirmations name an application (``first``: starting a sentence)."""
    words = _("Application %(pk)s “%(title)s”") if first else _("application %(pk)s “%(title)s”")
    return words % {"pk": application.pk, "title": application.title}


def _listed(names) -> str:
    return ", ".join(str(n) for n in names) or "—"


def _confirm(request, confirmation: Confirmation, application: Application, form_id: str):
    """Ask before an action on the application page that cannot be undone; Change and Cancel
    lead back to the form (``form_id``) it came from."""
    detail = reverse("access:application_detail", args=[application.pk])
    return confirmation_page(
        request,
        confirmation,
        action=request.path,
        change=f"{request.path}#{form_id}-form",
        back=f"{detail}#{form_id}-form",
    )


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


def _save_draft(actor, application: Application, form: forms.ApplicationForm) -> None:
    """Both or neither: the datasets kept and the fields."""
    remove = set(form.cleaned_data.get("remove_datasets") or ())
    with transaction.atomic():
        if remove:
            keep = [i.dataset for i in application.items.select_related("dataset")
                    if i.dataset_id not in remove]  # fmt: skip
            try:
                services.application_set_datasets(
                    application=application, actor=actor, datasets=keep
                )
            except ValidationError as error:
                raise ValidationError({"remove_datasets": error.messages}) from None
        services.application_update(application=application, actor=actor, **form.changes())


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
    application = selectors.access_own_application(request.user, pk)
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
        _save_draft(request.user, application, form)
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
    application = selectors.access_own_application(request.user, pk)
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
    application = selectors.access_own_application(request.user, pk)
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


def _detail_action(request, application, kind, form_class, act, success, anchor="", confirm=None):
    """Parse ``form_class`` from the application page, call ``act(data)``; on refusal show
    the page again with the form's errors (or every missing item), nothing stored. With
    ``confirm`` (data → Confirmation), the action is done only once confirmed. ``success`` is
    the message, or a function of the application giving it."""
    form = form_class(request.POST, auto_id=f"{kind}-%s")
    missing = None
    if form.is_valid():
        confirmation = confirm(form.cleaned_data) if confirm else None
        if confirmation and wants_change(request):
            return _render_detail(request, application, failed={kind: form})
        if confirmation and not is_confirmed(request):
            return _confirm(request, confirmation, application, kind)
        try:
            act(form.cleaned_data)
        except InvalidTransition as error:
            return _refused(request, error, application)
        except services.IncompleteApplication as error:
            missing = error.messages
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(request, success(application) if callable(success) else success)
            url = reverse("access:application_detail", args=[application.pk])
            return redirect(url + anchor)
    return _render_detail(request, application, failed={kind: form}, missing=missing)


@require_POST
@role_required(Role.RESEARCHER)
def application_answer(request, pk):
    """Answer the committees' questions; the service checks the application again."""
    application = selectors.access_own_application(request.user, pk)

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
    application = selectors.access_own_application(request.user, pk)

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


# --- The application page -------------------------------------------------------------------


def _review_panel(user, application: Application, review: Review, failed: dict) -> dict:
    """What a member of ``review``'s committee sees and may do there."""

    def form(kind, form_class, **initial):
        return failed.get((kind, review.pk)) or form_class(
            auto_id=_auto_id(kind, review.pk), initial=initial
        )

    is_open = review.status == Review.Status.PENDING and application.status in Application.OPEN
    waiting = application.status == Application.Status.CLARIFICATION
    conflicted = review.conflicts.filter(member=user).exists()
    chair = is_chair(user, review.committee)
    tally = services.tally(review)
    capacity = tally["capacity"]
    my_vote = tally["votes"].get(user.pk)
    may_ask = is_open
    may_vote = is_open and not waiting and not conflicted
    vote_initial = {"choice": my_vote.choice, "reason": my_vote.reason} if my_vote else {}
    return {
        "review": review,
        "tally": tally,
        "votes": review.votes.select_related("member").order_by("cast_at"),
        "conflicts": review.conflicts.select_related("member").order_by("declared_at"),
        "is_open": is_open,
        "waiting": waiting,
        "conflicted": conflicted,
        "is_chair": chair,
        "my_vote": my_vote,
        "capacity": capacity,
        "decisive": [
            (Vote.Choice(choice).label, Review.Status(outcome).label)
            for choice, outcome in services.decisive_votes(review, user, tally).items()
        ]
        if may_vote
        else [],
        "conflict_form": form("conflict", forms.ConflictForm)
        if is_open and not conflicted
        else None,
        "vote_form": form("vote", forms.VoteForm, **vote_initial) if may_vote else None,
        "clarify_form": form("clarify", forms.ClarificationRequestForm) if may_ask else None,
        "decide_form": form("decide", forms.DecideForm) if may_vote and chair else None,
        "comment_form": form("comment", forms.CommitteeCommentForm),
    }


def _stuck_reasons(reviews) -> list[tuple[Review, str]]:
    pending = [r for r in reviews if r.status == Review.Status.PENDING]
    capacities = selectors.review_capacities(pending)
    return [(r, capacities[r.pk].why) for r in pending if capacities[r.pk].stuck]


def _render_detail(request, application: Application, *, failed=None, missing=None):
    """The application page. ``failed`` holds bound forms a refused action sends back."""
    user = request.user
    failed = failed or {}
    now = timezone.now()
    is_applicant = application.applicant_id == user.pk
    is_admin = user.has_role(Role.HDAB_ADMIN)
    reviews = list(
        application.reviews.select_related("committee", "decided_by").order_by("committee__name")
    )
    # The applicant's side (the applicant and the team, invited or accepted) never sees the
    # committees' side, even if they sit on a committee or belong to the access body.
    applicant_side = is_party(user, application)
    mine = set() if applicant_side else set(committees_of(user).values_list("pk", flat=True))
    reviewer = any(r.committee_id in mine for r in reviews)
    sees_internal = not applicant_side and (is_admin or reviewer)

    comments = selectors.visible_comments(user, application)

    def form(kind, form_class):
        return failed.get(kind) or form_class(auto_id=f"{kind}-%s")

    decision_due = application.decision_due
    is_open = application.status in Application.OPEN
    may_answer = is_applicant and application.status == Application.Status.CLARIFICATION
    may_write = is_applicant and application.status != Application.Status.DRAFT
    may_extend = (
        not applicant_side
        and is_open
        and decision_due is not None
        and not application.extended
        and may_extend_deadline(user, application, reviews)
    )
    days_left = None
    if decision_due:
        days_left = (timezone.localdate(decision_due) - timezone.localdate(now)).days
    context = {
        "application": application,
        "is_applicant": is_applicant,
        "sees_internal": sees_internal,
        "items": application.items.select_related("dataset__node", "review__committee").order_by(
            "dataset__title"
        ),
        "reviews": reviews,
        "team": application.team.select_related("user").order_by("invited_at"),
        "comments": comments,
        "clarifications": application.clarifications.select_related("committee"),
        "permits": selectors.visible_permits(user).filter(application=application),
        "duo_labels": [duo.label(code) for code in application.duo_codes],
        "prohibited_uses": ProhibitedUse.choices,
        "prescreen_labels": PRESCREEN_LABELS,
        "clock": {
            "is_open": is_open,
            "days_left": days_left,
            "overdue": selectors.is_overdue(application, now=now),
            "due_soon": selectors.due_soon(application, now=now),
        },
        "missing": missing,
        "can_edit": is_applicant and application.status in EDITABLE,
        "can_withdraw": is_applicant
        and application.can_transition_to(Application.Status.WITHDRAWN),
        "answer_form": form("answer", forms.ClarificationAnswerForm) if may_answer else None,
        "applicant_comment_form": form("applicant_comment", forms.ApplicantCommentForm)
        if may_write
        else None,
        "extend_form": form("extend", forms.ExtensionForm) if may_extend else None,
        "panels": [
            _review_panel(user, application, r, failed) for r in reviews if r.committee_id in mine
        ],
        # Why nobody may vote on or decide a review (the committees' side only).
        "stuck": _stuck_reasons(reviews) if sees_internal and is_open else [],
    }
    return render(request, "access/application_detail.html", context)


@login_required
def application_detail(request, pk):
    application = selectors.access_application(request.user, pk)
    return _render_detail(request, application)


@require_POST
@login_required
def application_extend(request, pk):
    """Extend the decision deadline (a reviewing committee's chair or the access body)."""
    application = selectors.access_application(request.user, pk)
    if not may_extend_deadline(request.user, application):
        raise Http404

    def act(data):
        services.deadline_extend(application=application, actor=request.user, reason=data["reason"])

    def confirm(data):
        if application.decision_due is None:
            return None  # no clock to extend: the service says so
        return Confirmation(
            question=_("Extend the decision deadline of %s?") % _named(application),
            consequences=[
                _("The decision is due on %(new)s instead of %(old)s.") % {
                    "new": _day(application.decision_due + services.EXTENSION_PERIOD),
                    "old": _day(application.decision_due),
                },
                _("The applicant is told the reason: %s") % data["reason"],
                _("The deadline can be extended only once (EHDS Art 68(4))."),
            ],
            button=_("Extend by three months"),
        )  # fmt: skip

    def extended(application):
        application.refresh_from_db()
        return _(
            "The decision on %(application)s is now due on %(due)s; the applicant was told why."
        ) % {"application": _named(application), "due": _day(application.decision_due)}

    return _detail_action(
        request, application, "extend", forms.ExtensionForm, act, extended, confirm=confirm
    )


def _day(moment) -> str:
    """A date (or the local date of a time) as the pages show it."""
    if moment is None:
        return "—"
    if hasattr(moment, "tzinfo"):
        moment = timezone.localdate(moment)
    return f"{moment:%Y-%m-%d}"


# --- Committee actions on a review ------------------------------------------------------------


def _review_action(request, pk, kind, form_class, act, success, *, as_chair=False, confirm=None):
    """Check membership (or the chair), parse ``form_class``, call ``act(review, data)``.
    With ``confirm`` ((review, data) → Confirmation), the action is done only once
    confirmed. ``success`` is the message, or a function of the review giving it."""
    review = selectors.access_review(request.user, pk, as_chair=as_chair)
    application = review.application
    form = form_class(request.POST, auto_id=_auto_id(kind, review.pk))
    if form.is_valid():
        # A closed review takes no action: the service says so, without a confirmation first.
        is_open = review.status == Review.Status.PENDING and application.status in Application.OPEN
        confirmation = confirm(review, form.cleaned_data) if confirm and is_open else None
        if confirmation and wants_change(request):
            return _render_detail(request, application, failed={(kind, review.pk): form})
        if confirmation and not is_confirmed(request):
            return _confirm(request, confirmation, application, f"{kind}-{review.pk}")
        try:
            act(review, form.cleaned_data)
        except InvalidTransition as error:
            return _refused(request, error, application)
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(request, success(review) if callable(success) else success)
            url = reverse("access:application_detail", args=[application.pk])
            return redirect(f"{url}#review-{review.pk}")
    return _render_detail(request, application, failed={(kind, review.pk): form})


@require_POST
@login_required
def review_conflict(request, pk):
    def act(review, data):
        services.conflict_declare(review=review, actor=request.user, note=data["note"])

    def confirm(review, data):
        lines = []
        vote = review.votes.filter(member=request.user).first()
        if vote:
            lines.append(_("Your vote (%s) is withdrawn.") % vote.get_choice_display().lower())
        lines.append(_("You can no longer vote or decide on it for %s.") % review.committee.name)
        if data["note"]:
            lines.append(_("Your committee reads your note: %s") % data["note"])
        return Confirmation(
            question=_("Declare a conflict of interest on %s?") % _named(review.application),
            consequences=lines,
            button=_("Declare the conflict"),
        )

    def declared(review):
        return _(
            "Your conflict of interest on %s was recorded; you no longer vote or decide on it."
        ) % _named(review.application)

    return _review_action(
        request, pk, "conflict", forms.ConflictForm, act, declared, confirm=confirm
    )


@require_POST
@login_required
def review_vote(request, pk):
    def act(review, data):
        services.vote_cast(
            review=review, actor=request.user, choice=data["choice"], reason=data["reason"]
        )

    def confirm(review, data):
        """A vote that would on its own become the committee's final decision is confirmed
        first; any other vote is recorded at once (it can still be changed)."""
        if review.application.status == Application.Status.CLARIFICATION:
            return None
        tally = services.tally(review)
        outcome = services.decisive_votes(review, request.user, tally).get(data["choice"])
        if outcome is None:
            return None
        names = {
            "committee": review.committee.name,
            "choice": Vote.Choice(data["choice"]).label,
            "outcome": Review.Status(outcome).label.lower(),
        }
        settles = _(
            "Your vote settles the review under %(committee)s's rule: the committee's final "
            "decision is %(outcome)s."
        )
        lines = [settles % names]
        if tally["eligible"] == 1:
            lines.append(_("You are the only member who may vote on this application."))
        return Confirmation(
            question=_("Vote “%(choice)s” and decide for %(committee)s?") % names,
            consequences=lines,
            button=_("Vote and decide"),
        )

    return _review_action(
        request, pk, "vote", forms.VoteForm, act, _("Your vote was recorded."), confirm=confirm
    )


@require_POST
@login_required
def review_clarify(request, pk):
    def act(review, data):
        services.clarification_request(
            review=review,
            actor=request.user,
            question=data["question"],
            incomplete=data["incomplete"],
        )

    return _review_action(
        request, pk, "clarify", forms.ClarificationRequestForm, act,
        _("The applicant was asked; the review waits for the answer."),
    )  # fmt: skip


@require_POST
@login_required
def review_comment(request, pk):
    def act(review, data):
        services.comment_add(
            application=review.application,
            actor=request.user,
            body=data["body"],
            visible_to_applicant=data["visible_to_applicant"],
            committee=review.committee,
        )

    return _review_action(
        request, pk, "comment", forms.CommitteeCommentForm, act, _("Your comment was added.")
    )


@require_POST
@login_required
def review_decide(request, pk):
    def act(review, data):
        services.review_decide(
            review=review,
            actor=request.user,
            approve=data["decision"] == "approve",
            reason=data["reason"],
            conditions=data["conditions"],
            ends_on=data["ends_on"],
        )

    return _review_action(
        request, pk, "decide", forms.DecideForm, act, _decided_message, as_chair=True,
        confirm=_decide_confirmation,
    )  # fmt: skip


def _decide_confirmation(review: Review, data) -> Confirmation | None:
    """What the chair's decision does, said before it is recorded (nothing to confirm while
    the applicant is being asked: the service refuses the decision)."""
    application, committee = review.application, review.committee.name
    if application.status == Application.Status.CLARIFICATION:
        return None
    datasets = _listed(
        i.dataset.title for i in review.items.select_related("dataset").order_by("dataset__title")
    )
    others = _listed(
        r.committee.name
        for r in application.reviews.filter(status=Review.Status.PENDING)
        .exclude(pk=review.pk)
        .select_related("committee")
        .order_by("committee__name")
    )
    last = others == "—"
    names = {"committee": committee, "datasets": datasets, "others": others,
             "application": _named(application)}  # fmt: skip
    if data["decision"] == "approve":
        lines = [_("%(committee)s grants access to: %(datasets)s.") % names]
        if last:
            team = application.team.filter(status=TeamMember.Status.ACCEPTED).count()
            lines.append(
                _("A data permit is issued to %(holder)s and %(team)s accepted team member(s), "
                  "%(valid)s.") % {
                    "holder": application.applicant.display_name,
                    "team": team,
                    "valid": _("valid until %s") % _day(data["ends_on"]) if data["ends_on"]
                    else _("valid for the requested processing period (%s months)")
                    % application.processing_months,
                }
            )  # fmt: skip
        else:
            lines.append(
                _("The application is decided once %(others)s have decided too; the permits "
                  "are issued then.") % names
            )  # fmt: skip
        if data["conditions"]:
            lines.append(_("Conditions of the permit: %s") % data["conditions"])
        return Confirmation(
            question=_("Approve %(application)s for %(committee)s?") % names,
            consequences=lines,
            button=_("Approve for %s") % committee,
        )
    lines = [
        _("%(committee)s refuses access to: %(datasets)s.") % names,
        _("The applicant reads your reasons: %s") % data["reason"],
        _("The application is decided now, and the applicant is told.")
        if last
        else _("%(others)s still decide on their datasets.") % names,
    ]
    return Confirmation(
        question=_("Reject %(application)s for %(committee)s?") % names,
        consequences=lines,
        button=_("Reject for %s") % committee,
    )


def _decided_message(review: Review) -> str:
    """What the chair's decision changed: the review, the application, the permit issued."""
    review = Review.objects.select_related("application", "committee").get(pk=review.pk)
    names = {"application": _named(review.application, first=True),
             "committee": review.committee.name,
             "status": review.application.get_status_display()}  # fmt: skip
    if review.status != Review.Status.APPROVED:
        return (
            _("%(application)s was rejected for %(committee)s; its status is now: %(status)s.")
            % names
        )
    permit = Permit.objects.filter(review=review).select_related("holder").first()
    if permit is None:
        return (
            _(
                "%(application)s was approved for %(committee)s; the permit is issued once the "
                "other committees have decided."
            )
            % names
        )
    return _(
        "%(application)s was approved for %(committee)s; permit %(number)s was issued to "
        "%(holder)s, valid until %(ends)s."
    ) % {**names, "number": permit.number, "holder": permit.holder.display_name,
         "ends": _day(permit.ends_on)}  # fmt: skip


# --- Permits and invitations ----------------------------------------------------------------


@role_required(Role.RESEARCHER, Role.COMMITTEE_MEMBER, Role.HDAB_ADMIN)
def permit_list(request):
    """Permits the person holds or is named on, those their committees issued (the access
    body: all)."""
    permits = (
        selectors.visible_permits(request.user)
        .select_related("application", "holder", "review__committee")
        .prefetch_related("datasets")
        .order_by("-issued_at", "-pk")
    )
    page = Paginator(permits, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "access/permit_list.html", {"page": page, "today": timezone.localdate()})


def _render_permit(request, permit, *, form=None):
    """The permit. It is valid through its end date; from the next day it shows as ended,
    even before the daily ``expire_permits`` has marked it expired, and cannot be
    reactivated."""
    user = request.user
    committee = permit.review.committee
    can_change = may_change_permit(user, permit)
    ended = permit.ends_on < timezone.localdate()
    changes = [
        name
        for name, spec in services.PERMIT_CHANGES.items()
        if can_change
        and permit.can_transition_to(spec.status)
        and not (ended and spec.status == Permit.Status.ACTIVE)
    ]
    return render(
        request,
        "access/permit_detail.html",
        {
            "permit": permit,
            "review": Review.objects.select_related("decided_by", "committee").get(
                pk=permit.review_id
            ),
            "datasets": permit.datasets.select_related("node").order_by("title"),
            "authorised": permit.authorised_persons.order_by("last_name", "first_name", "pk"),
            "chairs": [m for m in members_of(committee) if is_chair(m, committee)],
            "changes": changes,
            "ended": ended and permit.status in (Permit.Status.ACTIVE, Permit.Status.SUSPENDED),
            "form": form or forms.PermitChangeForm(auto_id="change-%s"),
        },
    )


@login_required
def permit_detail(request, pk):
    """The printable permit with its Art 68(10) contents."""
    return _render_permit(request, selectors.access_permit(request.user, pk))


@require_POST
@login_required
def permit_change(request, pk):
    """Suspend, reactivate or revoke (the issuing committee's chair or the access body)."""
    permit = selectors.access_permit(request.user, pk, for_change=True)
    form = forms.PermitChangeForm(request.POST, auto_id="change-%s")
    if form.is_valid():
        change = form.cleaned_data["change"]
        detail = reverse("access:permit_detail", args=[permit.pk])
        if change == "revoke" and wants_change(request):
            return _render_permit(request, permit, form=form)
        if change == "revoke" and not is_confirmed(request):
            return confirmation_page(
                request,
                _revoke_confirmation(permit, form.cleaned_data["reason"]),
                action=request.path,
                change=f"{request.path}#change-form",
                back=f"{detail}#change-form",
            )
        try:
            services.permit_change(
                permit=permit, actor=request.user, change=change,
                reason=form.cleaned_data["reason"],
            )  # fmt: skip
        except InvalidTransition as error:
            messages.error(request, str(error))
            return redirect("access:permit_detail", permit.pk)
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(request, PERMIT_CHANGED[change] % {"number": permit.number})
            return redirect("access:permit_detail", permit.pk)
    return _render_permit(request, permit, form=form)


PERMIT_CHANGED = {
    "suspend": gettext_lazy(
        "Permit %(number)s was suspended; its holder and authorised persons were told why."
    ),
    "reactivate": gettext_lazy(
        "Permit %(number)s is active again; its holder and authorised persons were told."
    ),
    "revoke": gettext_lazy(
        "Permit %(number)s was revoked; its holder and authorised persons were told why."
    ),
}


def _revoke_confirmation(permit, reason: str) -> Confirmation:
    people = _listed(p.display_name for p in permit.authorised_persons.order_by("last_name", "pk"))
    datasets = _listed(permit.datasets.order_by("title").values_list("title", flat=True))
    return Confirmation(
        question=_("Revoke data permit %s?") % permit.number,
        consequences=[
            _("The permit ends now: the people it authorises (%(people)s) lose access to: "
              "%(datasets)s.") % {"people": people, "datasets": datasets},
            _("They are told the reason: %s") % reason,
            _("A revoked permit cannot be reactivated: a new application is needed."),
        ],
        button=_("Revoke permit %s") % permit.number,
    )  # fmt: skip


@login_required
def invitation(request, token):
    member = TeamMember.objects.filter(token=token).select_related("application__applicant").first()
    if member is None or member.email.lower() != (request.user.email or "").lower():
        # Same answer for unknown tokens and invitations addressed to someone else.
        raise Http404
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
