"""Writes on consents and donor links. Each write is checked whole before anything is stored,
appends an immutable :class:`~consent.models.ConsentVersion` (for consents) and appends to the
audit chain, in one transaction.

Every Consent the portal stores passes the same checks (:func:`_store`): ``consent.fhir``'s
validation (FHIR R5 structure, the bindings and rules fhir.resources leaves out), then what
needs the database: the subject is the record's owner, the id is the record's, the base
decision fits the record's kind (permit for a donation, deny for an opt-out), and every node
the consent names as custodian exists. A refused write raises :class:`InvalidConsent`, whose
``issues`` the FHIR API reports as an OperationOutcome, and leaves no record, version or audit
event behind.
"""

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalogue import duo
from catalogue.models import Node
from catalogue.purposes import Purpose
from consent import fhir
from consent.links import (  # noqa: F401  (re-exported: the services of consent in one place)
    CODE_ALPHABET,
    CODE_LENGTH,
    LINK_CODE_LIFETIME,
    SUBJECT_PATTERN,
    _require_citizen,
    hash_code,
    link_code_issue,
    link_code_redeem,
    link_remove,
)
from consent.models import ConsentRecord, ConsentVersion, DonorLink
from consent.signals import send_subjects_changed
from consent.terms import CATEGORY_TYPES
from portal.audit import audit_record
from portal.models import User
from portal.workflow import InvalidTransition, NotPermitted

# The disease a donation for research on one disease (DUO DS) names, as datasets name their
# conditions ("breast cancer"): plain text, matched without regard to case or spacing.
DISEASE_MAX_LENGTH = 100
DISEASE_PATTERN = re.compile(r"[^\x00-\x1f\x7f<>]+")


class InvalidConsent(ValidationError):
    """A Consent refused. ``issues`` are :class:`consent.fhir.Issue` (where and what), which
    the FHIR API answers as an OperationOutcome (400)."""

    def __init__(self, issues: Iterable[fhir.Issue]) -> None:
        self.issues = list(issues)
        super().__init__(
            [f"{i.expression}: {i.message}" if i.expression else i.message for i in self.issues]
        )


class ConsentConflict(InvalidTransition):
    """A write the consent's current state does not allow: a second consent of a kind, a
    changed base decision, a withdrawal of what is not in force, or a stale version
    (``code == "version"``: the FHIR API answers 412 to an If-Match that no longer holds)."""

    def __init__(self, message: str, *, code: str = "conflict") -> None:
        super().__init__(message)
        self.code = code
        self.issues = [fhir.Issue("Consent", message, "conflict" if code != "duplicate" else code)]


# ---------------------------------------------------------------------------------------------
# Storing a version


def _controller() -> fhir.Controller:
    return fhir.Controller(settings.HDAB_NAME, settings.HDAB_URL)


def _database_issues(record: ConsentRecord, resource: dict[str, Any]) -> list[fhir.Issue]:
    """What needs the database: whose and which consent it is, and the nodes it names."""
    issues = []
    if resource.get("id") != record.id:
        issues.append(fhir.Issue("Consent.id", f"The id of this Consent is {record.id}."))
    subject = (resource.get("subject") or {}).get("reference")
    if subject != f"Patient/{record.owner.pseudonym}":
        issues.append(
            fhir.Issue(
                "Consent.subject",
                "A consent is the person's own: its subject is Patient/<their pseudonym>.",
                "business-rule",
            )
        )
    expected = "permit" if record.kind == ConsentRecord.Kind.DONATION else "deny"
    if resource.get("decision") != expected:
        issues.append(
            fhir.Issue(
                "Consent.decision",
                f"This consent is a {record.get_kind_display().lower()}: its decision is "
                f"{expected}.",
                "business-rule",
            )
        )
    named = fhir.node_references(resource)
    known = set(
        Node.objects.filter(audience__in={a for _, a in named}).values_list("audience", flat=True)
    )
    issues += [
        fhir.Issue(path, f"No imaging node has the audience {audience!r}.", "not-found")
        for path, audience in named
        if audience not in known
    ]
    return issues


