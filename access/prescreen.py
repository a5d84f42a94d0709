"""Pre-screening of a data access application against a dataset's data-use conditions (DUO).

When an application is submitted, each requested dataset gets a verdict: ``compatible``,
``incompatible`` or ``needs_judgement``, with the findings (one per condition) that produced it.
The verdict is advice to the committee; people decide.

This module reads no database. It works on the DUO codes the dataset carries, the dataset's
conditions (cancer types, free text) and what the applicant declared (EHDS purpose, DUO codes
describing the use, diseases studied, commercial use, ethics approval). The DUO terms and the
EHDS purposes are the catalogue's (``catalogue.duo``, ``catalogue.purposes``).

Overall outcome: ``incompatible`` if any finding is incompatible, else ``needs_judgement`` if
any finding needs judgement, else ``compatible``.

DUO hierarchy
-------------
``catalogue.duo.HIERARCHY`` maps each DUO term to its DUO parents as asserted in the DUO release
the portal ships (2021-02-23, ``shared/data/duo/duo.owl``); a test checks it against that file.
In that release NRES, GRU and POA are siblings under "data use permission" (DUO:0000001); HMB is
under GRU and DS under HMB; every modifier is under "data use modifier" (DUO:0000017) except NPU
and NCU, which are under NPUNCU.

Matching a declared use against a permission uses an *order of uses* built from the hierarchy
with two additions, both from DUO's own text rather than its class axioms:

* POA also counts as narrower than GRU: GRU's definition note says it "includes ... the study of
  population origins or ancestry".
* NRES is broader than every other use: an application that calls its use "no restriction" has
  not said what the use is.

The application's permission codes are first reduced to the most specific ones ({HMB, DS} is
read as DS); every remaining declared use must then be allowed.

Rules
-----
Purposes are the EHDS Art 53(1) codes: research purposes are ``research`` (e),
``research_innovation`` (e)(i) and ``research_ai`` (e)(ii); the others are ``public_health``
(a), ``policy`` (b), ``statistics`` (c), ``education`` (d) and ``improving_care`` (f).

=========  ===================================================================  ===============
Code       Rule                                                                 Outcome
=========  ===================================================================  ===============
(none)     the dataset records no DUO code                                      needs_judgement
(none)     the dataset records modifiers but no permission (finding on          needs_judgement
           DUO:0000001)
NRES       any purpose, any use                                                 compatible
GRU,HMB,   purpose is research (e), (e)(i), (e)(ii)                             compatible
DS,POA     purpose is (f) improving care and the dataset also records CC        compatible
 (purpose) any other purpose (a)-(d), (f): a research permission; whether this  needs_judgement
           use counts is for the committee; purpose missing or not an EHDS one
GRU        declared use is GRU, HMB, DS or POA, or none declared                compatible
           declared use is NRES                                                 needs_judgement
HMB        declared use is HMB or DS (HMB or narrower)                          compatible
           declared use is GRU or NRES (broader than HMB)                       needs_judgement
           declared use is POA (HMB excludes population origins/ancestry)       incompatible
           no use declared (with CC and purpose (f): compatible)                needs_judgement
DS         declared use DS and every studied disease is one of the dataset's    compatible
           conditions (case-insensitive, whitespace-normalised names or codes)
           dataset names no condition, application names no disease; a name     needs_judgement
           related to a condition (shares a significant word, or one contains
           the other: a possible subtype or synonym); a disease code that no
           condition equals (comparing codes needs a disease ontology); some
           diseases match and others do not
           every studied disease is a free-text name sharing nothing with any   incompatible
           condition ("breast cancer" vs "lung cancer")
           declared use GRU/HMB/NRES or none (broader than DS): as above, but   needs_judgement
           at best needs_judgement (with CC and purpose (f), none declared is
           read as clinical care of the disease: as for DS)
           declared use POA (DS is under HMB, which excludes it)                incompatible
POA        declared use POA                                                     compatible
           declared use GRU or NRES (broader: may or may not be ancestry work)  needs_judgement
           declared use HMB or DS, or none declared                             incompatible
(several   each permission is checked; if they disagree, an incompatible one    needs_judgement
 perms)    is lowered to needs_judgement: which permission governs is for the
           committee (DUO expects one permission per dataset)
NCU        commercial use declared                                              incompatible
           non-commercial use declared                                          compatible
NPUNCU     commercial use declared                                              incompatible
           non-commercial use declared (organisation status not recorded:       compatible
           taken from the non-commercial declaration)
NPU        commercial use declared (organisation type not recorded)             needs_judgement
           non-commercial use declared                                          compatible
IRB        ethics approval attached                                             compatible
           no ethics approval attached                                          needs_judgement
GSO        the application declares GSO (a genetic study)                       compatible
           otherwise (imaging research is not a genetic study)                  incompatible
NMDS       purpose (e)(i) or (e)(ii): methods/algorithm development             incompatible
           same, but DS dataset and every studied disease matches: DUO forbids  needs_judgement
           *general* methods research; disease-specific work may be inside
           purpose (a)-(e), (f) other than (e)(i)/(e)(ii)                       compatible
           purpose missing or not an EHDS one                                   needs_judgement
NPOA       the application declares POA                                         incompatible
           otherwise                                                            compatible
CC         adds clinical care use; restricts nothing (any purpose)              compatible
PUB, COL,  a requirement the data holder set: the committee must turn it into   needs_judgement
RTN, MOR,  a permit condition (the finding spells it out)
TS, US,
PS, IS,
GS, RS
(other)    DUO:0000001 or DUO:0000017 (categories, not conditions), obsolete    needs_judgement
           or unknown codes
=========  ===================================================================  ===============

Codes are accepted as CURIEs (``DUO:0000046``), with an underscore (``DUO_0000046``) or as OBO
IRIs; findings always carry the CURIE. Findings come one per distinct dataset code: permissions
first, then the other codes in the dataset's order (a set is sorted). The DS diseases are the
dataset's conditions (its cancer types). Of the modifiers an application lists, only GSO (a
declared genetic study) plays a part; the others are what the applicant accepts, and the
committee holds them to it through the permit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from catalogue.duo import (
    CC,
    COL,
    DS,
    GRU,
    GS,
    GSO,
    IRB,
    IS,
    MODIFIER,
    MOR,
    NCU,
    NMDS,
    NPOA,
    NPU,
    NPUNCU,
    NRES,
    PERMISSION,
    POA,
    PS,
    PUB,
    RS,
    RTN,
    TS,
    US,
    ancestors,
    is_modifier,
    is_permission,
    normalise_code,
)
from catalogue.duo import label as _name
from catalogue.duo import shorthand as _short
from catalogue.purposes import FINDING_NAMES, METHODS_PURPOSES, RESEARCH_PURPOSES, Purpose

COMPATIBLE = "compatible"
INCOMPATIBLE = "incompatible"
NEEDS_JUDGEMENT = "needs_judgement"
_SEVERITY = {COMPATIBLE: 0, NEEDS_JUDGEMENT: 1, INCOMPATIBLE: 2}


def _purpose(purpose: str) -> str:
    return f'"EHDS Art 53(1){FINDING_NAMES[purpose]}"'


def _broader_uses(code: str) -> frozenset[str]:
    """The uses broader than ``code`` in the order of uses (see the module docstring)."""
    broader = {c for c in ancestors(code) if c != PERMISSION}
    if code == POA:
        broader.add(GRU)
    if code != NRES:
        broader.add(NRES)
    return frozenset(broader)


def _worst(outcomes: Iterable[str]) -> str:
    return max(outcomes, key=_SEVERITY.__getitem__, default=COMPATIBLE)


@dataclass(frozen=True)
class Request:
    """What the application declares about its use."""

    purpose: str
    duo_codes: frozenset[str]
    commercial: bool
    disease_codes: frozenset[str] = frozenset()
    has_ethics_approval: bool = False
    applicant_country: str = ""
    institution: str = ""


@dataclass(frozen=True)
class Finding:
    code: str
    outcome: str
    rule: str


@dataclass(frozen=True)
class Verdict:
    outcome: str
    findings: list[Finding] = field(default_factory=list)


# -- diseases ---------------------------------------------------------------------------------

# Words too general to tell one cancer from another when comparing free-text names.
_GENERIC_WORDS = frozenset(
    {
        "cancer", "cancers", "carcinoma", "carcinomas", "tumour", "tumours", "tumor", "tumors",
        "neoplasm", "neoplasms", "malignant", "malignancy", "malignancies", "disease",
        "diseases", "of", "the", "and", "in", "with",
    }
)  # fmt: skip
_WORD = re.compile(r"[^\W_]+")


def _norm_text(text: str) -> str:
    return " ".join(text.split()).casefold()


def _is_code(text: str) -> bool:
    """An ontology code or IRI (``MONDO:0007254``, ``ICD10:C50``) rather than a name."""
    return ":" in text and not any(ch.isspace() for ch in text)


def _related(a: str, b: str) -> bool:
    """Two free-text disease names that may denote the same disease, or one a subtype."""
    if f" {a} " in f" {b} " or f" {b} " in f" {a} ":
        return True
    words_a = set(_WORD.findall(a)) - _GENERIC_WORDS
    words_b = set(_WORD.findall(b)) - _GENERIC_WORDS
    return bool(words_a & words_b)


def match_diseases(diseases: Iterable[str], conditions: Iterable[str]) -> tuple[str, str]:
    """Compare the diseases an application studies with a DS dataset's conditions.

    Returns (outcome, reason). Names are compared case-insensitively with whitespace
    normalised; there is no disease ontology here, so subtypes and synonyms are never taken as a
    match: they are left to the committee.
    """
    wanted = sorted({_norm_text(d) for d in diseases if d.strip()})
    have = sorted({_norm_text(c) for c in conditions if c.strip()})
    if not have:
        return NEEDS_JUDGEMENT, "the dataset names no disease for its DS condition"
    if not wanted:
        return NEEDS_JUDGEMENT, (
            f"the application names no disease, so it cannot be checked against {_list(have)}"
        )
    matched, unclear, different = [], [], []
    for disease in wanted:
        if disease in have:
            matched.append(disease)
        elif _is_code(disease) or any(_is_code(c) or _related(disease, c) for c in have):
            # A code against anything else needs a disease ontology; a related name may be the
            # same disease or a subtype.
            unclear.append(disease)
        else:
            different.append(disease)
    if not unclear and not different:
        return COMPATIBLE, f"the studied disease(s) {_list(matched)} are among {_list(have)}"
    if not matched and not unclear:
        return INCOMPATIBLE, (
            f"the studied disease(s) {_list(different)} are not among {_list(have)} "
            "(compared by name)"
        )
    parts = []
    if matched:
        parts.append(f"{_list(matched)} among the dataset's diseases")
    if unclear:
        parts.append(
            f"{_list(unclear)} possibly the same as or a subtype of {_list(have)} "
            "(needs a disease ontology or the committee)"
        )
    if different:
        parts.append(f"{_list(different)} not among them")
    return NEEDS_JUDGEMENT, "studied disease(s): " + "; ".join(parts)


def _list(items: Iterable[str]) -> str:
    return ", ".join(f'"{i}"' for i in items)


# -- permissions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    request: Request
    dataset_codes: frozenset[str]
    conditions: tuple[str, ...]
    declared: frozenset[str]  # every code the application lists, normalised
    uses: frozenset[str]  # of those, the most specific permission codes

    @property
    def clinical(self) -> bool:
        """Clinical care under a CC modifier the dataset records."""
        return self.request.purpose == "improving_care" and CC in self.dataset_codes

    def diseases(self) -> tuple[str, str]:
        return match_diseases(self.request.disease_codes, self.conditions)


def _declared_uses(codes: Iterable[str]) -> frozenset[str]:
    """The application's permission codes, without any that a more specific one implies."""
    uses = {c for c in codes if is_permission(c)}
    return frozenset(u for u in uses if not any(u in _broader_uses(o) for o in uses))


