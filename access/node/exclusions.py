"""The exclusion list: pseudonymous subjects whose data may not be served for some purposes,
because they withdrew their consent or opted out of secondary use (EHDS Art 71). The portal
signs it (JWT of type ``exclusionlist+jwt``) and nodes cache it like the status list.

Claims: ``iss``, ``sub`` (the list's URI), ``iat``, ``exp``, ``ttl`` and ``excluded``: a list of
``{"subject": pseudonym, "purposes": [...], "since": seconds}``. An empty ``purposes`` list
means every purpose. ``since`` is when the exclusion took effect: an Art 71 opt-out applies only
to permits granted afterwards (Art 71(3)), so a permit issued before ``since`` is unaffected
when ``applies_to_earlier_permits`` is false; a withdrawal of consent applies to every permit.
"""

from dataclasses import dataclass

LIST_TYPE = "exclusionlist+jwt"


class InvalidExclusionList(ValueError):
    """An exclusion list that cannot be read."""


@dataclass(frozen=True)
class Exclusion:
    subject: str
    purposes: frozenset[str]
    since: int
    applies_to_earlier_permits: bool = True

    def covers(self, purpose: str, permit_issued_at: int) -> bool:
        if self.purposes and purpose not in self.purposes:
            return False
        return self.applies_to_earlier_permits or permit_issued_at >= self.since

    def to_claim(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "purposes": sorted(self.purposes),
            "since": self.since,
            "earlier_permits": self.applies_to_earlier_permits,
        }


@dataclass(frozen=True)
class ExclusionList:
    by_subject: dict[str, tuple[Exclusion, ...]]

    def excludes(self, subject: str, purpose: str, permit_issued_at: int) -> bool:
        """Whether data of ``subject`` may not be served for ``purpose`` under a permit
        issued at ``permit_issued_at``."""
        return any(e.covers(purpose, permit_issued_at) for e in self.by_subject.get(subject, ()))

    def to_claims(self) -> list[dict[str, object]]:
        return [e.to_claim() for entries in self.by_subject.values() for e in entries]

    @classmethod
    def from_claims(cls, claims: object) -> "ExclusionList":
        rows = claims.get("excluded") if isinstance(claims, dict) else None
        if not isinstance(rows, list):
            raise InvalidExclusionList("excluded must be a list")
        by_subject: dict[str, list[Exclusion]] = {}
        for row in rows:
            if not isinstance(row, dict):
                raise InvalidExclusionList("each exclusion is a JSON object")
            subject, purposes = row.get("subject"), row.get("purposes", [])
            since, earlier = row.get("since", 0), row.get("earlier_permits", True)
            if not isinstance(subject, str) or not subject:
                raise InvalidExclusionList("an exclusion names its subject")
            if not isinstance(purposes, list) or not all(isinstance(p, str) for p in purposes):
                raise InvalidExclusionList("purposes must be a list of purpose codes")
            if not isinstance(since, int) or isinstance(since, bool) or since < 0:
                raise InvalidExclusionList("since must be seconds since the epoch")
            if not isinstance(earlier, bool):
                raise InvalidExclusionList("earlier_permits must be true or false")
            by_subject.setdefault(subject, []).append(
                Exclusion(subject, frozenset(purposes), since, earlier)
            )
        return cls({s: tuple(e) for s, e in by_subject.items()})