def _store(
    record: ConsentRecord,
    resource: dict[str, Any],
    *,
    actor: User,
    action: str,
    now: datetime,
    new: bool,
) -> ConsentVersion:
    """Validate ``resource`` as the next version of ``record``, then store both and record
    ``action`` in the audit chain; nothing is stored when anything is wrong."""
    number = record.current_version + 1
    resource = fhir.with_meta(resource, version=number, at=now)
    _model, issues = fhir.validate(resource)
    issues += _database_issues(record, resource) if not issues else []
    if issues:
        raise InvalidConsent(issues)
    columns = fhir.columns(resource)
    record.current_version = number
    if new:
        record.save(force_insert=True)
    else:
        record.save(update_fields=["current_version"])
    version = ConsentVersion(
        record=record,
        version=number,
        resource=resource,
        status=columns.status,
        decision=columns.decision,
        date=columns.date,
        period_start=columns.period_start,
        period_end=columns.period_end,
        purposes=columns.purposes,
        duo_codes=columns.duo_codes,
        categories=columns.categories,
        node_ids=columns.node_ids,
        rules_digest=columns.rules_digest,
        last_updated=now,
        written_by=actor,
    )
    version.save(force_insert=True)
    audit_record(
        action,
        actor=actor,
        obj=record,
        details={"kind": record.kind, "version": number, "status": columns.status},
    )
    send_subjects_changed(
        DonorLink.objects.filter(citizen_id=record.owner_id).values_list("node_id", "subject")
    )
    return version


def _lock_person(person: User) -> User:
    """Serialise the writes of one person's consents (a second record of a kind is refused,
    not raced)."""
    return User.objects.select_for_update().get(pk=person.pk)


def _lock_record(record: ConsentRecord, person: User) -> ConsentRecord:
    locked = ConsentRecord.objects.select_for_update().select_related("owner").get(pk=record.pk)
    if locked.owner_id != person.pk:
        raise NotPermitted(_("This consent is not yours."))
    return locked


def _current(record: ConsentRecord) -> ConsentVersion:
    return ConsentVersion.objects.get(record=record, version=record.current_version)


# ---------------------------------------------------------------------------------------------
# Donations


def _donation_choices(
    citizen: User,
    *,
    nodes: Sequence[Node],
    categories: Sequence[str],
    purposes: Sequence[str],
    duo_codes: Sequence[str],
    until: date | None,
    disease: str,
) -> None:
    """Refuse a donation the citizen could not mean, naming every problem by field."""
    errors: dict[str, list[str]] = {}
    linked = set(DonorLink.objects.filter(citizen=citizen).values_list("node_id", flat=True))
    if not nodes:
        errors["nodes"] = [_("Choose at least one hospital or node that holds your images.")]
    elif unlinked := [n.name for n in nodes if n.pk not in linked]:
        errors["nodes"] = [
            _("Link your images at %(nodes)s with the hospital's code first.")
            % {"nodes": ", ".join(unlinked)}
        ]
    if not categories:
        errors["categories"] = [_("Choose at least one kind of data.")]
    elif unknown := [c for c in categories if c not in CATEGORY_TYPES]:
        errors["categories"] = [_("Unknown kinds of data: %s.") % ", ".join(unknown)]
    if not purposes:
        errors["purposes"] = [_("Choose at least one purpose.")]
    elif unknown := [p for p in purposes if p not in Purpose.values]:
        errors["purposes"] = [_("Unknown purposes: %s.") % ", ".join(unknown)]
    if unknown := [c for c in duo_codes if c not in fhir.DONOR_DUO]:
        errors["duo_codes"] = [_("Conditions a donation cannot carry: %s.") % ", ".join(unknown)]
    if duo.DS in duo_codes and not disease:
        errors["disease"] = [_("Name the disease the research must be about.")]
    elif disease and duo.DS not in duo_codes:
        errors["disease"] = [
            _("A disease limits only research on one disease: choose that, or leave it empty.")
        ]
    elif len(disease) > DISEASE_MAX_LENGTH or not DISEASE_PATTERN.fullmatch(disease or "x"):
        errors["disease"] = [
            _("Name the disease in at most %(n)s characters of plain text.")
            % {"n": DISEASE_MAX_LENGTH}
        ]
    if until is not None and until < timezone.localdate():
        errors["until"] = [_("The end of a donation cannot be in the past.")]
    if errors:
        raise ValidationError(errors)