def _purpose_check(code: str, ctx: _Context) -> tuple[str, str]:
    purpose = ctx.request.purpose
    if purpose in RESEARCH_PURPOSES:
        return COMPATIBLE, f"the purpose {_purpose(purpose)} is research"
    if ctx.clinical:
        return COMPATIBLE, f"the purpose {_purpose(purpose)} is clinical care, which CC allows"
    if purpose in Purpose.values:
        return NEEDS_JUDGEMENT, (
            f"{_short(code)} allows research, and the purpose {_purpose(purpose)} is not "
            "research: the committee must judge whether this use falls within it"
        )
    return NEEDS_JUDGEMENT, "the application states no EHDS Art 53(1) purpose"


def _use_check(code: str, use: str, ctx: _Context) -> tuple[str, str]:
    """One declared use against the dataset permission ``code``."""
    here, there = _short(code), _short(use)
    if use == code or code in _broader_uses(use):
        if code == DS:
            return ctx.diseases()
        return COMPATIBLE, f"the declared use {there} is {here} or narrower"
    if use in _broader_uses(code):
        reason = f"the declared use {there} is broader than {here}: the committee must confirm"
        if code == DS:
            outcome, diseases = ctx.diseases()
            if outcome == INCOMPATIBLE:
                return INCOMPATIBLE, diseases
            return NEEDS_JUDGEMENT, f"{reason} the research concerns the disease ({diseases})"
        if code == POA:
            return NEEDS_JUDGEMENT, f"{reason} the research is population origins/ancestry"
        return NEEDS_JUDGEMENT, f"{reason} the research is within {here}"
    if code == POA:
        return INCOMPATIBLE, (
            f"POA allows only population origins or ancestry research, and the declared use "
            f"{there} is not that"
        )
    return INCOMPATIBLE, f"{here} excludes the declared use {there}"


