"""Writes on committee reviews: conflicts, comments, clarification requests, votes under each
committee's rule and the chair's decision, which concludes the application and issues permits.

Nobody reviews their own application: every action checks ``access.permissions.may_review`` (or
``may_chair``), which leaves out the applicant and their team.
"""

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access import notifications
from access.audit_actions import APPLICATION_DECIDED, REVIEW_DECIDED
from access.models import (
    Application,
    ApplicationDataset,
    Clarification,
    Comment,
    Committee,
    ConflictOfInterest,
    RefusalGround,
    Review,
    Vote,
)
from access.permissions import (
    is_conflicted,
    is_member,
    is_party,
    may_chair,
    may_review,
)
from access.selectors import (
    ReviewCapacity,
    review_capacities,
    review_capacity,
)
from access.services.common import (
    COMPLETION_PERIOD,
    InvalidTransition,
    NotPermitted,
    _lock,
    _record,
)
from access.services.exclusions import exclusions_follow_permit
from access.services.permits import _permit_issue, check_permit_end
from portal.models import User

# --- Review ---------------------------------------------------------------------------------


def _alert_if_stuck(reviews: Iterable[Review]) -> None:
    """Tell the access body about reviews nobody may vote on or decide any more."""
    pending = [r for r in reviews if r.status == Review.Status.PENDING]
    for review, capacity in review_capacities(pending).items():
        if capacity.stuck:
            notifications.review_stuck(next(r for r in pending if r.pk == review), capacity.why)


def _require_member(review: Review, actor: User) -> None:
    if not may_review(actor, review):
        if is_party(actor, review.application):
            raise NotPermitted(_("You cannot take part in the review of your own application."))
        raise NotPermitted(_("Only members of %s can do this.") % review.committee)


def _require_no_conflict(review: Review, actor: User) -> None:
    """A member who declared a conflict takes no further part in the review."""
    if is_conflicted(actor, review):
        raise NotPermitted(
            _("You declared a conflict of interest and take no further part in this review.")
        )


def _start_review(application: Application, actor: User) -> None:
    """The first committee action moves a submitted application under review."""
    if application.status == Application.Status.SUBMITTED:
        application.transition_to(Application.Status.UNDER_REVIEW)
        application.save(update_fields=["status", "updated_at"])
        _record("access.application.under_review", actor, application)


def _open_review(review: Review, actor: User) -> tuple[Application, Review]:
    application = _lock(review.application)
    review = Review.objects.select_for_update().get(pk=review.pk)
    _require_member(review, actor)
    if application.status not in Application.OPEN or review.status != Review.Status.PENDING:
        raise InvalidTransition(_("This review is closed."))
    return application, review


@transaction.atomic
def conflict_declare(*, review: Review, actor: User, note: str = "") -> ConflictOfInterest:
    """A member declares a conflict of interest; any vote they cast is withdrawn. The conflict
    is recorded even while the applicant answers a clarification; the remaining votes are then
    counted when the answer arrives (``evaluate_after_answer``)."""
    application, review = _open_review(review, actor)
    conflict, created = ConflictOfInterest.objects.get_or_create(
        review=review, member=actor, defaults={"note": note}
    )
    if created:
        withdrawn = Vote.objects.filter(review=review, member=actor).first()
        if withdrawn is not None:
            withdrawn.delete()
        _record(
            "access.review.conflict_declared",
            actor,
            application,
            committee=review.committee_id,
            # The vote the member had cast, withdrawn with the declaration (None: no vote).
            vote_withdrawn=withdrawn.choice if withdrawn else None,
        )
        _start_review(application, actor)
        _evaluate_votes(application, review, actor)
        _alert_if_stuck([review])
    return conflict


