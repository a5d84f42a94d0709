"""FHIR R5 Consent resources: the ones the portal writes, the checks every resource passes before
it is stored (whoever wrote it), the columns copied from it, and the OperationOutcome that
reports what is wrong. Pure: no models, no database.

Validation has three layers, all run before anything is stored:

1. FHIR JSON itself: a JSON object of ``resourceType`` Consent, no ``null`` (but in the arrays
   of primitive extensions), no empty array, object or string, no control characters, not
   nested deeper than :data:`MAX_DEPTH`.
2. Structure, with fhir.resources (R5, the root package): element names, cardinalities of
   lists, types and the formats of primitives. fhir.resources converts some values it should
   refuse ("true" for a boolean, 5 for a dateTime), so each value's JSON type is compared with
   the type of the element it was read into.
3. What fhir.resources leaves out: ``status`` is required and from the R5 codes; ``decision``
   (permit or deny) is required by the portal, which cannot enforce a consent that says neither;
   periods start no later than they end (per-1), anywhere; EHDS purposes, DUO codes, FHIR
   resource types and consent actions come from their code systems; ``subject`` is a Patient;
   contained resources have a type, carry no contained resources, versions or update times of
   their own and are referenced (dom-2, dom-3, dom-4); local references resolve; narrative is
   XHTML without active content (txt-1, txt-2); and the portal refuses what it could not
   honour: modifier extensions and ``implicitRules``.

The portal's donation and opt-out are written by :func:`donation` and :func:`opt_out`; see
docs/consent.md for an example.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from fhir.resources.consent import Consent
from pydantic import ValidationError

from catalogue import duo
from catalogue.purposes import Purpose
from catalogue.vocabularies import EHDS_ELI
from consent.fhir_checks import Issue as Issue
from consent.fhir_checks import (
    json_issues,
    rule_issues,
    structure_issue,
    type_issues,
)
from consent.fhir_checks import operation_outcome as operation_outcome
from consent.terms import (
    CATEGORY_TYPES,
    CONSENT_ACTION,
    CUSTODIAN,
    DUO_SYSTEM,
    EHDS_PURPOSE_SYSTEM,
    FHIR_TYPES,
    NODE_SYSTEM,
    PARTICIPATION_TYPE,
    RESEARCH_PURPOSES,
    instant_range,
    period_bounds,
)

LOINC = "http://loinc.org"
CONSENT_DOCUMENT = "59284-0"
URI_IDENTIFIER = "urn:ietf:rfc:3986"

# DUO terms a donor may choose, by the part they play in the donation (docs/consent.md):
# permissions are the kind of research permitted; conditions are what every use must meet;
# prohibitions are written as denials nested in the donation.
DONOR_PERMISSIONS = (duo.GRU, duo.HMB, duo.DS)
DONOR_CONDITIONS = (duo.NCU, duo.NPU, duo.NPUNCU, duo.IRB, duo.PUB, duo.COL, duo.RTN)
DONOR_PROHIBITIONS: Mapping[str, list[dict[str, str]]] = {
    # No population origins or ancestry research: deny uses that are POA.
    duo.NPOA: [{"system": DUO_SYSTEM, "code": duo.POA}],
    # No general methods research: deny the EHDS purposes that develop methods, (e)(i) and
    # (e)(ii), as ``access.prescreen`` reads NMDS.
    duo.NMDS: [
        {"system": EHDS_PURPOSE_SYSTEM, "code": Purpose.RESEARCH_INNOVATION.value},
        {"system": EHDS_PURPOSE_SYSTEM, "code": Purpose.RESEARCH_AI.value},
    ],
}
DONOR_DUO = (
    frozenset(DONOR_PERMISSIONS) | frozenset(DONOR_CONDITIONS) | frozenset(DONOR_PROHIBITIONS)
)


# ---------------------------------------------------------------------------------------------
# Writing the portal's resources


def instant(moment: datetime) -> str:
    """A FHIR instant in UTC, to the microsecond (a withdrawal takes effect at once)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class NodeRef:
    """A node as a donation names it: its token audience and its name."""

    audience: str
    name: str