def _no_use_check(code: str, ctx: _Context) -> tuple[str, str]:
    """The application declares no permission code."""
    if code == GRU:
        return COMPATIBLE, "GRU allows any research purpose"
    if code == POA:
        return INCOMPATIBLE, (
            "POA allows only population origins or ancestry research, and the application "
            "does not declare POA"
        )
    if ctx.clinical:
        if code == DS:
            return ctx.diseases()
        return COMPATIBLE, "clinical care use is allowed by CC"
    if code == DS:
        outcome, diseases = ctx.diseases()
        if outcome == INCOMPATIBLE:
            return INCOMPATIBLE, diseases
    return NEEDS_JUDGEMENT, (
        f"the application declares no DUO permission for its use, so {_short(code)} cannot be "
        "checked from codes"
    )


def _permission_finding(code: str, ctx: _Context) -> Finding:
    if code == NRES:
        return Finding(code, COMPATIBLE, f"{_name(code)}: any use is allowed")
    checks = [_purpose_check(code, ctx)]
    if ctx.uses:
        checks += [_use_check(code, use, ctx) for use in sorted(ctx.uses)]
    else:
        checks.append(_no_use_check(code, ctx))
    outcome = _worst(o for o, _ in checks)
    reasons = [r for o, r in checks if o == outcome]
    return Finding(code, outcome, f"{_name(code)}: " + "; ".join(reasons))