@transaction.atomic
def comment_add(
    *, application: Application, actor: User, body: str, visible_to_applicant: bool,
    committee: Committee | None = None,
) -> Comment:  # fmt: skip
    """A committee member comments (internal or for the applicant), or the applicant replies
    (always visible to the committees)."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write something.")})
    locked = _lock(application)
    if actor.pk == locked.applicant_id:
        committee, visible_to_applicant = None, True
    elif committee is None or not is_member(actor, committee) or is_party(actor, locked):
        raise NotPermitted(
            _("Only the applicant or a member of a reviewing committee can comment.")
        )
    else:
        review = locked.reviews.filter(committee=committee).first()
        if review is None:
            raise ValidationError(_("This committee does not review this application."))
        _require_no_conflict(review, actor)
    if locked.status == Application.Status.DRAFT:
        raise InvalidTransition(_("Comments open when the application is submitted."))
    comment = Comment.objects.create(
        application=locked,
        committee=committee,
        author=actor,
        body=body,
        visible_to_applicant=visible_to_applicant,
    )
    _record(
        "access.comment.added",
        actor,
        locked,
        comment=comment.pk,
        visible_to_applicant=visible_to_applicant,
    )
    if committee is not None:
        _start_review(locked, actor)
    if committee is None:
        notifications.comment_from_applicant(comment)
    elif visible_to_applicant:
        notifications.comment_for_applicant(comment)
    return comment


@transaction.atomic
def clarification_request(
    *, review: Review, actor: User, question: str, incomplete: bool = False
) -> Clarification:
    """Ask the applicant a question. The application waits in "clarification requested".
    If the application is incomplete (Art 68(4)), the decision clock stops and the applicant
    has four weeks to complete it."""
    question = (question or "").strip()
    if not question:
        raise ValidationError({"question": _("Write the question for the applicant.")})
    application, review = _open_review(review, actor)
    _require_no_conflict(review, actor)
    # Another committee may already be waiting for an answer: the questions then queue up
    # and the applicant answers them together.
    if application.status != Application.Status.CLARIFICATION:
        application.transition_to(Application.Status.CLARIFICATION)
    fields = ["status", "updated_at"]
    if incomplete:
        application.completion_due = timezone.now() + COMPLETION_PERIOD
        application.decision_due = None
        fields += ["completion_due", "decision_due"]
    application.save(update_fields=fields)
    clarification = Clarification.objects.create(
        application=application,
        committee=review.committee,
        requested_by=actor,
        question=question,
        incomplete=incomplete,
    )
    _record(
        "access.application.clarification_requested",
        actor,
        application,
        committee=review.committee_id,
        incomplete=incomplete,
    )
    notifications.clarification_requested(clarification)
    return clarification


@transaction.atomic
def vote_cast(*, review: Review, actor: User, choice: str, reason: str = "") -> Vote:
    """A member votes; conflicted members cannot. Under the majority or unanimity rule the
    vote that settles the outcome decides the review."""
    application, review = _open_review(review, actor)
    if choice not in Vote.Choice.values:
        raise ValidationError({"choice": _("Vote approve, reject or abstain.")})
    if choice == Vote.Choice.REJECT and not (reason or "").strip():
        raise ValidationError({"reason": _("Give the reasons for rejecting.")})
    if ConflictOfInterest.objects.filter(review=review, member=actor).exists():
        raise ValidationError(_("You declared a conflict of interest and cannot vote."))
    if application.status == Application.Status.CLARIFICATION:
        raise InvalidTransition(_("Votes wait until the applicant has answered."))
    vote, _created = Vote.objects.update_or_create(
        review=review, member=actor, defaults={"choice": choice, "reason": reason.strip()}
    )
    _record("access.review.voted", actor, application, committee=review.committee_id, choice=choice)
    _start_review(application, actor)
    _evaluate_votes(application, review, actor)
    return vote


# What ``tally`` answers: "eligible" and "cast" (numbers of members), a count per vote choice
# ("approve", "reject", "abstain"), "votes" (member id → Vote), "voters" (member ids) and
# "capacity" (ReviewCapacity). The page, the API and ``decisive_votes`` read it by key, the
# last one with keys it computes, which a TypedDict does not allow.
type Tally = dict[str, Any]


def tally(review: Review, capacity: ReviewCapacity | None = None) -> Tally:
    """Who may vote (members neither conflicted nor a party to the application), and the
    votes cast by them."""
    capacity = capacity or review_capacity(review)
    eligible = capacity.voters
    votes = {
        v.member_id: v for v in review.votes.all() if v.member_id in eligible
    }  # fmt: skip
    counts = {c: sum(1 for v in votes.values() if v.choice == c) for c in Vote.Choice.values}
    return {
        "eligible": len(eligible),
        "cast": len(votes),
        "votes": votes,
        "voters": eligible,
        "capacity": capacity,
        **counts,
    }


def settled_outcome(rule: str, t: Tally) -> Review.Status | None:
    """The outcome the votes in tally ``t`` settle under ``rule``, or None while open. The
    chair rule is settled by the chair's decision, never by votes."""
    if rule == Committee.DecisionRule.CHAIR or t["eligible"] == 0:
        return None
    if rule == Committee.DecisionRule.MAJORITY:
        if t["approve"] * 2 > t["eligible"]:
            return Review.Status.APPROVED
        if (t["approve"] + t["eligible"] - t["cast"]) * 2 <= t["eligible"]:
            return Review.Status.REJECTED
    elif rule == Committee.DecisionRule.UNANIMOUS:
        if t["reject"]:
            return Review.Status.REJECTED
        if t["approve"] == t["eligible"]:
            return Review.Status.APPROVED
        if t["cast"] == t["eligible"]:
            return Review.Status.REJECTED  # abstentions: no unanimous approval
    return None


