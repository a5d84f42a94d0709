"""Every write on applications, reviews and permits.

Each state change runs in a transaction, takes a row lock on the application (or permit) first,
checks the transition against the model's ``ALLOWED_TRANSITIONS``, and appends an audit event
with the actor and reason. Racing requests therefore end in exactly one outcome: the second one
sees the state the first left and is refused with InvalidTransition.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access import notifications
from access.audit_actions import APPLICATION_DECIDED, REVIEW_DECIDED
from access.models import (
    PUBLIC_SECTOR_PURPOSES,
    Application,
    ApplicationDataset,
    Clarification,
    Comment,
    Committee,
    ConflictOfInterest,
    InvalidTransition,
    Permit,
    Purpose,
    Review,
    TeamMember,
    Vote,
)
from access.permissions import (
    grant_membership,
    is_member,
    is_party,
    may_chair,
    may_change_permit,
    may_extend_deadline,
    may_review,
)
from access.selectors import (
    governing_committees,
    open_party_reviews,
    review_capacities,
    review_capacity,
)
from catalogue import duo
from catalogue.models import BasketItem, Dataset
from catalogue.selectors import visible_datasets
from portal.audit import audit_record
from portal.models import Role, User

DECISION_PERIOD = timedelta(days=91)  # three months, Art 68(4)
EXTENSION_PERIOD = timedelta(days=91)  # once, by three more months
COMPLETION_PERIOD = timedelta(weeks=4)  # to complete an incomplete application

# Fields the applicant fills in (everything else is set by the workflow).
APPLICANT_FIELDS = [
    "title", "organisation", "public_sector_body", "purpose", "purpose_description",
    "duo_codes", "disease_codes", "commercial", "intended_use", "expected_benefit",
    "data_from", "data_to", "data_form", "pseudonymisation_justification", "legal_basis",
    "safeguards", "processing_months", "processing_justification", "tools",
    "ethics_approval", "ethics_not_required", "prohibited_uses_confirmed",
]  # fmt: skip


class NotPermitted(PermissionDenied):
    """The person may see the object but not take this action (403, not 404)."""


class IncompleteApplication(ValidationError):
    """Submission refused; ``messages`` lists every missing or invalid item."""


def _lock(application: Application) -> Application:
    return Application.objects.select_for_update().get(pk=application.pk)


def _record(action: str, actor, obj, **details):
    return audit_record(action, actor=actor, obj=obj, details=details)


# --- Drafting -------------------------------------------------------------------------------


@transaction.atomic
def application_create(*, applicant: User, title: str, datasets=None) -> Application:
    """Start a draft from the applicant's basket (or the given datasets)."""
    if not applicant.has_role(Role.RESEARCHER):
        raise NotPermitted(_("Only researchers can apply for data access."))
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("Give the project a title.")})
    if datasets is None:
        datasets = visible_datasets(applicant).filter(
            pk__in=BasketItem.objects.filter(user=applicant).values("dataset"),
            status=Dataset.Status.PUBLISHED,
        )
    else:
        visible = visible_datasets(applicant).filter(status=Dataset.Status.PUBLISHED)
        wanted = {d.pk for d in datasets}
        datasets = list(visible.filter(pk__in=wanted))
        if len(datasets) != len(wanted):
            raise ValidationError({"datasets": _("Choose published datasets of the catalogue.")})
    datasets = list(datasets)
    if not datasets:
        raise ValidationError(_("Put at least one published dataset in your basket first."))
    application = Application.objects.create(
        applicant=applicant, title=title[:300], organisation=applicant.organisation
    )
    ApplicationDataset.objects.bulk_create(
        [ApplicationDataset(application=application, dataset=d) for d in datasets]
    )
    _record(
        "access.application.created",
        applicant,
        application,
        datasets=[d.pk for d in datasets],
    )
    return application