# -- modifiers --------------------------------------------------------------------------------

_PERMIT_CONDITIONS = {
    PUB: "results must be made available to the wider scientific community - add as a permit "
    "condition (EHDS Art 61 also requires publishing results within 18 months)",
    COL: "the user must collaborate with the dataset's primary investigator(s) - add as a "
    "permit condition naming them",
    RTN: "derived or enriched data must be returned to the resource - add as a permit condition",
    MOR: "nothing may be published before the data holder's moratorium date - add the date as "
    "a permit condition",
    TS: "use is approved for a limited number of months - the permit's duration must not exceed it",
    US: "use is limited to users the data holder approved - the permit must list only them",
    PS: "use is limited to the approved project - the permit must name the project and allow "
    "no other use",
    RS: "use is limited to a certain type of research - check the project is of that type and "
    "state the restriction as a permit condition",
}


def _modifier_finding(code: str, ctx: _Context) -> Finding:
    outcome, reason = _modifier_check(code, ctx)
    return Finding(code, outcome, f"{_name(code)}: {reason}")


def _modifier_check(code: str, ctx: _Context) -> tuple[str, str]:
    request = ctx.request
    if code in (NCU, NPUNCU):
        if request.commercial:
            return INCOMPATIBLE, "the application declares commercial use"
        note = (
            " (the organisation's not-for-profit status is not recorded; it is taken from that)"
            if code == NPUNCU
            else ""
        )
        return COMPATIBLE, "the application declares non-commercial use" + note
    if code == NPU:
        if request.commercial:
            who = f"'{request.institution}'" if request.institution else "the organisation"
            return NEEDS_JUDGEMENT, (
                f"the application declares commercial use; the committee must check that {who} "
                "is a not-for-profit organisation"
            )
        return COMPATIBLE, "the application declares non-commercial use"
    if code == IRB:
        if request.has_ethics_approval:
            return COMPATIBLE, "an ethics approval is attached"
        return NEEDS_JUDGEMENT, (
            "no ethics approval is attached - require it before access (permit condition)"
        )
    if code == GSO:
        if GSO in ctx.declared:
            return COMPATIBLE, "the application declares a genetic study (GSO)"
        return INCOMPATIBLE, (
            "the data may be used only for genetic studies, and the application does not "
            "declare one (GSO)"
        )
    if code == NMDS:
        return _nmds_check(ctx)
    if code == NPOA:
        if POA in ctx.declared:
            return INCOMPATIBLE, "the application declares population origins/ancestry (POA)"
        return COMPATIBLE, "the application does not declare population origins/ancestry"
    if code == CC:
        if request.purpose == "improving_care":
            return COMPATIBLE, f"clinical care use is allowed, as {_purpose('improving_care')}"
        return COMPATIBLE, "CC adds clinical care use and restricts nothing"
    if code == IS:
        who = f"'{request.institution}'" if request.institution else "the applicant's institution"
        return NEEDS_JUDGEMENT, (
            f"use is limited to an approved institution - check that {who} is approved and "
            "name it in the permit"
        )
    if code == GS:
        where = (
            f"the applicant's country ({request.applicant_country})"
            if request.applicant_country
            else "the applicant's country (not stated)"
        )
        return NEEDS_JUDGEMENT, (
            f"use is limited to a geographic region - check that {where} is within it and "
            "restrict processing to it in the permit"
        )
    return NEEDS_JUDGEMENT, _PERMIT_CONDITIONS[code]