def decisive_votes(review: Review, voter: User, t: Tally | None = None) -> dict[str, Review.Status]:
    """The votes by ``voter`` that would on their own become the committee's final decision:
    choice → the outcome it would settle. Members are warned before casting such a vote (the
    only member who may vote, or the vote that reaches the majority)."""
    t = t or tally(review)
    if review.status != Review.Status.PENDING or voter.pk not in t["voters"]:
        return {}
    rule = review.committee.decision_rule
    previous = t["votes"].get(voter.pk)
    decisive = {}
    for choice in Vote.Choice.values:
        after = dict(t)
        if previous is not None:
            after[previous.choice] -= 1
        else:
            after["cast"] += 1
        after[choice] += 1
        outcome = settled_outcome(rule, after)
        if outcome is not None:
            decisive[choice] = outcome
    return decisive


def _evaluate_votes(application: Application, review: Review, actor: User | None) -> None:
    """Decide ``review`` if its votes settle it under the committee's rule. Nothing is decided
    while the applicant is answering a clarification (neither votes nor decisions are taken
    then); the votes are counted again when the answer arrives."""
    if application.status == Application.Status.CLARIFICATION or review.status != (
        Review.Status.PENDING
    ):
        return
    rule = review.committee.decision_rule
    t = tally(review)
    outcome = settled_outcome(rule, t)
    if outcome is None:
        return
    reasons = "\n".join(
        v.reason for v in t["votes"].values() if v.choice == Vote.Choice.REJECT and v.reason
    )
    if outcome == Review.Status.REJECTED and not reasons:
        reasons = (
            _("No unanimous approval.")
            if rule == Committee.DecisionRule.UNANIMOUS
            else _("No majority approved.")
        )
    _decide(application, review, actor, outcome, reason=reasons, via=rule)


def evaluate_after_answer(application: Application) -> None:
    """Once the applicant has answered, count again the votes of every pending review: a
    conflict declared or a member removed while the answer was awaited may have settled one.
    The decision is the votes' (no person's), as when a vote settles it."""
    for review in application.reviews.filter(status=Review.Status.PENDING).select_related(
        "committee"
    ):
        _evaluate_votes(application, review, None)
        if application.status not in Application.OPEN:
            break


@transaction.atomic
def review_terms_set(
    *, review: Review, actor: User, conditions: str = "", ends_on: date | None = None
) -> Review:
    """The chair records the permit's conditions and end date before or while the members
    vote: under the majority or unanimity rule the vote that settles an approval issues the
    permit at once, with these terms (a decision by the chair may restate them). A date that
    has passed by then gives way to the requested processing period."""
    application, review = _open_review(review, actor)
    if not may_chair(actor, review):
        raise NotPermitted(_("Only the chair of %s can set the permit's terms.") % review.committee)
    _require_no_conflict(review, actor)
    if ends_on is not None:
        check_permit_end(timezone.localdate(), ends_on)
    review.conditions = (conditions or "").strip()
    review.permit_ends_on = ends_on
    review.save(update_fields=["conditions", "permit_ends_on"])
    _record(
        "access.review.terms_set",
        actor,
        application,
        committee=review.committee_id,
        conditions=review.conditions,
        ends_on=ends_on,
    )
    return review