def _validate_fields(application: Application) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    unknown = [c for c in application.duo_codes if c not in duo.BY_CODE]
    if unknown:
        errors["duo_codes"] = [_("Unknown DUO codes: %s") % ", ".join(unknown)]
    if application.purpose and application.purpose not in Purpose.values:
        errors["purpose"] = [_("Choose one of the purposes of EHDS Article 53(1).")]
    if (
        application.data_from
        and application.data_to
        and application.data_from > application.data_to
    ):
        errors["data_to"] = [_("The end of the time range is before its start.")]
    if application.processing_months is not None and not 1 <= application.processing_months <= 120:
        errors["processing_months"] = [_("Between 1 and 120 months (at most 10 years).")]
    return errors


@transaction.atomic
def application_update(*, application: Application, actor: User, **fields) -> Application:
    """Save a draft (or an answer to a clarification). Partial drafts are fine; values that are
    wrong in themselves (an unknown DUO code, an inverted date range) are refused, and nothing
    is saved when anything is refused."""
    unknown = set(fields) - set(APPLICANT_FIELDS)
    if unknown:
        raise ValidationError({f: _("cannot be changed here") for f in sorted(unknown)})
    locked = _lock(application)
    if locked.applicant_id != actor.pk:
        raise NotPermitted(_("Only the applicant can change an application."))
    if locked.status not in (Application.Status.DRAFT, Application.Status.CLARIFICATION):
        raise InvalidTransition(_("The application can no longer be changed."))
    replaced_file = locked.ethics_approval.name if "ethics_approval" in fields else ""
    changed = []
    for field, value in fields.items():
        if getattr(locked, field) != value:
            setattr(locked, field, value)
            changed.append(field)
    errors = _validate_fields(locked)
    if errors:
        raise ValidationError(errors)
    if changed:
        locked.save()
        if replaced_file and replaced_file != locked.ethics_approval.name:
            # The superseded document goes once the new one is committed.
            storage = locked.ethics_approval.storage
            transaction.on_commit(lambda: storage.delete(replaced_file))
        _record("access.application.updated", actor, locked, fields=sorted(changed))
    return locked


@transaction.atomic
def application_set_datasets(*, application: Application, actor: User, datasets) -> Application:
    """Change the requested datasets of a draft."""
    locked = _lock(application)
    if locked.applicant_id != actor.pk or locked.status != Application.Status.DRAFT:
        raise InvalidTransition(_("Only a draft's applicant can change its datasets."))
    wanted = {d.pk for d in datasets}
    if not wanted:
        raise ValidationError({"datasets": _("Keep at least one dataset.")})
    current = set(locked.items.values_list("dataset_id", flat=True))
    locked.items.filter(dataset_id__in=current - wanted).delete()
    ApplicationDataset.objects.bulk_create(
        [ApplicationDataset(application=locked, dataset_id=pk) for pk in wanted - current]
    )
    _record("access.application.datasets_changed", actor, locked, datasets=sorted(wanted))
    return locked


def _invitation_limit_refusal(actor: User) -> str | None:
    """Why ``actor`` may send no invitation now, or None. The limits (INVITATIONS_PER_HOUR,
    INVITATIONS_PER_DAY) count the invitations stored for all the researcher's applications
    in the last hour and the last 24 hours, so they hold whichever worker answers; the caller
    holds the researcher's row lock, so two requests cannot both take the last one."""
    from django.conf import settings

    now = timezone.now()
    sent = TeamMember.objects.filter(application__applicant=actor)
    for window, limit, message in [
        (
            timedelta(hours=1),
            settings.INVITATIONS_PER_HOUR,
            _("You have sent %(limit)s invitations in the last hour, the most allowed."),
        ),
        (
            timedelta(days=1),
            settings.INVITATIONS_PER_DAY,
            _("You have sent %(limit)s invitations in the last 24 hours, the most allowed."),
        ),
    ]:
        recent = sent.filter(invited_at__gt=now - window).order_by("-invited_at")
        times = list(recent.values_list("invited_at", flat=True)[:limit])
        if len(times) >= limit:
            free_at = timezone.localtime(times[-1] + window)
            return " ".join(
                [
                    message % {"limit": limit},
                    _("Nothing was sent. You can invite again after %(time)s.")
                    % {"time": f"{free_at:%Y-%m-%d %H:%M %Z}"},
                ]
            )
    return None


