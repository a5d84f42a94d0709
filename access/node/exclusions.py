"""The consent exclusion list: which pseudonymous subjects' studies a node may not serve under a
data permit, because their consent does not allow the permit's use. The portal signs it (JWT of
type ``exclusionlist+jwt``) for one node, and the node caches it like a status list.

Claims: ``iss``, ``sub`` (the list's URI), ``aud`` (the node), ``iat``, ``exp``, ``ttl``,
``version`` (a number the portal raises with every change) and the entries:

``permits``
    the permit numbers the list was computed for: every permit in force that grants a dataset at
    the node. A token whose ``permit`` is not among them is refused (the node first fetches the
    list again, in case the permit is new): the list cannot say anything of a permit it does not
    know, so the node fails closed.
``excluded``
    ``{permit: [[dataset, subject], ...]}``: the subjects of a dataset whose consent does not
    allow that permit's use (its EHDS purpose, DUO codes and approval time decide, exactly).
``subjects``
    ``{subject: [since, earlier_permits]}``: subjects whose consent denies every use at the node,
    from ``since`` (seconds since the epoch): a withdrawn donation (``earlier_permits`` true,
    GDPR Art 7(3): every permit) or an opt-out from secondary use (false, EHDS Art 71(3): only
    permits approved at or after ``since``, which the node reads from the token's
    ``permit_iat``). A subject listed here is not repeated under ``excluded`` for the permits
    it covers, so one withdrawal changes one entry.

A **delta** (the answer to ``?since=<version>``) carries ``base`` (the version it starts from),
``version``, and ``added`` and ``removed``, each with the same three members (``removed``
lists only the subjects' names under ``subjects``). :meth:`ExclusionList.apply` turns the list
of version ``base`` into the list of ``version``.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .reasons import Reason

LIST_TYPE = "exclusionlist+jwt"
MEDIA_TYPE = "application/exclusionlist+jwt"
MAX_TEXT = 256  # characters of a permit number, a dataset identifier or a pseudonym


class InvalidExclusionList(ValueError):
    """An exclusion list (or delta) that cannot be read."""


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise InvalidExclusionList(f"{what} must be a non-empty string of at most {MAX_TEXT}")
    return value


def _seconds(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidExclusionList(f"{what} must be a non-negative integer")
    return value


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidExclusionList(f"{what} must be a JSON object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidExclusionList(f"{what} must be a list")
    return value


@dataclass(frozen=True)
class SubjectExclusion:
    """A subject whose consent denies every use at the node from ``since``."""

    since: int
    earlier_permits: bool

    def covers(self, permit_iat: int | None) -> bool:
        """Whether it refuses a permit approved at ``permit_iat`` (unknown: refused)."""
        return self.earlier_permits or permit_iat is None or permit_iat >= self.since


@dataclass(frozen=True)
class Entries:
    """The three kinds of entry, as sets (what a full list holds, or one side of a delta)."""

    permits: frozenset[str] = frozenset()
    excluded: frozenset[tuple[str, str, str]] = frozenset()  # (permit, dataset, subject)
    subjects: Mapping[str, SubjectExclusion] = field(default_factory=dict)

    def to_claims(self) -> dict[str, Any]:
        """The entries as claims, sorted so that equal entries sign equally."""
        excluded: dict[str, list[list[str]]] = {}
        for permit, dataset, subject in sorted(self.excluded):
            excluded.setdefault(permit, []).append([dataset, subject])
        return {
            "permits": sorted(self.permits),
            "excluded": excluded,
            "subjects": {s: [e.since, e.earlier_permits] for s, e in sorted(self.subjects.items())},
        }

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], *, names_only: bool = False) -> "Entries":
        """Read ``permits``, ``excluded`` and ``subjects`` (with ``names_only``, ``subjects``
        is a list of names, as in a delta's ``removed``)."""
        permits = frozenset(
            _text(p, "a permit") for p in _list(claims.get("permits", []), "permits")
        )
        excluded: set[tuple[str, str, str]] = set()
        for permit, rows in _object(claims.get("excluded", {}), "excluded").items():
            _text(permit, "a permit")
            for row in _list(rows, "each permit's exclusions"):
                if not isinstance(row, list) or len(row) != 2:
                    raise InvalidExclusionList("each exclusion is [dataset, subject]")
                excluded.add((permit, _text(row[0], "a dataset"), _text(row[1], "a subject")))
        subjects: dict[str, SubjectExclusion] = {}
        raw = claims.get("subjects", [] if names_only else {})
        if names_only:
            for name in _list(raw, "subjects"):
                subjects[_text(name, "a subject")] = SubjectExclusion(0, True)
        else:
            for name, value in _object(raw, "subjects").items():
                _text(name, "a subject")
                if not isinstance(value, list) or len(value) != 2:
                    raise InvalidExclusionList("a subject's entry is [since, earlier_permits]")
                since, earlier = _seconds(value[0], "since"), value[1]
                if not isinstance(earlier, bool):
                    raise InvalidExclusionList("earlier_permits must be true or false")
                subjects[name] = SubjectExclusion(since, earlier)
        return cls(permits, frozenset(excluded), subjects)


@dataclass(frozen=True)
class ExclusionList:
    """A node's exclusion list at one ``version``, indexed for the gatekeeper's questions."""

    node: str
    version: int
    entries: Entries
    by_permit: Mapping[str, frozenset[tuple[str, str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, node: str, version: int, entries: Entries) -> "ExclusionList":
        by_permit: dict[str, set[tuple[str, str]]] = {}
        for permit, dataset, subject in entries.excluded:
            by_permit.setdefault(permit, set()).add((dataset, subject))
        return cls(node, version, entries, {p: frozenset(s) for p, s in by_permit.items()})

    def knows(self, permit: str) -> bool:
        return permit in self.entries.permits

    def refusal(
        self, *, permit: str, permit_iat: int | None, dataset: str, subject: str
    ) -> Reason | None:
        """Why a study of ``subject`` in ``dataset`` may not be served under ``permit``
        (approved at ``permit_iat``), or None when it may."""
        if permit not in self.entries.permits:
            return Reason.PERMIT_NOT_IN_EXCLUSIONS
        withdrawn = self.entries.subjects.get(subject)
        if withdrawn is not None and withdrawn.covers(permit_iat):
            return Reason.SUBJECT_EXCLUDED
        if (dataset, subject) in self.by_permit.get(permit, ()):
            return Reason.SUBJECT_EXCLUDED
        return None

    def to_claims(self) -> dict[str, Any]:
        """The list's own claims (``version`` and the entries)."""
        return {"version": self.version, **self.entries.to_claims()}

    @classmethod
    def from_claims(cls, claims: object) -> "ExclusionList":
        """Read a full list; :class:`InvalidExclusionList` for anything else."""
        body = _object(claims, "the list")
        node = _text(body.get("aud"), "aud")
        if "base" in body:
            raise InvalidExclusionList("this is a delta, not a full list")
        return cls.of(node, _seconds(body.get("version"), "version"), Entries.from_claims(body))

    def apply(self, delta: object) -> "ExclusionList":
        """The list a delta (claims with ``base``, ``version``, ``added`` and ``removed``)
        makes of this one; :class:`InvalidExclusionList` when it does not start from this
        version, is for another node, or cannot be read."""
        body = _object(delta, "the delta")
        if body.get("aud") != self.node:
            raise InvalidExclusionList("the delta is for another node")
        base, version = _seconds(body.get("base"), "base"), _seconds(body.get("version"), "version")
        if base != self.version or version < base:
            raise InvalidExclusionList(f"the delta goes from {base}, not from {self.version}")
        added = Entries.from_claims(_object(body.get("added", {}), "added"))
        removed = Entries.from_claims(_object(body.get("removed", {}), "removed"), names_only=True)
        subjects = {
            name: entry
            for name, entry in self.entries.subjects.items()
            if name not in removed.subjects
        }
        subjects.update(added.subjects)
        entries = Entries(
            (self.entries.permits - removed.permits) | added.permits,
            (self.entries.excluded - removed.excluded) | added.excluded,
            subjects,
        )
        return ExclusionList.of(self.node, version, entries)


def delta_claims(old: Entries, new: Entries) -> dict[str, Any]:
    """``added`` and ``removed`` taking ``old`` to ``new`` (what the portal sends, and what
    the tests compare)."""
    removed_subjects = [
        s for s, e in old.subjects.items() if s not in new.subjects or new.subjects[s] != e
    ]
    added_subjects = {
        s: e for s, e in new.subjects.items() if s not in old.subjects or old.subjects[s] != e
    }
    added = Entries(new.permits - old.permits, new.excluded - old.excluded, added_subjects)
    removed = Entries(old.permits - new.permits, old.excluded - new.excluded)
    removed_claims = removed.to_claims()
    removed_claims["subjects"] = sorted(removed_subjects)
    return {"added": added.to_claims(), "removed": removed_claims}


def entries_of(
    *,
    permits: Iterable[str],
    excluded: Iterable[tuple[str, str, str]],
    subjects: Mapping[str, tuple[int, bool]],
) -> Entries:
    """Entries from plain values (the portal's rows)."""
    return Entries(
        frozenset(permits),
        frozenset(excluded),
        {s: SubjectExclusion(since, earlier) for s, (since, earlier) in subjects.items()},
    )