def _donation_resource(
    record: ConsentRecord,
    citizen: User,
    now: datetime,
    *,
    nodes: Sequence[Node],
    categories: Sequence[str],
    purposes: Sequence[str],
    duo_codes: Sequence[str],
    until: date | None,
    disease: str,
) -> dict[str, Any]:
    disease = " ".join(disease.split())
    _donation_choices(
        citizen,
        nodes=nodes,
        categories=categories,
        purposes=purposes,
        duo_codes=duo_codes,
        until=until,
        disease=disease,
    )
    return fhir.donation(
        consent_id=record.id,
        pseudonym=citizen.pseudonym,
        at=now,
        until=until,
        nodes=[fhir.NodeRef(n.audience, n.name) for n in nodes],
        categories=list(dict.fromkeys(categories)),
        purposes=list(dict.fromkeys(purposes)),
        duo_codes=list(dict.fromkeys(duo_codes)),
        controller=_controller(),
        disease=disease,
    )


@transaction.atomic
def donation_create(
    *,
    citizen: User,
    nodes: Sequence[Node],
    categories: Sequence[str],
    purposes: Sequence[str],
    duo_codes: Sequence[str] = (),
    until: date | None = None,
    disease: str = "",
) -> ConsentVersion:
    """Record a citizen's donation: their images (and clinical data) at ``nodes``, where they
    linked their pseudonym, for ``purposes`` (EHDS Art 53), ``categories`` of data and the DUO
    terms of ``fhir.DONOR_DUO``, until the end of ``until`` (open when ``None``).

    A citizen has one donation: a second one is refused (change it instead, also after a
    withdrawal).
    """
    _require_citizen(citizen)
    _lock_person(citizen)
    if ConsentRecord.objects.filter(owner=citizen, kind=ConsentRecord.Kind.DONATION).exists():
        raise ConsentConflict(
            _("You have already donated: change your donation instead."), code="duplicate"
        )
    now = timezone.now()
    record = ConsentRecord(
        owner=citizen, kind=ConsentRecord.Kind.DONATION, current_version=0, created_at=now
    )
    resource = _donation_resource(
        record,
        citizen,
        now,
        nodes=nodes,
        categories=categories,
        purposes=purposes,
        duo_codes=duo_codes,
        until=until,
        disease=disease,
    )
    return _store(
        record, resource, actor=citizen, action="consent.donation.created", now=now, new=True
    )


@transaction.atomic
def donation_change(
    *,
    record: ConsentRecord,
    citizen: User,
    nodes: Sequence[Node],
    categories: Sequence[str],
    purposes: Sequence[str],
    duo_codes: Sequence[str] = (),
    until: date | None = None,
    disease: str = "",
) -> ConsentVersion:
    """Narrow or widen a donation (or give it again after a withdrawal): a new version, in
    force from now, with the choices of :func:`donation_create`."""
    _require_citizen(citizen)
    record = _lock_record(record, citizen)
    if record.kind != ConsentRecord.Kind.DONATION:
        raise ConsentConflict(_("This consent is not a donation."))
    now = timezone.now()
    resource = _donation_resource(
        record,
        citizen,
        now,
        nodes=nodes,
        categories=categories,
        purposes=purposes,
        duo_codes=duo_codes,
        until=until,
        disease=disease,
    )
    return _store(
        record, resource, actor=citizen, action="consent.donation.changed", now=now, new=False
    )


def _end(record: ConsentRecord, citizen: User, kind: str, action: str) -> ConsentVersion:
    record = _lock_record(record, citizen)
    current = _current(record)
    if record.kind != kind or current.status != "active":
        raise ConsentConflict(_("This consent is not in force."))
    now = timezone.now()
    return _store(
        record,
        fhir.ended(current.resource, now),
        actor=citizen,
        action=action,
        now=now,
        new=False,
    )


@transaction.atomic
def donation_withdraw(*, record: ConsentRecord, citizen: User) -> ConsentVersion:
    """Withdraw a donation in one step: a new version, ``inactive``, its decision unchanged,
    its period ending now. From then on it denies every use under every permit."""
    _require_citizen(citizen)
    return _end(record, citizen, ConsentRecord.Kind.DONATION, "consent.donation.withdrawn")


# ---------------------------------------------------------------------------------------------
# Opt-outs (EHDS Art 71)


