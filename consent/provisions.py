"""Whether a Consent provision applies to a request: the criteria the portal reads (period,
custodian actors, action, purpose, resource type, code, data) and how (``consent.policy``'s
docstring has the rules). Pure Python, like ``consent.policy``."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catalogue import duo
from consent.terms import (
    ACT_REASON,
    ACT_REASON_NEVER,
    ACT_REASON_PURPOSES,
    CONSENT_ACTION,
    CUSTODIAN,
    DATASET_SYSTEM,
    DUO_SYSTEM,
    EHDS_PURPOSE_SYSTEM,
    EHDS_PURPOSES,
    FHIR_TYPES,
    IMAGING,
    KNOWN_ACTIONS,
    NARROWER_PURPOSES,
    NODE_SYSTEM,
    PARTICIPATION_TYPE,
    RESEARCH_PURPOSES,
    USE_ACTIONS,
    broader_uses,
    codings,
    items,
    most_specific,
    period_bounds,
    within,
)

# Criteria the portal reads; anything else in a provision (but ``provision`` itself, ``id`` and
# ``extension``) makes it unsure.
_IGNORED = frozenset({"id", "extension", "provision"})


@dataclass(frozen=True)
class Request:
    """The use asked about. ``permit_approved_at`` ``None`` means a permit not approved yet,
    read as approved at ``at`` (the strictest: every opt-out recorded so far applies)."""

    purpose: str
    duo_codes: frozenset[str]
    dataset: str
    node: str
    at: datetime
    permit_approved_at: datetime | None
    resource_type: str = IMAGING
    conditions: frozenset[str] = frozenset()

    @property
    def approved_at(self) -> datetime:
        return self.at if self.permit_approved_at is None else self.permit_approved_at


class Matcher:
    """Reads provisions against one request. Each criterion answers True, False or None
    (unsure)."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self._normalised = frozenset(duo.normalise_code(c) for c in request.duo_codes)
        self._permissions = most_specific(c for c in self._normalised if duo.is_permission(c))

    def applies(self, provision: Mapping[str, Any], effect_permit: bool) -> bool:
        """Whether ``provision`` applies to the request; ``effect_permit`` is what it would
        do. Every criterion it states must match; an unsure one makes a denial apply and a
        permission not."""
        results: list[bool | None] = []
        for name, value in provision.items():
            if name in _IGNORED:
                continue
            check = _CRITERIA.get(name)
            results.append(None if check is None else check(self, value, effect_permit))
        result = _all(results)
        if result is None:
            return not effect_permit  # unsure: a denial applies, a permission does not
        return result

    def _period(self, value: object, _effect: bool) -> bool | None:
        try:
            start, end = period_bounds(value)
        except ValueError:
            return None
        return within(self.request.at, start, end)

    def _actors(self, value: object, _effect: bool) -> bool | None:
        results: list[bool | None] = []
        for actor in items(value):
            custodian = any(
                c.get("system") == PARTICIPATION_TYPE and c.get("code") == CUSTODIAN
                for c in codings(actor.get("role"))
            )
            reference = actor.get("reference")
            identifier = reference.get("identifier") if isinstance(reference, Mapping) else None
            if (
                custodian
                and isinstance(identifier, Mapping)
                and identifier.get("system") == NODE_SYSTEM
            ):
                results.append(identifier.get("value") == self.request.node)
            else:
                results.append(None)
        return _any(results)

    def _actions(self, value: object, _effect: bool) -> bool | None:
        results: list[bool | None] = []
        for concept in items(value):
            for coding in codings(concept):
                if coding.get("system") == CONSENT_ACTION and coding.get("code") in KNOWN_ACTIONS:
                    results.append(coding.get("code") in USE_ACTIONS)
                else:
                    results.append(None)
        return _any(results)

    def _resource_types(self, value: object, _effect: bool) -> bool | None:
        results: list[bool | None] = []
        for coding in items(value):
            if coding.get("system") in (None, FHIR_TYPES):
                results.append(coding.get("code") == self.request.resource_type)
            else:
                results.append(None)
        return _any(results)

    def _codes(self, value: object, _effect: bool) -> bool | None:
        wanted = {_plain(c) for c in self.request.conditions}
        for concept in items(value):
            names = [concept.get("text")] + [
                n for c in codings(concept) for n in (c.get("code"), c.get("display"))
            ]
            if any(isinstance(n, str) and _plain(n) in wanted for n in names):
                return True
        return None  # another vocabulary may name the same condition: unsure

    def _data(self, value: object, _effect: bool) -> bool | None:
        results: list[bool | None] = []
        for item in items(value):
            reference = item.get("reference")
            identifier = reference.get("identifier") if isinstance(reference, Mapping) else None
            if isinstance(identifier, Mapping) and identifier.get("system") == DATASET_SYSTEM:
                results.append(identifier.get("value") == self.request.dataset)
            else:
                results.append(None)
        return _any(results)

    def _purposes(self, value: object, effect_permit: bool) -> bool | None:
        kinds: dict[str, list[bool | None]] = {"purpose": [], "use": [], "condition": []}
        for coding in items(value):
            kind, covered = self._purpose(coding)
            kinds[kind].append(covered)
        if not effect_permit:  # a denial: any one purpose is enough
            return _any([r for results in kinds.values() for r in results])
        return _all(
            [
                _any(kinds["purpose"]) if kinds["purpose"] else True,
                _any(kinds["use"]) if kinds["use"] else True,
                _all(kinds["condition"]),
            ]
        )

    def _purpose(self, coding: Mapping[str, Any]) -> tuple[str, bool | None]:
        """The kind of a purpose coding (an EHDS purpose, a DUO use, a DUO condition) and
        whether the request falls under it."""
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(code, str):
            return "purpose", None
        if system == EHDS_PURPOSE_SYSTEM:
            return "purpose", (self._ehds(code) if code in EHDS_PURPOSES else None)
        if system == ACT_REASON:
            if code in ACT_REASON_NEVER:
                return "purpose", False
            mapped = ACT_REASON_PURPOSES.get(code)
            return "purpose", (self._ehds(mapped) if mapped else None)
        if system == DUO_SYSTEM:
            term = duo.normalise_code(code)
            if term in duo.BY_CODE and duo.is_permission(term):
                return "use", self._use_covered(term)
            if term in duo.BY_CODE and duo.is_modifier(term):
                return "condition", self._meets(term)
        return "purpose", None

    def _ehds(self, code: str) -> bool:
        purpose = self.request.purpose
        return purpose == code or purpose in NARROWER_PURPOSES.get(code, frozenset())

    def _use_covered(self, permission: str) -> bool | None:
        if not self._permissions:
            if permission == duo.NRES:
                return True
            if permission == duo.GRU and self.request.purpose in RESEARCH_PURPOSES:
                return True
            return None
        return all(p == permission or permission in broader_uses(p) for p in self._permissions)

    def _meets(self, modifier: str) -> bool:
        above = duo.ancestors(modifier) - {duo.MODIFIER}
        return modifier in self._normalised or bool(above & self._normalised)


_CRITERIA = {
    "period": Matcher._period,
    "actor": Matcher._actors,
    "action": Matcher._actions,
    "resourceType": Matcher._resource_types,
    "code": Matcher._codes,
    "data": Matcher._data,
    "purpose": Matcher._purposes,
}


def _all(results: Iterable[bool | None]) -> bool | None:
    results = list(results)
    if False in results:
        return False
    return None if None in results else True


def _any(results: Iterable[bool | None]) -> bool | None:
    results = list(results)
    if True in results:
        return True
    return None if None in results else False


def _plain(text: str) -> str:
    return " ".join(text.casefold().split())