def reevaluate_committee(committee: Committee) -> None:
    """Count again the votes of ``committee``'s pending reviews after its members or its
    decision rule changed: the votes already cast may now settle a review (the last member who
    had not voted left). Reviews nobody may decide any more are flagged to the access body."""
    pending = Review.objects.filter(
        committee=committee,
        status=Review.Status.PENDING,
        application__status__in=Application.OPEN,
    )
    for pk, application_pk in pending.values_list("pk", "application_id").order_by("pk"):
        application = Application.objects.select_for_update().get(pk=application_pk)
        review = Review.objects.select_for_update().select_related("committee").get(pk=pk)
        _evaluate_votes(application, review, None)
    _alert_if_stuck(pending.select_related("application", "committee"))


@transaction.atomic
def review_decide(
    *, review: Review, actor: User, approve: bool, reason: str = "", conditions: str = "",
    ends_on: date | None = None, ground: str = "",
) -> Review:  # fmt: skip
    """The chair decides for the committee (under every rule the chair may close a review
    the votes did not settle). Rejection needs reasons; ``ground`` names the Art 68 criterion
    it rests on (a ``RefusalGround``, optional), which the access body's figures count."""
    application, review = _open_review(review, actor)
    if not may_chair(actor, review):
        raise NotPermitted(_("Only the chair of %s can decide.") % review.committee)
    if ConflictOfInterest.objects.filter(review=review, member=actor).exists():
        raise ValidationError(_("You declared a conflict of interest and cannot decide."))
    if application.status == Application.Status.CLARIFICATION:
        raise InvalidTransition(_("The decision waits until the applicant has answered."))
    reason = (reason or "").strip()
    if not approve and not reason:
        raise ValidationError({"reason": _("Give the reasons for rejecting.")})
    ground = "" if approve else (ground or "")
    if ground and ground not in RefusalGround.values:
        raise ValidationError({"ground": _("Choose one of the grounds of Article 68.")})
    if ends_on is not None:
        check_permit_end(timezone.localdate(), ends_on)
    # Terms the chair recorded earlier (review_terms_set) stand unless restated here.
    review.conditions = (conditions or "").strip() or review.conditions
    review.permit_ends_on = (ends_on or review.permit_ends_on) if approve else None
    _start_review(application, actor)
    outcome = Review.Status.APPROVED if approve else Review.Status.REJECTED
    _decide(application, review, actor, outcome, reason=reason, via="chair", ground=ground)
    return review


def _decide(
    application: Application,
    review: Review,
    actor: User | None,
    outcome: Review.Status,
    *,
    reason: str,
    via: str,
    ground: str = "",
) -> None:
    review.transition_to(outcome)
    review.reason = reason
    review.decided_by = actor
    review.decided_at = timezone.now()
    review.save(
        update_fields=["status", "reason", "conditions", "permit_ends_on", "decided_by",
                       "decided_at"]
    )  # fmt: skip
    decision = (
        ApplicationDataset.Decision.APPROVED
        if outcome == Review.Status.APPROVED
        else ApplicationDataset.Decision.REJECTED
    )
    review.items.update(decision=decision)
    _record(
        REVIEW_DECIDED[outcome],
        actor,
        application,
        committee=review.committee_id,
        reason=reason,
        rule=via,
        ground=ground,
    )
    _conclude_if_decided(application, actor)


def _conclude_if_decided(application: Application, actor: User | None) -> None:
    if application.reviews.filter(status=Review.Status.PENDING).exists():
        return
    decisions = set(application.items.values_list("decision", flat=True))
    if decisions == {ApplicationDataset.Decision.APPROVED}:
        outcome = Application.Status.APPROVED
    elif ApplicationDataset.Decision.APPROVED in decisions:
        outcome = Application.Status.PARTIALLY_APPROVED
    else:
        outcome = Application.Status.REJECTED
    application.transition_to(outcome)
    application.decided_at = timezone.now()
    application.save(update_fields=["status", "decided_at", "updated_at"])
    _record(
        APPLICATION_DECIDED[outcome],
        actor,
        application,
        # For the access body's figures (access.figures), read from the chain.
        purpose=application.purpose,
        datasets=sorted(
            application.items.filter(decision=ApplicationDataset.Decision.APPROVED).values_list(
                "dataset_id", flat=True
            )
        ),
        decision_due=application.decision_due,
    )
    permits = [
        _permit_issue(application, review, actor)
        for review in application.reviews.filter(status=Review.Status.APPROVED)
    ]
    for permit in permits:  # the nodes learn whose consent allows its use
        exclusions_follow_permit(permit=permit)
    notifications.application_decided(application, permits)