@transaction.atomic
def team_invite(*, application: Application, actor: User, email: str, role: str = "") -> TeamMember:
    """Name a person who will get access; they are emailed and must accept. A researcher sends
    a limited number of invitations an hour and a day (``_invitation_limit_refusal``); past
    the limit nothing is stored or sent."""
    from django.core.validators import validate_email

    locked = _lock(application)
    if locked.applicant_id != actor.pk or locked.status not in (
        Application.Status.DRAFT,
        Application.Status.CLARIFICATION,
    ):
        raise InvalidTransition(_("Team members can be invited while drafting or clarifying."))
    email = (email or "").strip().lower()
    validate_email(email)
    if locked.team.filter(email=email).exists():
        raise ValidationError({"email": _("%s is already invited.") % email})
    # One researcher's invitations are counted one request at a time.
    User.objects.select_for_update().only("pk").get(pk=actor.pk)
    refusal = _invitation_limit_refusal(actor)
    if refusal:
        raise ValidationError({"email": ValidationError(refusal, code="too_many_invitations")})
    member = TeamMember.objects.create(application=locked, email=email, role=role[:100])
    _record("access.team.invited", actor, locked, member=member.pk)
    notifications.team_invited(member)
    return member


@transaction.atomic
def team_answer(*, token: str, user: User, accept: bool) -> TeamMember:
    """The invited person accepts or declines. The invitation is bound to their email."""
    try:
        member = TeamMember.objects.select_for_update().get(token=token)
    except TeamMember.DoesNotExist:
        raise ValidationError(_("This invitation does not exist.")) from None
    if member.email.lower() != (user.email or "").lower():
        raise ValidationError(_("This invitation was sent to another email address."))
    if member.status != TeamMember.Status.INVITED:
        raise InvalidTransition(_("This invitation was answered already."))
    if member.application.status not in (Application.Status.DRAFT, *Application.OPEN):
        raise InvalidTransition(_("The application is closed; the invitation has lapsed."))
    member.status = TeamMember.Status.ACCEPTED if accept else TeamMember.Status.DECLINED
    member.user = user
    member.answered_at = timezone.now()
    member.save(update_fields=["status", "user", "answered_at"])
    _record(
        "access.team.accepted" if accept else "access.team.declined",
        user,
        member.application,
        member=member.pk,
    )
    return member


# --- Submission -----------------------------------------------------------------------------


def missing_items(application: Application) -> list[str]:
    """Everything that stops ``application`` from being submitted, in the form's order."""
    a = application
    missing = []

    def need(condition, message):
        if not condition:
            missing.append(message)

    need(a.title.strip(), _("a project title"))
    need(a.organisation.strip(), _("the applicant organisation"))
    need(a.purpose, _("a purpose from EHDS Article 53(1)"))
    if a.purpose in PUBLIC_SECTOR_PURPOSES:
        need(
            a.public_sector_body,
            _("purposes (a) to (c) are reserved for public sector bodies (Article 53(2))"),
        )
    need(a.purpose_description.strip(), _("a description of the research purpose"))
    need(a.duo_codes, _("at least one DUO code describing the use"))
    need(a.intended_use.strip(), _("the intended use of the data"))
    need(a.expected_benefit.strip(), _("the expected benefit"))
    need(a.data_form, _("whether the data are needed anonymised or pseudonymised"))
    if a.data_form == Application.DataForm.PSEUDONYMISED:
        need(
            a.pseudonymisation_justification.strip(),
            _("why anonymised data are not enough (pseudonymised data)"),
        )
        need(a.legal_basis.strip(), _("the GDPR Article 6(1) legal basis (pseudonymised data)"))
    need(a.safeguards.strip(), _("safeguards against misuse and re-identification"))
    need(a.processing_months, _("the processing period in the secure processing environment"))
    need(a.tools.strip(), _("the tools and computing resources"))
    need(
        a.ethics_approval or a.ethics_not_required.strip(),
        _("an ethics approval document, or why none is needed"),
    )
    need(a.prohibited_uses_confirmed, _("confirmation that no Article 54 prohibited use applies"))
    items = list(a.items.select_related("dataset__node"))
    need(items, _("at least one dataset"))
    for item in items:
        if item.dataset.status != Dataset.Status.PUBLISHED:
            missing.append(_("dataset “%s” is no longer published") % item.dataset.title)
        elif not governing_committees(item.dataset).exists():
            missing.append(_("no committee governs dataset “%s” yet") % item.dataset.title)
        elif governing_committees(item.dataset).count() > 1:
            missing.append(_("dataset “%s” is governed by several committees") % item.dataset.title)
    for member in a.team.filter(status=TeamMember.Status.INVITED):
        missing.append(_("%s has not answered the invitation yet") % member.email)
    errors = _validate_fields(a)
    missing += [m for messages in errors.values() for m in messages]
    return missing