@dataclass(frozen=True)
class Controller:
    """The health data access body that enforces the consent (``Consent.controller``)."""

    name: str
    url: str = ""


def _patient(pseudonym: str) -> dict[str, str]:
    return {"reference": f"Patient/{pseudonym}"}


def _controller(controller: Controller) -> list[dict[str, Any]]:
    reference: dict[str, Any] = {"type": "Organization", "display": controller.name}
    if controller.url.startswith(("https://", "http://")):
        reference["identifier"] = {"system": URI_IDENTIFIER, "value": controller.url}
    return [reference]


def _common(
    *, consent_id: str, pseudonym: str, at: datetime, controller: Controller, article: str
) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": consent_id,
        "status": "active",
        "category": [
            {"coding": [{"system": LOINC, "code": CONSENT_DOCUMENT, "display": "Consent Document"}]}
        ],
        "subject": _patient(pseudonym),
        "date": at.astimezone(UTC).date().isoformat(),
        "period": {"start": instant(at)},
        "grantor": [_patient(pseudonym)],
        "controller": _controller(controller),
        "regulatoryBasis": [{"text": f"Regulation (EU) 2025/327 (EHDS), {article}"}],
        "policyBasis": {"url": EHDS_ELI},
    }


def donation(
    *,
    consent_id: str,
    pseudonym: str,
    at: datetime,
    until: date | None,
    nodes: Sequence[NodeRef],
    categories: Sequence[str],
    purposes: Sequence[str],
    duo_codes: Sequence[str],
    controller: Controller,
    disease: str = "",
) -> dict[str, Any]:
    """The portal's donation: a Consent whose base decision is permit, confined by its
    provisions to what the donor chose.

    Nested provisions negate the level above, so the donation reads: permit (root), except
    everything (``provision[0]``, which states no criterion), except what is donated
    (``provision[0].provision[0]``: the nodes as custodians, the use, the EHDS purposes with the
    DUO conditions, the resource types of the categories), except the DUO prohibitions (each a
    deny nested in it). Its period runs from ``at`` to the end of ``until`` (open when
    ``None``).

    The DUO permission (the kind of research: GRU, HMB or DS, with for DS the disease as the
    provision's ``code``, which the policy engine matches against a dataset's conditions)
    limits the research purposes only (EHDS Art 53(1)(e) and its points). When the donor chose
    research and other purposes, the donation has two such provisions, each applying on its
    own: the research purposes with the permission (``provision[0].provision[0]``), and the
    others without it (``provision[0].provision[1]``); a use for public health, which
    declares no kind of research, is then not read as research of no kind. Without a research
    purpose the permission limits nothing and is not written.
    """
    resource = _common(
        consent_id=consent_id,
        pseudonym=pseudonym,
        at=at,
        controller=controller,
        article="Article 53: data donated for secondary use",
    )
    if until is not None:
        resource["period"]["end"] = until.isoformat()
    codes = [duo.normalise_code(c) for c in duo_codes if duo.normalise_code(c) in duo.BY_CODE]
    research = [p for p in purposes if p in RESEARCH_PURPOSES]
    others = [p for p in purposes if p not in RESEARCH_PURPOSES]
    permissions = [c for c in codes if c in DONOR_PERMISSIONS] if research else []
    conditions = [c for c in codes if c not in DONOR_PERMISSIONS and c not in DONOR_PROHIBITIONS]
    prohibitions = [c for c in codes if c in DONOR_PROHIBITIONS]

    def donated(ehds: Sequence[str], kinds: Sequence[str]) -> dict[str, Any]:
        provision: dict[str, Any] = {
            "actor": [
                {
                    "role": {"coding": [{"system": PARTICIPATION_TYPE, "code": CUSTODIAN}]},
                    "reference": {
                        "type": "Organization",
                        "identifier": {"system": NODE_SYSTEM, "value": node.audience},
                        "display": node.name,
                    },
                }
                for node in nodes
            ],
            "action": [{"coding": [{"system": CONSENT_ACTION, "code": "use"}]}],
            "purpose": [{"system": EHDS_PURPOSE_SYSTEM, "code": p} for p in ehds]
            + [
                {"system": DUO_SYSTEM, "code": c, "display": duo.BY_CODE[c].label}
                for c in codes
                if c in kinds or c in conditions
            ],
            "resourceType": [
                {"system": FHIR_TYPES, "code": t} for c in categories for t in CATEGORY_TYPES[c]
            ],
        }
        if disease and duo.DS in kinds:
            provision["code"] = [{"text": disease}]
        if prohibitions:
            provision["provision"] = [
                {"purpose": [dict(coding) for coding in DONOR_PROHIBITIONS[c]]}
                for c in prohibitions
            ]
        return provision

    if permissions and others:
        given = [donated(research, permissions), donated(others, [])]
    else:
        given = [donated(purposes, permissions)]
    resource["decision"] = "permit"
    resource["provision"] = [{"provision": given}]
    return resource