def _nmds_check(ctx: _Context) -> tuple[str, str]:
    purpose = ctx.request.purpose
    if purpose in METHODS_PURPOSES:
        if DS in ctx.dataset_codes and ctx.diseases()[0] == COMPATIBLE:
            return NEEDS_JUDGEMENT, (
                f"the purpose {_purpose(purpose)} develops methods; NMDS forbids general methods "
                "research, and methods work on the dataset's own disease may be within the DS "
                "permission - the committee must judge"
            )
        return INCOMPATIBLE, (
            f"the purpose {_purpose(purpose)} is methods or algorithm development, which NMDS "
            "forbids"
        )
    if purpose in Purpose.values:
        return COMPATIBLE, (
            f"the purpose {_purpose(purpose)} is not methods development (NMDS still forbids "
            "methods development within the project)"
        )
    return NEEDS_JUDGEMENT, (
        "the application states no EHDS Art 53(1) purpose, so NMDS cannot be checked"
    )


# -- screening --------------------------------------------------------------------------------


def screen(
    request: Request,
    dataset_duo_codes: list[str] | set[str],
    dataset_conditions: list[str] = (),  # type: ignore[assignment]
) -> Verdict:
    """Pre-screen one application against one dataset's DUO codes and conditions."""
    if isinstance(dataset_duo_codes, set | frozenset):
        raw = sorted(dataset_duo_codes)
    else:
        raw = list(dataset_duo_codes)
    codes = list(dict.fromkeys(normalise_code(c) for c in raw if c and c.strip()))
    if not codes:
        return Verdict(
            NEEDS_JUDGEMENT,
            [
                Finding(
                    "",
                    NEEDS_JUDGEMENT,
                    "No data-use conditions recorded: the dataset carries no DUO code, so the "
                    "committee must check its terms of use directly",
                )
            ],
        )
    request_codes = frozenset(normalise_code(c) for c in request.duo_codes)
    ctx = _Context(
        request=request,
        dataset_codes=frozenset(codes),
        conditions=tuple(dataset_conditions or ()),
        declared=request_codes,
        uses=_declared_uses(request_codes),
    )

    permissions = [_permission_finding(c, ctx) for c in codes if is_permission(c)]
    permissions = _reconcile(permissions)
    findings = list(permissions)
    if not permissions:
        findings.append(
            Finding(
                PERMISSION,
                NEEDS_JUDGEMENT,
                f"{_name(PERMISSION)}: the dataset records no DUO permission (NRES, GRU, HMB, "
                "DS or POA), so what use it allows must be judged from its terms",
            )
        )
    for code in codes:
        if is_permission(code):
            continue
        if is_modifier(code):
            findings.append(_modifier_finding(code, ctx))
        elif code in (PERMISSION, MODIFIER):
            findings.append(
                Finding(
                    code,
                    NEEDS_JUDGEMENT,
                    f"{_name(code)}: a DUO category, not a condition - the data holder must say "
                    "which term applies",
                )
            )
        else:
            findings.append(
                Finding(
                    code,
                    NEEDS_JUDGEMENT,
                    f"{code}: not a DUO term the pre-screening knows (obsolete or unknown) - "
                    "the committee must read the condition",
                )
            )
    return Verdict(_worst(f.outcome for f in findings), findings)


def _reconcile(permissions: list[Finding]) -> list[Finding]:
    """Several permissions on one dataset: if they disagree, none decides alone."""
    if len({f.outcome for f in permissions}) <= 1:
        return permissions
    names = ", ".join(_short(f.code) for f in permissions)
    return [
        Finding(
            f.code,
            NEEDS_JUDGEMENT,
            f"{f.rule} - but the dataset records several permissions ({names}) that disagree; "
            "which one governs is for the committee",
        )
        if f.outcome == INCOMPATIBLE
        else f
        for f in permissions
    ]