def _prescreen(application: Application) -> None:
    from access.prescreen import Request, screen

    request = Request(
        purpose=application.purpose,
        duo_codes=frozenset(application.duo_codes),
        commercial=application.commercial,
        disease_codes=frozenset(application.disease_codes),
        has_ethics_approval=bool(application.ethics_approval),
        institution=application.organisation,
    )
    for item in application.items.select_related("dataset"):
        verdict = screen(request, item.dataset.duo_codes, item.dataset.conditions)
        item.prescreen_outcome = verdict.outcome
        item.prescreen_findings = [
            {"code": f.code, "outcome": f.outcome, "rule": f.rule} for f in verdict.findings
        ]
        item.save(update_fields=["prescreen_outcome", "prescreen_findings"])


@transaction.atomic
def application_submit(*, application: Application, actor: User) -> Application:
    """Submit a complete draft: route each dataset to its committee, start the three-month
    clock, pre-screen, and tell the committees. An incomplete draft is refused with the list
    of what is missing, and nothing changes."""
    locked = _lock(application)
    if locked.applicant_id != actor.pk:
        raise NotPermitted(_("Only the applicant can submit an application."))
    if not locked.can_transition_to(Application.Status.SUBMITTED):
        raise InvalidTransition(_("Only a draft can be submitted."))
    missing = missing_items(locked)
    if missing:
        raise IncompleteApplication(missing)
    now = timezone.now()
    locked.transition_to(Application.Status.SUBMITTED)
    locked.submitted_at = locked.complete_at = now
    locked.decision_due = now + DECISION_PERIOD
    locked.save()
    for item in locked.items.select_related("dataset"):
        committee = governing_committees(item.dataset).get()
        review, _created = Review.objects.get_or_create(application=locked, committee=committee)
        item.review = review
        item.save(update_fields=["review"])
    _prescreen(locked)
    _record(
        "access.application.submitted",
        actor,
        locked,
        committees=sorted(locked.reviews.values_list("committee_id", flat=True)),
        decision_due=locked.decision_due,
    )
    notifications.application_submitted(locked)
    _alert_if_stuck(locked.reviews.select_related("application", "committee"))
    return locked


@transaction.atomic
def application_withdraw(*, application: Application, actor: User, reason: str = "") -> Application:
    locked = _lock(application)
    if locked.applicant_id != actor.pk:
        raise NotPermitted(_("Only the applicant can withdraw an application."))
    old = locked.transition_to(Application.Status.WITHDRAWN)
    locked.save(update_fields=["status", "updated_at"])
    for review in locked.reviews.filter(status=Review.Status.PENDING):
        review.transition_to(Review.Status.CLOSED)
        review.save(update_fields=["status"])
    _record("access.application.withdrawn", actor, locked, reason=reason, previous=old)
    if old != Application.Status.DRAFT:
        notifications.application_withdrawn(locked)
    return locked


# --- Review ---------------------------------------------------------------------------------


def _alert_if_stuck(reviews) -> None:
    """Tell the access body about reviews nobody may vote on or decide any more."""
    reviews = [r for r in reviews if r.status == Review.Status.PENDING]
    for review, capacity in review_capacities(reviews).items():
        if capacity.stuck:
            notifications.review_stuck(next(r for r in reviews if r.pk == review), capacity.why)


