"""The consent decision: may data of a subject be used for a purpose, in a dataset held at a node,
at a given time, under a permit approved at a given time?

Pure Python: no Django, no database, no FHIR library (an import-linter contract and
``tests/consent/test_policy_boundary.py`` hold it to that). It reads the subject's current
Consent resources as FHIR R5 JSON (dicts), whoever wrote them, and answers permit or deny with
the provision that decided and a reason in plain words (:class:`Verdict`).

One consent
-----------
R5 gives each Consent a base ``decision`` (permit or deny); each level of ``provision`` is an
exception to the level above it, so its effect is the opposite (FHIR R5 Consent.decision:
"provisions assumed to be a negation of the previous level"). A provision applies to a request
when every criterion it states matches (its ``period``, ``actor``, ``action``, ``purpose``,
``resourceType``, ``code``, ``data``...); a provision stating none applies to everything. When
several sibling provisions apply, deny overrides permit; inside an applying provision its own
nested provisions are read the same way.

A criterion the portal cannot judge (a ``dataPeriod``, a ``securityLabel``, an actor it does
not know, a purpose code from a system it does not read, a modifier extension...) is *unsure*,
and is read against the request: a provision whose effect would deny applies, one whose effect
would permit does not. So every reading the portal cannot be sure of ends in a denial.

Purposes (``provision.purpose``) are codings of three kinds:

* EHDS Art 53(1) purposes (:data:`EHDS_PURPOSE_SYSTEM`, the codes of ``catalogue.purposes``).
  ``research`` (e) covers its points (i) ``research_innovation`` and (ii) ``research_ai``.
  Two v3-ActReason codes read as EHDS purposes: HRESCH (healthcare research) as ``research``
  and PUBHLTH as ``public_health``; HMARKT (marketing) never matches, EHDS Art 54(c) forbids it.
* GA4GH DUO permissions (NRES, GRU, HMB, DS, POA; :data:`DUO_SYSTEM`, CURIE codes): they cover
  the use the request declares when each of its DUO permissions is the same or narrower along
  the DUO hierarchy of ``catalogue.duo`` (a permit for HMB covers DS; GRU covers HMB, DS and
  POA; NRES covers everything). A request declaring none is covered by NRES, and by GRU when
  its EHDS purpose is research.
* DUO modifiers (NCU, NPU, IRB, PUB, ...): conditions. The request meets one when it declares
  it, or a modifier above it (NPUNCU meets NCU and NPU).

A provision that would *permit* is read narrowly: its EHDS purposes (any one of them), its DUO
permissions (any one) and its DUO modifiers (every one) must all match. A provision that would
*deny* is read broadly: any one of its purpose codings matching is enough. DUO defines
modifiers as conditions added to a permission, which is the narrow reading; the broad one is
what R5's "any of these purposes" says. Either way, doubt denies.

Nodes are the custodians a provision names (``actor`` with role v3-ParticipationType CST and
an identifier of :data:`NODE_SYSTEM` whose value is the node's token audience); datasets are
``data`` references with an identifier of :data:`DATASET_SYSTEM`. Data categories are FHIR
resource types (:data:`CATEGORY_TYPES`): the portal's datasets are images, so requests are for
``ImagingStudy`` unless the caller says otherwise. ``code`` matches when one of its codings or
its text names one of the dataset's conditions (cancer types).

A subject's consents together
-----------------------------
Each current Consent is read by its status, its period and its base decision:

* ``draft``, ``not-done``, ``entered-in-error`` and ``unknown`` consents are not in force: they
  play no part.
* A consent whose base decision is **permit** (a donation) governs the subject's data: while it
  is in force (``active``, inside its period) it permits exactly what its provisions permit and
  denies everything else, for every permit. Once withdrawn (``inactive``) it denies everything
  from the end of its period (the moment of withdrawal), for every permit, earlier ones too; so
  does a donation whose period has ended, or has not begun.
* A consent whose base decision is **deny** (an EHDS Art 71 opt-out) applies only to permits
  approved at or after it took effect (Art 71(3)): the start of its period, else its date. For
  those, while it is in force, it denies every purpose its provisions do not permit. A revoked
  opt-out (``inactive``) plays no part from the end of its period.
* Deny overrides permit across consents; a permit stands only when no consent denies.
* When no consent plays a part, the portal's default decides (``CONSENT_DEFAULT``: permit, as
  EHDS's opt-out model has it, or deny).

FHIR times, partial ones included, are read as ``consent.terms`` says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from consent.provisions import Matcher
from consent.provisions import Request as Request
from consent.terms import DECISIONS, IMAGING, instant_range, period_bounds, within

PERMIT = "permit"
# The statuses of consents that play a part (the others never do).
_IN_FORCE = frozenset({"active", "inactive"})
# The earliest approval time there is: "a permit approved before every opt-out".
_BEFORE_EVERYTHING = datetime(1, 1, 2, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# What is asked, and what is answered


@dataclass(frozen=True)
class Verdict:
    """The answer: ``permit``, the provision that decided (a FHIRPath-like path such as
    ``Consent/<id>/_history/3#provision[0].provision[1]``, or ``default``) and why in plain
    words.

    For a denial, ``applies_to_earlier_permits`` says whether it holds for a permit approved
    before every consent of the subject (a withdrawal does; an opt-out alone does not), and
    ``since`` is when it took effect: a permit approved before ``since`` is not refused when
    ``applies_to_earlier_permits`` is false (EHDS Art 71(3); the exclusion list's entry).
    """

    permit: bool
    provision: str
    reason: str
    since: datetime | None = None
    applies_to_earlier_permits: bool = True


class ConsentFacts(NamedTuple):
    """What the decision reads of one Consent: its root elements, and its provisions as JSON.

    ``end`` is the first instant after the period; ``recorded`` is when this version was
    written (``meta.lastUpdated``, else ``date``). ``unreadable`` names a root element the
    portal does not apply (a modifier extension, implicit rules), which makes the consent deny.
    """

    ref: str
    status: str
    decision: str
    start: datetime | None
    end: datetime | None
    recorded: datetime | None
    provisions: Sequence[Mapping[str, Any]]
    unreadable: str = ""


def facts_of(resource: Mapping[str, Any]) -> ConsentFacts:
    """The :class:`ConsentFacts` of a Consent resource (FHIR JSON). Unreadable times count as
    absent: a stored Consent was validated, so this happens only with other input."""
    meta = resource.get("meta")
    if not isinstance(meta, Mapping):
        meta = {}
    ref = "Consent"
    if isinstance(resource.get("id"), str):
        ref = f"Consent/{resource['id']}"
        if isinstance(meta.get("versionId"), str):
            ref += f"/_history/{meta['versionId']}"
    try:
        start, end = period_bounds(resource.get("period", {}))
    except ValueError:
        start, end = None, None
    recorded = None
    for value in (meta.get("lastUpdated"), resource.get("date")):
        if isinstance(value, str):
            try:
                recorded = instant_range(value)[0]
                break
            except ValueError:
                continue
    provisions = resource.get("provision")
    unreadable = ""
    if resource.get("modifierExtension"):
        unreadable = "modifierExtension"
    elif resource.get("implicitRules"):
        unreadable = "implicitRules"
    return ConsentFacts(
        ref=ref,
        status=str(resource.get("status", "")),
        decision=str(resource.get("decision", "")),
        start=start,
        end=end,
        recorded=recorded,
        provisions=provisions if isinstance(provisions, list) else [],
        unreadable=unreadable,
    )


def decide(
    consents: Sequence[Mapping[str, Any]],
    *,
    purpose: str,
    duo_codes: frozenset[str],
    dataset: str,
    node: str,
    at: datetime,
    permit_approved_at: datetime | None,
    default_permit: bool,
    resource_type: str = IMAGING,
    conditions: frozenset[str] = frozenset(),
) -> Verdict:
    """May data of the subject whose current Consent resources are ``consents`` be used for
    ``purpose`` (an EHDS Art 53 code), described by ``duo_codes`` (the DUO permission of the
    use and the modifiers it meets), in ``dataset`` (its identifier) held at ``node`` (its
    token audience), at ``at``, under a permit approved at ``permit_approved_at``?

    The rules are the module's. ``resource_type`` is the kind of data (images unless said
    otherwise) and ``conditions`` the dataset's conditions, which ``provision.code`` is read
    against.
    """
    request = Request(
        purpose=purpose,
        duo_codes=frozenset(duo_codes),
        dataset=dataset,
        node=node,
        at=at,
        permit_approved_at=permit_approved_at,
        resource_type=resource_type,
        conditions=frozenset(conditions),
    )
    return Evaluator(request, default_permit=default_permit).verdict(
        [facts_of(c) for c in consents]
    )


# ---------------------------------------------------------------------------------------------
# The evaluation


class _Outcome(NamedTuple):
    permit: bool
    path: str
    reason: str
    since: datetime | None = None
    opt_out: bool = False  # a denial that applies only to permits approved from ``since``


def _fmt(moment: datetime | None) -> str:
    """The day of ``moment`` (UTC): reasons name the day, ``Verdict.since`` the instant."""
    return moment.astimezone(UTC).date().isoformat() if moment else "an unknown day"


class Evaluator:
    """Decides for one request, many subjects: the outcome of a provision tree is computed once
    per tree object (the selectors hand the same tree to every subject whose consent has the
    same rules). :func:`decide` is this with one subject."""

    def __init__(self, request: Request, *, default_permit: bool) -> None:
        self.request = request
        self.default_permit = default_permit
        self._matcher = Matcher(request)
        self._trees: dict[tuple[int, str], tuple[object, bool, str]] = {}
        self._permits: dict[tuple[object, ...], bool] = {}
        self._pinned: dict[int, object] = {}

    # -- a subject ------------------------------------------------------------------------------

    def permits(self, consents: Sequence[ConsentFacts]) -> bool:
        """``verdict(consents).permit``, worked out once for all the subjects whose consents
        stand in the same way to the request (same kind, same rules, in force or not, binding
        the permit or not): what counting a cohort needs."""
        key = tuple([self._standing(c) for c in consents])
        permit = self._permits.get(key)
        if permit is None:
            permit = self.verdict(consents).permit
            self._permits[key] = permit
        return permit

    def _standing(self, facts: ConsentFacts) -> object:
        """What the permit-or-deny of ``facts`` depends on besides its rules (whose outcome
        for this request ``_tree`` keeps, by tree)."""
        decision, status = facts.decision, facts.status
        if decision not in DECISIONS or status not in _IN_FORCE:
            return None
        if facts.unreadable:
            return "unreadable"
        tree = id(facts.provisions)
        self._pinned[tree] = facts.provisions  # its id stands for it while cached
        at, start, end = self.request.at, facts.start, facts.end
        in_force = (
            (start is None or start <= at)
            and (end is None or at < end)
            and (status == "active" or end is not None)
        )
        if decision == PERMIT:
            return (PERMIT, tree) if in_force else "out of force"
        took_effect = start or facts.recorded
        if not in_force or (took_effect is not None and self.request.approved_at < took_effect):
            return None
        return ("deny", tree)

    def verdict(self, consents: Iterable[ConsentFacts]) -> Verdict:
        """The decision for one subject whose current consents are ``consents``."""
        consents = list(consents)
        outcomes = [self._judge(c, self.request.approved_at) for c in consents]
        played = [o for o in outcomes if o is not None]
        denials = [o for o in played if not o.permit]
        if not denials:
            chosen = next((o for o in played if o.permit), None)
            if chosen is None:
                return self._default()
            return Verdict(True, chosen.path, chosen.reason)
        for_every_permit = [o for o in denials if not o.opt_out]
        if for_every_permit:
            chosen = for_every_permit[0]
            return Verdict(False, chosen.path, chosen.reason, chosen.since, True)
        # Only opt-outs deny: would a permit approved before all of them be refused anyway?
        chosen = min(denials, key=lambda o: o.since or _BEFORE_EVERYTHING)
        earlier = [o for o in (self._judge(c, _BEFORE_EVERYTHING) for c in consents) if o]
        refused_anyway = any(not o.permit for o in earlier) or (
            not any(o.permit for o in earlier) and not self.default_permit
        )
        return Verdict(False, chosen.path, chosen.reason, chosen.since, refused_anyway)

    def _default(self) -> Verdict:
        if self.default_permit:
            return Verdict(
                True,
                "default",
                "No consent of this person is in force: the portal's default applies "
                "(CONSENT_DEFAULT=permit, the EHDS opt-out model).",
            )
        return Verdict(
            False,
            "default",
            "No consent of this person is in force: the portal's default applies "
            "(CONSENT_DEFAULT=deny).",
        )

    # -- a consent ------------------------------------------------------------------------------

    def _judge(self, facts: ConsentFacts, approved_at: datetime) -> _Outcome | None:
        """The outcome of one consent, or ``None`` when it plays no part."""
        at = self.request.at
        if facts.decision not in DECISIONS or facts.status not in _IN_FORCE:
            return None
        if facts.unreadable:
            return _Outcome(
                False,
                f"{facts.ref}#{facts.unreadable}",
                f"This consent carries {facts.unreadable}, which the portal does not apply: "
                "it cannot be followed safely, so it denies.",
                facts.recorded,
            )
        in_force = within(at, facts.start, facts.end) and (
            facts.status == "active" or facts.end is not None
        )
        if facts.decision == PERMIT:
            if not in_force:
                return self._not_in_force(facts)
            permit, path = self._tree(facts)
            if permit:
                return _Outcome(True, path, "The person's consent permits this use.")
            return _Outcome(
                False,
                path,
                "The person's consent does not permit this use (purpose, data, node or period).",
                facts.recorded or facts.start,
            )
        # An opt-out: only permits approved at or after it took effect (EHDS Art 71(3)).
        if not in_force:
            return None
        took_effect = facts.start or facts.recorded
        if took_effect is not None and approved_at < took_effect:
            return None
        permit, path = self._tree(facts)
        if permit:
            return _Outcome(True, path, "The person's opt-out makes an exception for this use.")
        return _Outcome(
            False,
            path,
            f"The person opted out of secondary use (EHDS Art 71) on {_fmt(took_effect)}; "
            "the opt-out applies to permits approved from then on.",
            took_effect,
            True,
        )

    def _not_in_force(self, facts: ConsentFacts) -> _Outcome:
        at = self.request.at
        if facts.status == "inactive" and not (facts.start is not None and at < facts.start):
            since = facts.end or facts.recorded
            return _Outcome(
                False,
                f"{facts.ref}#status",
                f"The person withdrew this consent on {_fmt(since)}: from then on it denies "
                "every use, under every permit.",
                since,
            )
        if facts.start is not None and at < facts.start:
            return _Outcome(
                False,
                f"{facts.ref}#period",
                f"The person's consent starts on {_fmt(facts.start)}: until then it permits "
                "nothing.",
                facts.recorded,
            )
        return _Outcome(
            False,
            f"{facts.ref}#period",
            f"The person's consent ended on {_fmt(facts.end)}: from then on it permits nothing.",
            facts.end,
        )

    # -- provisions -----------------------------------------------------------------------------

    def _tree(self, facts: ConsentFacts) -> tuple[bool, str]:
        key = (id(facts.provisions), facts.decision)
        cached = self._trees.get(key)
        if cached is None:
            permit, suffix = self._level(facts.decision == PERMIT, facts.provisions, "")
            # The tree is kept with the result so that its id is not reused while cached.
            cached = (facts.provisions, permit, suffix)
            self._trees[key] = cached
        _tree, permit, suffix = cached
        return permit, f"{facts.ref}#{suffix or 'decision'}"

    def _level(
        self, permit: bool, provisions: Sequence[Mapping[str, Any]], prefix: str
    ) -> tuple[bool, str]:
        """The decision at a level whose own decision is ``permit``: the negation wherever one
        of its ``provisions`` applies (deny first among siblings), else its own."""
        effect = not permit
        found: tuple[bool, str] | None = None
        for index, provision in enumerate(provisions):
            if not isinstance(provision, Mapping) or not self._matcher.applies(provision, effect):
                continue
            path = f"{prefix}.provision[{index}]" if prefix else f"provision[{index}]"
            nested = provision.get("provision")
            result = self._level(effect, nested if isinstance(nested, list) else [], path)
            if not result[0]:
                return result
            found = found or result
        return found if found is not None else (permit, prefix)


# ---------------------------------------------------------------------------------------------
# Every use at once (the exclusion list's subject entries)


def denies_every_use(
    consents: Iterable[ConsentFacts], at: datetime
) -> tuple[datetime, bool] | None:
    """When a subject's consents deny every use whatever its purpose, dataset or node (so that
    one entry can stand for every permit): ``(since, applies_to_earlier_permits)``, else None.

    - a donation withdrawn (``inactive``) or whose period is over, or a consent the portal
      cannot apply (``unreadable``), denies everything from its end, under every permit
      (:meth:`Evaluator._not_in_force`, GDPR Art 7(3));
    - an opt-out in force without provisions (the portal's own, ``fhir.opt_out``) denies every
      purpose for permits approved from when it took effect (EHDS Art 71(3)).

    A denial by any one consent stands whatever the others say (deny overrides permit). A
    donation that has not begun yet is left to the decision per permit: it will change by
    itself.
    """
    for_every_permit: list[datetime] = []
    opt_outs: list[datetime] = []
    for facts in consents:
        if facts.decision not in DECISIONS or facts.status not in _IN_FORCE:
            continue
        took_effect = facts.start or facts.recorded or _BEFORE_EVERYTHING
        if facts.unreadable:
            for_every_permit.append(facts.recorded or _BEFORE_EVERYTHING)
            continue
        in_force = within(at, facts.start, facts.end) and (
            facts.status == "active" or facts.end is not None
        )
        if facts.decision == PERMIT:
            if in_force or (facts.start is not None and at < facts.start):
                continue
            for_every_permit.append(facts.end or facts.recorded or _BEFORE_EVERYTHING)
        elif in_force and not facts.provisions:
            opt_outs.append(took_effect)
    if for_every_permit:
        return min(for_every_permit), True
    if opt_outs:
        return min(opt_outs), False
    return None


# Why a subject is not allowed, in four words a committee reads (``cause_of``).
WITHDRAWN = "withdrawn"
OPTED_OUT = "opted_out"
OUTSIDE_DONATION = "outside_donation"
NO_CONSENT = "no_consent"


def cause_of(verdict: Verdict) -> str:
    """The kind of a denial: the person withdrew their consent (:data:`WITHDRAWN`), opted out
    of secondary use (:data:`OPTED_OUT`), has no consent in force under an opt-in default
    (:data:`NO_CONSENT`), or donated for other uses, places or times, or in terms the portal
    cannot apply (:data:`OUTSIDE_DONATION`). Read from the provision that decided."""
    if verdict.provision == "default":
        return NO_CONSENT
    if verdict.provision.endswith("#status"):
        return WITHDRAWN
    if verdict.reason.startswith("The person opted out"):
        return OPTED_OUT
    return OUTSIDE_DONATION
