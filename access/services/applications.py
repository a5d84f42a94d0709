"""Writes on applications: drafting, the team, submission, withdrawal, answers to the
committees, the deadline and the lapse of incomplete applications.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access import notifications
from access.models import (
    PUBLIC_SECTOR_PURPOSES,
    Application,
    ApplicationDataset,
    Purpose,
    Review,
    TeamMember,
)
from access.permissions import (
    is_addressee,
    may_extend_deadline,
)
from access.selectors import (
    governing_committees,
)
from access.services.common import (
    APPLICANT_FIELDS,
    DECISION_PERIOD,
    EXTENSION_PERIOD,
    IncompleteApplication,
    InvalidTransition,
    NotPermitted,
    _lock,
    _record,
    months_later,
)
from access.services.reviews import _alert_if_stuck, evaluate_after_answer
from catalogue import duo
from catalogue.models import BasketItem, Dataset
from catalogue.selectors import visible_datasets
from portal.models import Role, User

# --- Drafting -------------------------------------------------------------------------------


def _dataset_id(dataset: Dataset | int) -> int:
    return dataset.pk if isinstance(dataset, Dataset) else dataset


@transaction.atomic
def application_create(
    *, applicant: User, title: str, datasets: Iterable[Dataset | int] | None = None
) -> Application:
    """Start a draft from the applicant's basket, or from ``datasets`` (datasets or their ids),
    each of which must be a published dataset the applicant can see; every other one is
    named in the refusal."""
    if not applicant.has_role(Role.RESEARCHER):
        raise NotPermitted(_("Only researchers can apply for data access."))
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("Give the project a title.")})
    chosen: Iterable[Dataset]
    if datasets is None:
        chosen = visible_datasets(applicant).filter(
            pk__in=BasketItem.objects.filter(user=applicant).values("dataset"),
            status=Dataset.Status.PUBLISHED,
        )
    else:
        visible = visible_datasets(applicant).filter(status=Dataset.Status.PUBLISHED)
        wanted = {_dataset_id(d) for d in datasets}
        chosen = list(visible.filter(pk__in=wanted))
        unknown = wanted - {d.pk for d in chosen}
        if unknown:
            raise ValidationError(
                {
                    "datasets": [
                        _(
                            "No published dataset with the id %s: choose published datasets "
                            "of the catalogue."
                        )
                        % pk
                        for pk in sorted(unknown)
                    ]
                }
            )
    chosen = list(chosen)
    if not chosen:
        raise ValidationError(_("Put at least one published dataset in your basket first."))
    application = Application.objects.create(
        applicant=applicant, title=title[:300], organisation=applicant.organisation
    )
    ApplicationDataset.objects.bulk_create(
        [ApplicationDataset(application=application, dataset=d) for d in chosen]
    )
    _record(
        "access.application.created",
        applicant,
        application,
        datasets=[d.pk for d in chosen],
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
def application_update(*, application: Application, actor: User, **fields: object) -> Application:
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
        locked.save(update_fields=[*changed, "updated_at"])
        if replaced_file and replaced_file != locked.ethics_approval.name:
            # The superseded document goes once the new one is committed.
            storage = locked.ethics_approval.storage
            transaction.on_commit(lambda: storage.delete(replaced_file))
        _record("access.application.updated", actor, locked, fields=sorted(changed))
    return locked


@transaction.atomic
def application_save_draft(
    *, application: Application, actor: User, remove_datasets: Iterable[int] = (), **fields: object
) -> Application:
    """Save the form of a draft (or of an application answering a clarification): drop the
    datasets in ``remove_datasets`` and change ``fields``, both or neither."""
    remove = set(remove_datasets or ())
    if remove:
        keep = [
            i.dataset_id for i in application.items.all() if i.dataset_id not in remove
        ]  # fmt: skip
        try:
            application_set_datasets(application=application, actor=actor, datasets=keep)
        except ValidationError as error:
            raise ValidationError({"remove_datasets": error.messages}) from None
    return application_update(application=application, actor=actor, **fields)


@transaction.atomic
def application_set_datasets(
    *, application: Application, actor: User, datasets: Iterable[Dataset | int]
) -> Application:
    """Change the requested datasets of a draft."""
    locked = _lock(application)
    if locked.applicant_id != actor.pk or locked.status != Application.Status.DRAFT:
        raise InvalidTransition(_("Only a draft's applicant can change its datasets."))
    wanted = {_dataset_id(d) for d in datasets}
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
    if actor.email and email == actor.email.lower():
        raise ValidationError(
            {
                "email": _("%s is your own address: as the applicant you have access already.")
                % email
            }
        )
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
    if not is_addressee(user, member):
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
    missing: list[str] = []

    def need(condition: object, message: str) -> None:
        if not condition:
            missing.append(message)

    need(a.title.strip(), _("a project title"))
    need(a.lay_title.strip(), _("a title for the public register"))
    need(a.lay_summary.strip(), _("a summary for the public register"))
    need(a.ai_use, _("whether artificial intelligence is trained or used"))
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
    locked.decision_due = months_later(now, DECISION_PERIOD)
    locked.save(
        update_fields=["status", "submitted_at", "complete_at", "decision_due", "updated_at"]
    )
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
        # For the access body's figures (access.figures), read from the chain.
        purpose=locked.purpose,
        datasets=sorted(locked.items.values_list("dataset_id", flat=True)),
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
    fields = ["status", "updated_at"]
    if was_incomplete:
        locked.complete_at = now
        locked.decision_due = months_later(now, DECISION_PERIOD)
        locked.completion_due = None
        fields += ["complete_at", "decision_due", "completion_due"]
    locked.save(update_fields=fields)
    _prescreen(locked)
    _record(
        "access.application.clarification_answered",
        actor,
        locked,
        restarted_clock=was_incomplete,
        decision_due=locked.decision_due,
    )
    notifications.clarification_answered(locked)
    evaluate_after_answer(locked)
    return locked


@transaction.atomic
def deadline_extend(*, application: Application, actor: User, reason: str) -> Application:
    """Extend the decision deadline once by three months (Art 68(4)), with a recorded reason,
    before it passes (an overdue decision stays overdue)."""
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
    if locked.decision_due < timezone.now():
        raise InvalidTransition(
            _("The deadline passed on %s: a deadline can only be extended before it passes.")
            % f"{timezone.localdate(locked.decision_due):%Y-%m-%d}"
        )
    locked.decision_due = months_later(locked.decision_due, EXTENSION_PERIOD)
    locked.extended = True
    locked.extension_reason = reason
    locked.save(update_fields=["decision_due", "extended", "extension_reason", "updated_at"])
    _record("access.application.deadline_extended", actor, locked, reason=reason,
            decision_due=locked.decision_due)  # fmt: skip
    notifications.deadline_extended(locked)
    return locked


def applications_lapse_incomplete(*, now: datetime | None = None) -> list[Application]:
    """Reject applications not completed within four weeks of being found incomplete
    (Art 68(4): no permit is issued). Idempotent."""
    now = now or timezone.now()
    lapsed: list[Application] = []
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