@transaction.atomic
def opt_out_record(*, citizen: User) -> ConsentVersion:
    """Record the citizen's opt-out from secondary use (EHDS Art 71): a Consent whose decision
    is deny, in force from now, for permits approved from now on (Art 71(3)). Recording it
    again after revoking it makes a new version of the same consent."""
    _require_citizen(citizen)
    _lock_person(citizen)
    record = ConsentRecord.objects.filter(owner=citizen, kind=ConsentRecord.Kind.OPT_OUT).first()
    now = timezone.now()
    new = record is None
    if record is None:
        record = ConsentRecord(
            owner=citizen, kind=ConsentRecord.Kind.OPT_OUT, current_version=0, created_at=now
        )
    elif _current(record).status == "active":
        raise ConsentConflict(_("You have already opted out."))
    resource = fhir.opt_out(
        consent_id=record.id, pseudonym=citizen.pseudonym, at=now, controller=_controller()
    )
    return _store(
        record, resource, actor=citizen, action="consent.opt_out.recorded", now=now, new=new
    )


@transaction.atomic
def opt_out_revoke(*, record: ConsentRecord, citizen: User) -> ConsentVersion:
    """Undo an opt-out: a new version, ``inactive``, its period ending now."""
    _require_citizen(citizen)
    return _end(record, citizen, ConsentRecord.Kind.OPT_OUT, "consent.opt_out.revoked")


# ---------------------------------------------------------------------------------------------
# Any Consent, as the FHIR API receives it


@transaction.atomic
def consent_write_fhir(
    *,
    resource: object,
    actor: User,
    record: ConsentRecord | None = None,
    if_match: int | None = None,
) -> ConsentVersion:
    """Create (``record`` ``None``) or update a Consent written by a client, R5 as the
    specification has it, kept as written (the portal sets only ``id`` on create and
    ``meta.versionId`` and ``meta.lastUpdated``).

    The subject is the writer: ``Patient/<their pseudonym>``. The base decision makes it a
    donation (permit) or an opt-out (deny), one of each per person, and an update may not
    change it. An update carries the record's id, and ``if_match`` (a version number) must
    still be the current version.
    """
    _model, issues = fhir.validate(resource)
    if issues:
        raise InvalidConsent(issues)
    assert isinstance(resource, dict)
    _require_citizen(actor)
    subject = resource["subject"]["reference"].removeprefix("Patient/")
    if subject != actor.pseudonym:
        raise NotPermitted(_("You may write only your own consents."))
    kind = (
        ConsentRecord.Kind.DONATION
        if resource["decision"] == "permit"
        else ConsentRecord.Kind.OPT_OUT
    )
    now = timezone.now()
    if record is None:
        _lock_person(actor)
        existing = ConsentRecord.objects.filter(owner=actor, kind=kind).first()
        if existing is not None:
            raise ConsentConflict(
                f"This person already has a consent of this kind (Consent/{existing.id}): "
                "update it instead.",
                code="duplicate",
            )
        record = ConsentRecord(owner=actor, kind=kind, current_version=0, created_at=now)
        written = {**resource, "id": record.id}
        return _store(
            record, written, actor=actor, action="consent.resource.created", now=now, new=True
        )
    record = _lock_record(record, actor)
    if "id" not in resource:
        raise InvalidConsent([fhir.Issue("Consent.id", "An update carries the Consent's id.")])
    if if_match is not None and if_match != record.current_version:
        raise ConsentConflict(
            f"Version {if_match} is not the current version ({record.current_version}).",
            code="version",
        )
    if kind != record.kind:
        raise ConsentConflict(
            "The decision of a consent cannot change: record a new consent instead."
        )
    return _store(
        record, dict(resource), actor=actor, action="consent.resource.updated", now=now, new=False
    )


def consent_reads_record(
    *, reader: User, records: Sequence[ConsentRecord], interaction: str, version: int | None = None
) -> None:
    """Record in the audit chain that ``reader`` read ``records`` through the FHIR API
    (``interaction``: read, vread, history-instance or search-type): one event per request,
    naming the consents read. A citizen reading their own consents leaves no event."""
    read = [r for r in records if r.owner_id != reader.pk]
    if not read:
        return
    details: dict[str, object] = {"interaction": interaction}
    if version is not None:
        details["version"] = version
    if len(read) == 1 and interaction != "search-type":
        audit_record("consent.resource.read", actor=reader, obj=read[0], details=details)
        return
    audit_record(
        "consent.resource.read",
        actor=reader,
        object_type=ConsentRecord._meta.label_lower,
        details={**details, "consents": [r.pk for r in read]},
    )
