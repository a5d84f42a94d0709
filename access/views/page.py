"""The application page: the applicant's side, and each reviewing committee's panel for its
members (who is looking is ``access.selectors.application_viewer``), with the actions posted
from it shown again there when refused.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from access import forms, selectors, services
from access.models import (
    Application,
    InvalidTransition,
    ProhibitedUse,
    Review,
    Vote,
)
from access.permissions import (
    is_chair,
    may_extend_deadline,
)
from access.views.common import (
    EDITABLE,
    PRESCREEN_LABELS,
    _auto_id,
    _confirm,
    _day,
    _named,
    _refused,
)
from catalogue import duo
from portal.confirm import Confirmation, is_confirmed, wants_change
from portal.forms import show_refusal

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
    may_ask = is_open and not conflicted
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
        "comment_form": None if conflicted else form("comment", forms.CommitteeCommentForm),
    }


def _stuck_reasons(reviews) -> list[tuple[Review, str]]:
    pending = [r for r in reviews if r.status == Review.Status.PENDING]
    capacities = selectors.review_capacities(pending)
    return [(r, capacities[r.pk].why) for r in pending if capacities[r.pk].stuck]


def _consent_counts(application: Application, reviews, viewer) -> list:
    """What the subjects' consents allow, for the reviews the viewer takes part in (every
    review for the access body): the same check as the reviews themselves."""
    if not viewer.sees_internal:
        return []
    mine = [r for r in reviews if viewer.is_admin or r.committee_id in viewer.committees]
    if not mine:
        return []
    counts = selectors.consent_counts(application, mine)
    return [count for review in mine for count in counts.get(review.pk, [])]


def _render_detail(request, application: Application, *, failed=None, missing=None):
    """The application page. ``failed`` holds bound forms a refused action sends back."""
    user = request.user
    failed = failed or {}
    now = timezone.now()
    reviews = list(
        application.reviews.select_related("committee", "decided_by").order_by("committee__name")
    )
    viewer = selectors.application_viewer(user, application, reviews)
    is_applicant, sees_internal = viewer.is_applicant, viewer.sees_internal

    comments = selectors.visible_comments(user, application)

    def form(kind, form_class):
        return failed.get(kind) or form_class(auto_id=f"{kind}-%s")

    decision_due = application.decision_due
    is_open = application.status in Application.OPEN
    may_answer = is_applicant and application.status == Application.Status.CLARIFICATION
    may_write = is_applicant and application.status != Application.Status.DRAFT
    may_extend = (
        not viewer.is_party
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
            _review_panel(user, application, r, failed)
            for r in reviews
            if r.committee_id in viewer.committees
        ],
        # Why nobody may vote on or decide a review (the committees' side only).
        "stuck": _stuck_reasons(reviews) if sees_internal and is_open else [],
        "consent_counts": _consent_counts(application, reviews, viewer),
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
                    "new": _day(services.months_later(application.decision_due,
                                                        services.EXTENSION_PERIOD)),
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
