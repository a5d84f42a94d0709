"""A committee member's actions on a review: conflict, vote, clarification, comment, and the
chair's decision, each confirmed first when it cannot be undone.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from access import forms, selectors, services
from access.models import (
    Application,
    InvalidTransition,
    Permit,
    Review,
    TeamMember,
    Vote,
)
from access.views.common import (
    _auto_id,
    _confirm,
    _day,
    _listed,
    _named,
    _refused,
)
from access.views.page import _render_detail
from portal.confirm import Confirmation, is_confirmed, wants_change
from portal.forms import show_refusal

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
            ground=data["ground"],
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
