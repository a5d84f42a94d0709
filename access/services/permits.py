"""Writes on data permits (EHDS Art 68): issue, suspend, reactivate, revoke and expire."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access import notifications
from access.models import (
    Application,
    ApplicationDataset,
    Permit,
    Review,
    TeamMember,
)
from access.permissions import (
    may_change_permit,
)
from access.services.common import InvalidTransition, NotPermitted, _record
from access.services.exclusions import exclusions_follow_permit
from access.services.tokens import tokens_follow_permit
from portal.models import User


def check_permit_end(starts_on: date, ends_on: date) -> None:
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


# --- Permits --------------------------------------------------------------------------------


def _permit_number(application: Application, review: Review) -> str:
    return f"EHDS-{timezone.now():%Y}-{application.pk:05d}-{review.committee_id:03d}"


def _permit_issue(application: Application, review: Review, actor: User | None) -> Permit:
    starts_on = timezone.localdate()
    ends_on = review.permit_ends_on
    if ends_on is None or ends_on <= starts_on:  # none set, or set and passed before the votes
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
        purpose=permit.purpose,  # for the access body's figures (access.figures)
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
    """Suspend, reactivate or revoke a permit (its committee's chair or the access body); its
    tokens' status-list entries and its nodes' exclusion lists follow in the same
    transaction."""
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
    tokens = tokens_follow_permit(locked)
    exclusions_follow_permit(permit=locked)
    _record(spec.action, actor, locked, reason=reason, previous=old, tokens=tokens)
    notifications.permit_changed(locked)
    return locked


def permits_expire(*, today: date | None = None) -> list[Permit]:
    """Expire every active or suspended permit whose end date has passed, and mark its tokens
    INVALID. Idempotent."""
    today = today or timezone.localdate()
    expired: list[Permit] = []
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
            tokens = tokens_follow_permit(permit)
            exclusions_follow_permit(permit=permit)
            _record(
                "access.permit.expired",
                None,
                permit,
                previous=old,
                ends_on=permit.ends_on,
                tokens=tokens,
            )
            notifications.permit_changed(permit)
            expired.append(permit)
    return expired