@dataclass(frozen=True)
class DonationChoices:
    """What a donor chose, as :func:`donation` takes it (nodes by token audience).

    ``limits_every_purpose`` is true for a donation written before the kind of research was
    kept to the research purposes (one provision holding a DUO permission and purposes other
    than research): there the permission limits every purpose chosen.
    """

    nodes: tuple[str, ...]
    categories: tuple[str, ...]
    purposes: tuple[str, ...]
    duo_codes: tuple[str, ...]
    until: date | None
    disease: str = ""
    limits_every_purpose: bool = False


# The elements the donated provisions of one donation share.
_SHARED = ("actor", "action", "resourceType", "provision")


def donation_choices(resource: Mapping[str, Any]) -> DonationChoices | None:
    """The choices behind a donation the portal wrote (for a form that changes it, and for its
    summary in words); ``None`` for a Consent of another shape, such as one a client wrote to
    the FHIR API."""
    provisions = resource.get("provision")
    if resource.get("decision") != "permit" or not isinstance(provisions, list):
        return None
    if len(provisions) != 1 or set(provisions[0]) != {"provision"}:
        return None
    given = provisions[0]["provision"]
    if not isinstance(given, list) or not 1 <= len(given) <= 2:
        return None
    if not all(isinstance(p, Mapping) for p in given):
        return None
    if not all(_portal_donated(p) for p in given):
        return None
    if len(given) == 2 and not _split_by_research(given[0], given[1]):
        return None
    first = given[0]
    nodes = tuple(audience for _path, audience in node_references({"provision": [first]}))
    types = {c.get("code") for c in first.get("resourceType") or []}
    categories = tuple(c for c, of in CATEGORY_TYPES.items() if types >= set(of))
    purposes = [c["code"] for p in given for c in _codings(p, EHDS_PURPOSE_SYSTEM)]
    if len(given) == 2:
        purposes.sort(key=lambda p: Purpose.values.index(p) if p in Purpose.values else 99)
    codes = list(dict.fromkeys(c["code"] for p in given for c in _codings(p, DUO_SYSTEM)))
    for denial in first.get("provision") or []:
        codes += [c for c, denied in DONOR_PROHIBITIONS.items() if denial == {"purpose": denied}]
    end = (resource.get("period") or {}).get("end")
    until = date.fromisoformat(end) if isinstance(end, str) and len(end) == 10 else None
    diseases = [c.get("text") for c in first.get("code") or []]
    disease = diseases[0] if len(diseases) == 1 and isinstance(diseases[0], str) else ""
    every = len(given) == 1 and bool(
        set(purposes) - RESEARCH_PURPOSES and set(codes) & set(DONOR_PERMISSIONS)
    )
    return DonationChoices(nodes, categories, tuple(purposes), tuple(codes), until, disease, every)


def _codings(provision: Mapping[str, Any], system: str) -> list[Mapping[str, Any]]:
    return [
        c
        for c in provision.get("purpose") or []
        if isinstance(c, Mapping) and c.get("system") == system and isinstance(c.get("code"), str)
    ]


# What a donated provision of the portal's holds.
_DONATED = frozenset({"actor", "action", "purpose", "resourceType", "code", "provision"})


