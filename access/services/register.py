"""Writes for the public register: the access body publishes each decision's notice; permit
holders record their results; the access body extends a results clock; the daily reminders.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access.clocks import REMINDERS, results_due
from access.models import (
    Application,
    DecisionPublication,
    Permit,
    PermitResults,
    ResultOutput,
)
from access.permissions import is_party
from access.services.common import InvalidTransition, NotPermitted, _record
from portal.models import Role, User

DOI = re.compile(r"^10\.\d{4,9}/\S+$")
DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:")

# --- Decision notices -------------------------------------------------------------------------


@transaction.atomic
def decision_publish(
    *, application: Application, actor: User, justification: str
) -> DecisionPublication:
    """Publish the notice of a decision in the register, with the justification the public
    reads (the committees' own reasons stay internal). Once only."""
    justification = (justification or "").strip()
    if not justification:
        raise ValidationError({"justification": _("Write the justification the public reads.")})
    if not actor.has_role(Role.HDAB_ADMIN) or is_party(actor, application):
        raise NotPermitted(_("Only the access body publishes decisions."))
    locked = Application.objects.select_for_update().get(pk=application.pk)
    if locked.status not in Application.DECIDED:
        raise InvalidTransition(_("Only a decision can be published."))
    if DecisionPublication.objects.filter(application=locked).exists():
        raise InvalidTransition(_("This decision is published already."))
    publication = DecisionPublication.objects.create(
        application=locked, justification=justification, published_by=actor
    )
    _record("access.register.decision_published", actor, locked, outcome=locked.status)
    return publication


# --- Results ----------------------------------------------------------------------------------


def _results_for(permit: Permit, actor: User) -> PermitResults:
    if permit.holder_id != actor.pk:
        raise NotPermitted(_("Only the permit holder records its results."))
    Permit.objects.select_for_update().only("pk").get(pk=permit.pk)
    results, _created = PermitResults.objects.get_or_create(permit=permit)
    return results


def _mark_reported(results: PermitResults, actor: User) -> None:
    """The results count as reported once there is a summary and at least one output."""
    if results.reported_at is None and results.lay_summary.strip() and results.outputs.exists():
        results.reported_at = timezone.now()
        results.save(update_fields=["reported_at", "updated_at"])
        _record("access.results.reported", actor, results.permit)


def normalise_reference(reference: str) -> str:
    """A DOI (``10.1234/abc``, also given as a doi.org address or ``doi:``) or an https
    address; anything else is refused."""
    reference = (reference or "").strip()
    lowered = reference.lower()
    for prefix in DOI_PREFIXES:
        if lowered.startswith(prefix):
            reference = reference[len(prefix) :]
            break
    if DOI.match(reference):
        return reference
    try:
        URLValidator(schemes=["https", "http"])(reference)
    except ValidationError:
        raise ValidationError(
            {"reference": _("Give a DOI (10.xxxx/…) or a web address (https://…).")}
        ) from None
    return reference


@transaction.atomic
def results_update(*, permit: Permit, actor: User, lay_summary: str) -> PermitResults:
    """The holder writes (or rewrites) the summary of the results for the public."""
    lay_summary = (lay_summary or "").strip()
    if not lay_summary:
        raise ValidationError({"lay_summary": _("Write a summary of the results.")})
    results = _results_for(permit, actor)
    results.lay_summary = lay_summary
    results.save(update_fields=["lay_summary", "updated_at"])
    _record("access.results.summary_changed", actor, permit)
    _mark_reported(results, actor)
    return results


@transaction.atomic
def result_output_add(
    *, permit: Permit, actor: User, kind: str, title: str, reference: str
) -> ResultOutput:
    """The holder records a publication, software or a model released."""
    title = (title or "").strip()
    errors = {}
    if kind not in ResultOutput.Kind.values:
        errors["kind"] = [_("Choose what kind of output this is.")]
    if not title:
        errors["title"] = [_("Give the output's title.")]
    try:
        reference = normalise_reference(reference)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    results = _results_for(permit, actor)
    output = ResultOutput.objects.create(
        results=results, kind=kind, title=title[:300], reference=reference[:500]
    )
    _record("access.results.output_added", actor, permit, output=output.pk, reference=reference)
    _mark_reported(results, actor)
    return output


@transaction.atomic
def result_output_remove(*, output: ResultOutput, actor: User) -> None:
    """The holder removes an output recorded by mistake (the audit log keeps it)."""
    permit = output.results.permit
    _results_for(permit, actor)
    _record(
        "access.results.output_removed", actor, permit, output=output.pk, reference=output.reference
    )
    output.delete()


@transaction.atomic
def results_extend(*, permit: Permit, actor: User, until: date, reason: str) -> PermitResults:
    """The access body moves the results' due day later, with a recorded reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the results may come later.")})
    if not actor.has_role(Role.HDAB_ADMIN) or is_party(actor, permit.application):
        raise NotPermitted(_("Only the access body extends the results clock."))
    Permit.objects.select_for_update().only("pk").get(pk=permit.pk)
    results, _created = PermitResults.objects.get_or_create(permit=permit)
    if results.reported_at is not None:
        raise InvalidTransition(_("The results are reported already."))
    current = results_due(permit, results)
    if until <= current:
        raise ValidationError(
            {"until": _("Choose a day after the current due day, %s.") % current.isoformat()}
        )
    results.extended_until = until
    results.extension_reason = reason
    results.overdue_flagged_at = None  # flagged again if the new day passes too
    results.save(
        update_fields=["extended_until", "extension_reason", "overdue_flagged_at", "updated_at"]
    )
    _record(
        "access.results.clock_extended",
        actor,
        permit,
        reason=reason,
        previous=current.isoformat(),
        until=until.isoformat(),
    )
    return results


# --- The daily reminders ----------------------------------------------------------------------


@dataclass
class ReminderRun:
    reminded: list[tuple[Permit, str]] = field(default_factory=list)
    flagged: list[Permit] = field(default_factory=list)


def results_reminders_send(*, now: datetime | None = None) -> ReminderRun:
    """Remind each permit holder 3 months and 1 month before their results are due, and flag
    overdue results to the access body; each message goes once (run it daily)."""
    from access import notifications_register

    now = now or timezone.now()
    today = timezone.localdate(now)
    run = ReminderRun()
    from access.selectors_register import results_pending

    for row in results_pending(today=today):
        with transaction.atomic():
            Permit.objects.select_for_update().only("pk").get(pk=row.permit.pk)
            results, _created = PermitResults.objects.get_or_create(permit=row.permit)
            if results.reported_at is not None:
                continue
            due_on = results_due(row.permit, results)
            if due_on < today:
                if results.overdue_flagged_at is None:
                    results.overdue_flagged_at = now
                    results.save(update_fields=["overdue_flagged_at", "updated_at"])
                    _record("access.results.overdue_flagged", None, row.permit, due=str(due_on))
                    notifications_register.results_overdue(row.permit, due_on)
                    run.flagged.append(row.permit)
                continue
            # The nearest reminder whose day has come; an earlier one not yet sent is
            # dropped rather than sent late beside it.
            for name, before in reversed(REMINDERS):
                if today < due_on - before:
                    continue
                attribute = f"reminded_{name}_at"
                if getattr(results, attribute) is None:
                    changed = [attribute]
                    setattr(results, attribute, now)
                    for earlier, _before in REMINDERS:
                        if earlier == name:
                            break
                        if getattr(results, f"reminded_{earlier}_at") is None:
                            setattr(results, f"reminded_{earlier}_at", now)
                            changed.append(f"reminded_{earlier}_at")
                    results.save(update_fields=[*changed, "updated_at"])
                    _record(
                        "access.results.reminded", None, row.permit, before=name, due=str(due_on)
                    )
                    notifications_register.results_reminder(row.permit, due_on)
                    run.reminded.append((row.permit, name))
                break
    return run