def _require_member(review: Review, actor: User) -> None:
    if not may_review(actor, review):
        if is_party(actor, review.application):
            raise NotPermitted(_("You cannot take part in the review of your own application."))
        raise NotPermitted(_("Only members of %s can do this.") % review.committee)


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
    """A member declares a conflict of interest; any vote they cast is withdrawn."""
    application, review = _open_review(review, actor)
    conflict, created = ConflictOfInterest.objects.get_or_create(
        review=review, member=actor, defaults={"note": note}
    )
    if created:
        Vote.objects.filter(review=review, member=actor).delete()
        _record(
            "access.review.conflict_declared", actor, application, committee=review.committee_id
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
    elif not locked.reviews.filter(committee=committee).exists():
        raise ValidationError(_("This committee does not review this application."))
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
    if visible_to_applicant and committee is not None:
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
def clarification_answer(*, application: Application, actor: User, answer: str) -> Application:
    """The applicant answers the open questions and resubmits. If the application had been
    found incomplete, the three-month clock starts again from now."""
    answer = (answer or "").strip()
    if not answer:
        raise ValidationError({"answer": _("Write your answer.")})
    locked = _lock(application)
    if locked.applicant_id != actor.pk:
        raise NotPermitted(_("Only the applicant can answer."))
    if locked.status != Application.Status.CLARIFICATION:
        raise InvalidTransition(_("No clarification is awaiting an answer."))
    missing = missing_items(locked)
    if missing:
        raise IncompleteApplication(missing)
    now = timezone.now()
    open_questions = locked.clarifications.filter(answered_at__isnull=True)
    was_incomplete = open_questions.filter(incomplete=True).exists()
    open_questions.update(answer=answer, answered_at=now)
    locked.transition_to(Application.Status.UNDER_REVIEW)
    if was_incomplete:
        locked.complete_at = now
        locked.decision_due = now + DECISION_PERIOD
        locked.completion_due = None
    locked.save()
    _prescreen(locked)
    _record(
        "access.application.clarification_answered", actor, locked, restarted_clock=was_incomplete
    )
    notifications.clarification_answered(locked)
    return locked


@transaction.atomic
def deadline_extend(*, application: Application, actor: User, reason: str) -> Application:
    """Extend the decision deadline once by three months (Art 68(4)), with a recorded reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the deadline is extended.")})
    locked = _lock(application)
    if not may_extend_deadline(actor, locked):
        raise NotPermitted(_("Only a reviewing committee's chair or the access body can extend."))
    if locked.status not in Application.OPEN or locked.decision_due is None:
        raise InvalidTransition(_("Only an open application with a running clock can be extended."))
    if locked.extended:
        raise InvalidTransition(_("The deadline was extended once already."))
    locked.decision_due += EXTENSION_PERIOD
    locked.extended = True
    locked.extension_reason = reason
    locked.save(update_fields=["decision_due", "extended", "extension_reason", "updated_at"])
    _record("access.application.deadline_extended", actor, locked, reason=reason,
            decision_due=locked.decision_due)  # fmt: skip
    notifications.deadline_extended(locked)
    return locked


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


def tally(review: Review, capacity=None) -> dict:
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


def settled_outcome(rule: str, t: dict) -> str | None:
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


def decisive_votes(review: Review, voter: User, t: dict | None = None) -> dict[str, str]:
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


def _evaluate_votes(application: Application, review: Review, actor: User) -> None:
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


@transaction.atomic
def review_decide(
    *, review: Review, actor: User, approve: bool, reason: str = "", conditions: str = "",
    ends_on: date | None = None,
) -> Review:  # fmt: skip
    """The chair decides for the committee (under every rule the chair may close a review
    the votes did not settle). Rejection needs reasons."""
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
    if ends_on is not None:
        _check_permit_end(timezone.localdate(), ends_on)
    review.conditions = (conditions or "").strip()
    review.permit_ends_on = ends_on if approve else None
    _start_review(application, actor)
    outcome = Review.Status.APPROVED if approve else Review.Status.REJECTED
    _decide(application, review, actor, outcome, reason=reason, via="chair")
    return review


def _check_permit_end(starts_on: date, ends_on: date) -> None:
    latest = _add_years(starts_on, Permit.MAX_YEARS)
    if ends_on <= starts_on:
        raise ValidationError({"ends_on": _("The permit must end after it starts.")})
    if ends_on > latest:
        raise ValidationError({"ends_on": _("A permit lasts at most 10 years (Art 68(12)).")})


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _decide(application, review, actor, outcome, *, reason, via) -> None:
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
    )
    _conclude_if_decided(application, actor)


def _conclude_if_decided(application: Application, actor: User) -> None:
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
    _record(APPLICATION_DECIDED[outcome], actor, application)
    permits = [
        _permit_issue(application, review, actor)
        for review in application.reviews.filter(status=Review.Status.APPROVED)
    ]
    notifications.application_decided(application, permits)


# --- Permits --------------------------------------------------------------------------------


def _permit_number(application: Application, review: Review) -> str:
    return f"EHDS-{timezone.now():%Y}-{application.pk:05d}-{review.committee_id:03d}"


def _permit_issue(application, review, actor) -> Permit:
    starts_on = timezone.localdate()
    ends_on = review.permit_ends_on
    if ends_on is None:
        months = application.processing_months or 12
        ends_on = min(
            starts_on + timedelta(days=round(months * 30.44)),
            _add_years(starts_on, Permit.MAX_YEARS),
        )
    permit = Permit.objects.create(
        number=_permit_number(application, review),
        application=application,
        review=review,
        holder=application.applicant,
        purpose=application.purpose,
        purpose_description=application.purpose_description,
        data_form=application.data_form,
        conditions=review.conditions,
        tools=application.tools,
        starts_on=starts_on,
        ends_on=ends_on,
    )
    permit.datasets.set(
        review.items.filter(decision=ApplicationDataset.Decision.APPROVED).values_list(
            "dataset_id", flat=True
        )
    )
    team = application.team.filter(status=TeamMember.Status.ACCEPTED).values_list("user", flat=True)
    permit.authorised_persons.set([application.applicant_id, *team])
    _record(
        "access.permit.issued",
        actor,
        permit,
        application=application.pk,
        committee=review.committee_id,
        datasets=sorted(permit.datasets.values_list("pk", flat=True)),
        ends_on=ends_on,
    )
    return permit


@dataclass(frozen=True)
class _PermitChange:
    status: str
    action: str
    needs_reason: bool


PERMIT_CHANGES = {
    "suspend": _PermitChange(Permit.Status.SUSPENDED, "access.permit.suspended", True),
    "reactivate": _PermitChange(Permit.Status.ACTIVE, "access.permit.reactivated", False),
    "revoke": _PermitChange(Permit.Status.REVOKED, "access.permit.revoked", True),
}


@transaction.atomic
def permit_change(*, permit: Permit, actor: User, change: str, reason: str = "") -> Permit:
    """Suspend, reactivate or revoke a permit (its committee's chair or the access body)."""
    spec = PERMIT_CHANGES.get(change)
    if spec is None:
        raise ValidationError(_("Unknown change %s.") % change)
    reason = (reason or "").strip()
    if spec.needs_reason and not reason:
        raise ValidationError({"reason": _("Give the reason.")})
    locked = (
        Permit.objects.select_for_update()
        .select_related("review__committee", "application")
        .get(pk=permit.pk)
    )
    if not may_change_permit(actor, locked):
        raise NotPermitted(_("Only the issuing committee's chair or the access body can do this."))
    if change == "reactivate" and locked.ends_on < timezone.localdate():
        raise InvalidTransition(_("The permit has ended; it cannot be reactivated."))
    old = locked.transition_to(spec.status)
    locked.status_reason = reason
    locked.save(update_fields=["status", "status_reason", "changed_at"])
    _record(spec.action, actor, locked, reason=reason, previous=old)
    notifications.permit_changed(locked)
    return locked


def permits_expire(*, today: date | None = None) -> list[Permit]:
    """Expire every active or suspended permit whose end date has passed. Idempotent."""
    today = today or timezone.localdate()
    expired = []
    candidates = Permit.objects.filter(
        status__in=[Permit.Status.ACTIVE, Permit.Status.SUSPENDED], ends_on__lt=today
    ).values_list("pk", flat=True)
    for pk in candidates:
        with transaction.atomic():
            permit = Permit.objects.select_for_update().get(pk=pk)
            if not permit.can_transition_to(Permit.Status.EXPIRED) or permit.ends_on >= today:
                continue
            old = permit.transition_to(Permit.Status.EXPIRED)
            permit.save(update_fields=["status", "changed_at"])
            _record("access.permit.expired", None, permit, previous=old, ends_on=permit.ends_on)
            notifications.permit_changed(permit)
            expired.append(permit)
    return expired


def applications_lapse_incomplete(*, now=None) -> list[Application]:
    """Reject applications not completed within four weeks of being found incomplete
    (Art 68(4): no permit is issued). Idempotent."""
    now = now or timezone.now()
    lapsed = []
    due = Application.objects.filter(
        status=Application.Status.CLARIFICATION, completion_due__lt=now
    ).values_list("pk", flat=True)
    for pk in due:
        with transaction.atomic():
            application = Application.objects.select_for_update().get(pk=pk)
            if application.status != Application.Status.CLARIFICATION or not (
                application.completion_due and application.completion_due < now
            ):
                continue
            application.transition_to(Application.Status.REJECTED)
            application.decided_at = now
            application.save(update_fields=["status", "decided_at", "updated_at"])
            reason = _("The application was not completed within four weeks (EHDS Art 68(4)).")
            for review in application.reviews.filter(status=Review.Status.PENDING):
                review.transition_to(Review.Status.REJECTED)
                review.reason = reason
                review.decided_at = now
                review.save(update_fields=["status", "reason", "decided_at"])
                review.items.update(decision=ApplicationDataset.Decision.REJECTED)
            _record("access.application.lapsed", None, application, reason=reason)
            notifications.application_decided(application, [])
            lapsed.append(application)
    return lapsed


# --- Committees -----------------------------------------------------------------------------


@transaction.atomic
def committee_create(*, actor: User | None, name: str, decision_rule: str, datasets=(), nodes=(),
                     description: str = "", email: str = "") -> Committee:  # fmt: skip
    committee = Committee(
        name=name, decision_rule=decision_rule, description=description, email=email
    )
    committee.full_clean()
    committee.save()
    committee.datasets.set(datasets)
    committee.nodes.set(nodes)
    _record(
        "access.committee.created",
        actor,
        committee,
        datasets=[d.pk for d in datasets],
        nodes=[n.pk for n in nodes],
        rule=decision_rule,
    )
    return committee


@transaction.atomic
def committee_update(*, committee: Committee, actor: User | None, datasets=None, nodes=None,
                     **fields) -> Committee:  # fmt: skip
    """Change a committee's description, decision rule or what it governs. Applications
    already routed keep their reviews; new submissions follow the new scope."""
    allowed = {"name", "description", "email", "decision_rule"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({f: _("cannot be changed here") for f in sorted(unknown)})
    locked = Committee.objects.select_for_update().get(pk=committee.pk)
    for field, value in fields.items():
        setattr(locked, field, value)
    locked.full_clean()
    locked.save()
    if datasets is not None:
        locked.datasets.set(datasets)
    if nodes is not None:
        locked.nodes.set(nodes)
    _record(
        "access.committee.updated",
        actor,
        locked,
        fields=sorted(fields),
        datasets=sorted(d.pk for d in locked.datasets.all()),
        nodes=sorted(n.pk for n in locked.nodes.all()),
    )
    return locked


@transaction.atomic
def committee_remove_member(*, committee: Committee, user: User, actor: User | None) -> None:
    from access.permissions import revoke_membership

    revoke_membership(committee, user)
    _record("access.committee.member_removed", actor, committee, member=user.pseudonym)


@transaction.atomic
def committee_add_member(*, committee: Committee, user: User, actor: User | None,
                         chair: bool = False) -> list[Review]:  # fmt: skip
    """Make ``user`` (who must hold the committee-member role) a member, or the chair.

    Returns the committee's open reviews of applications ``user`` is a party to (applicant or
    team): they are excluded from those, and the access body is warned."""
    if not user.has_role(Role.COMMITTEE_MEMBER):
        raise ValidationError(_("%s does not hold the committee member role.") % user.username)
    grant_membership(committee, user, chair=chair)
    excluded = list(open_party_reviews(committee, user))
    _record(
        "access.committee.member_added",
        actor,
        committee,
        member=user.pseudonym,
        chair=chair,
        excluded_from=[r.application_id for r in excluded],
    )
    return excluded