def _portal_donated(provision: Mapping[str, Any]) -> bool:
    """Whether ``provision`` says no more than :func:`donation` writes: EHDS purposes, the
    donor's DUO permissions and conditions, and the DUO prohibitions nested as denials (a
    form changing it would drop anything else)."""
    if not set(provision) <= _DONATED:
        return False
    for coding in provision.get("purpose") or []:
        if not isinstance(coding, Mapping) or not isinstance(coding.get("code"), str):
            return False
        if coding.get("system") == DUO_SYSTEM:
            if coding["code"] not in DONOR_PERMISSIONS + DONOR_CONDITIONS:
                return False
        elif coding.get("system") != EHDS_PURPOSE_SYSTEM:
            return False
    denials = list(DONOR_PROHIBITIONS.values())
    return all(
        {"purpose"} == set(d) and d["purpose"] in denials for d in provision.get("provision") or []
    )


def _split_by_research(research: Mapping[str, Any], others: Mapping[str, Any]) -> bool:
    """Whether two donated provisions are one donation's research purposes with the kind of
    research, and its other purposes without (as :func:`donation` writes them)."""
    if any(research.get(k) != others.get(k) for k in _SHARED) or "code" in others:
        return False
    first = {c["code"] for c in _codings(research, EHDS_PURPOSE_SYSTEM)}
    second = {c["code"] for c in _codings(others, EHDS_PURPOSE_SYSTEM)}
    kinds = {c["code"] for c in _codings(research, DUO_SYSTEM)} & set(DONOR_PERMISSIONS)
    unlimited = {c["code"] for c in _codings(others, DUO_SYSTEM)} & set(DONOR_PERMISSIONS)
    return (
        bool(first and second and first <= RESEARCH_PURPOSES and not second & RESEARCH_PURPOSES)
        and bool(kinds)
        and not unlimited
    )


def opt_out(
    *, consent_id: str, pseudonym: str, at: datetime, controller: Controller
) -> dict[str, Any]:
    """The portal's EHDS Art 71 opt-out: a Consent whose base decision is deny, without
    provisions (every purpose), in force from ``at``."""
    resource = _common(
        consent_id=consent_id,
        pseudonym=pseudonym,
        at=at,
        controller=controller,
        article="Article 71: opt-out from secondary use",
    )
    resource["decision"] = "deny"
    return resource


def _copy(resource: Mapping[str, Any]) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(resource))
    return copy


def ended(resource: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """A copy of ``resource`` made ``inactive`` at ``at``: its period ends then (or keeps an
    earlier end), everything else unchanged. A withdrawal and a revoked opt-out are this."""
    copy = _copy(resource)
    copy["status"] = "inactive"
    period = dict(copy.get("period") or {})
    start, end = period_bounds(period)
    if end is None or end > at:
        period["end"] = instant(at)
    if start is not None and start > at:
        period["start"] = instant(at)
    copy["period"] = period
    return copy


def with_meta(resource: Mapping[str, Any], *, version: int, at: datetime) -> dict[str, Any]:
    """A copy of ``resource`` carrying its version and update time in ``meta`` (other meta
    elements, such as profiles and tags, kept)."""
    copy = _copy(resource)
    meta = dict(copy.pop("meta", None) or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = instant(at)
    head: dict[str, Any] = {k: copy.pop(k) for k in ("resourceType", "id") if k in copy}
    return {**head, "meta": meta, **copy}


# ---------------------------------------------------------------------------------------------
# What is copied into columns


@dataclass(frozen=True)
class Columns:
    """The columns a stored version carries beside the resource."""

    status: str
    decision: str
    subject: str
    date: date | None
    period_start: datetime | None
    period_end: datetime | None
    last_updated: datetime | None
    purposes: list[str] = field(default_factory=list)
    duo_codes: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    node_ids: list[str] = field(default_factory=list)
    rules_digest: str = ""


def rules_digest(resource: Mapping[str, Any]) -> str:
    """SHA-256 of the consent's rules (its base decision and provisions) as canonical JSON."""
    rules = {"decision": resource.get("decision"), "provision": resource.get("provision")}
    text = json.dumps(rules, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _provisions(resource: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    todo = list(resource.get("provision") or [])
    while todo:
        provision = todo.pop(0)
        if isinstance(provision, Mapping):
            yield provision
            todo.extend(provision.get("provision") or [])


def node_references(resource: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(path, token audience)`` of every node a provision names as an actor."""
    found = []
    todo = [(f"Consent.provision[{i}]", p) for i, p in enumerate(resource.get("provision") or [])]
    while todo:
        path, provision = todo.pop(0)
        for index, actor in enumerate(provision.get("actor") or []):
            identifier = (actor.get("reference") or {}).get("identifier") or {}
            if identifier.get("system") == NODE_SYSTEM and isinstance(identifier.get("value"), str):
                found.append((f"{path}.actor[{index}].reference", identifier["value"]))
        todo += [
            (f"{path}.provision[{i}]", p) for i, p in enumerate(provision.get("provision") or [])
        ]
    return found


def columns(resource: Mapping[str, Any]) -> Columns:
    """The columns of a valid Consent: status, decision, subject (the Patient id), date,
    period (its end the first instant after it), update time, and from every provision the
    EHDS purposes, DUO codes, data categories and nodes it names."""
    start, end = period_bounds(resource.get("period") or {})
    meta = resource.get("meta") or {}
    updated = meta.get("lastUpdated")
    raw_date = resource.get("date")
    purposes: list[str] = []
    codes: list[str] = []
    categories: list[str] = []
    nodes: list[str] = []
    for provision in _provisions(resource):
        for coding in provision.get("purpose") or []:
            if coding.get("system") == EHDS_PURPOSE_SYSTEM:
                purposes.append(coding.get("code"))
            elif coding.get("system") == DUO_SYSTEM:
                codes.append(duo.normalise_code(coding.get("code", "")))
        for coding in provision.get("resourceType") or []:
            categories += [c for c, types in CATEGORY_TYPES.items() if coding.get("code") in types]
        for actor in provision.get("actor") or []:
            identifier = (actor.get("reference") or {}).get("identifier") or {}
            if identifier.get("system") == NODE_SYSTEM and identifier.get("value"):
                nodes.append(identifier["value"])
    subject = str((resource.get("subject") or {}).get("reference", ""))
    return Columns(
        status=resource.get("status", ""),
        decision=resource.get("decision", ""),
        subject=subject.removeprefix("Patient/") if subject.startswith("Patient/") else "",
        date=instant_range(raw_date)[0].date() if isinstance(raw_date, str) else None,
        period_start=start,
        period_end=end,
        last_updated=instant_range(updated)[0] if isinstance(updated, str) else None,
        purposes=list(dict.fromkeys(purposes)),
        duo_codes=list(dict.fromkeys(codes)),
        categories=list(dict.fromkeys(categories)),
        node_ids=list(dict.fromkeys(nodes)),
        rules_digest=rules_digest(resource),
    )


# ---------------------------------------------------------------------------------------------
# Validation


def validate(resource: object) -> tuple[Consent | None, list[Issue]]:
    """Check ``resource`` (parsed FHIR JSON) as an R5 Consent the portal can store and enforce.

    Returns the fhir.resources model (``None`` when the structure is wrong) and every issue
    found; the resource is valid when the list is empty.
    """
    if not isinstance(resource, dict):
        return None, [Issue("", "A Consent resource is a JSON object.", "structure")]
    if resource.get("resourceType") != "Consent":
        return None, [
            Issue("resourceType", "The resourceType must be Consent.", "structure"),
        ]
    issues = json_issues(resource)
    if issues:
        return None, issues
    try:
        model = Consent.model_validate(resource)
    except ValidationError as exc:
        return None, [structure_issue(error) for error in exc.errors()]
    except (KeyError, TypeError, ValueError) as exc:  # fhir.resources' own errors
        return None, [Issue("Consent", f"The resource cannot be read as FHIR R5: {exc}.")]
    issues = type_issues(resource, model.model_dump(mode="json", by_alias=True), "Consent")
    issues += rule_issues(resource)
    return (model if not issues else None), issues
