"""The study map: which dataset, and which pseudonymous subject, each study at a node belongs
to. The portal signs it (JWT of type ``studymap+jwt``) and the node syncs it, so the gatekeeper
can tell whether a requested StudyInstanceUID is covered by a token's ``datasets`` and whose
consent governs it.

Claims: ``iss``, ``sub`` (the map's URI), ``aud`` (the node), ``iat``, ``exp``, ``ttl`` and
``studies``: a list of ``[StudyInstanceUID, dataset identifier, subject pseudonym]``. A study a
node publishes in several datasets has a row for each: a token for any of them covers it.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

MAP_TYPE = "studymap+jwt"


class InvalidStudyMap(ValueError):
    """A study map that cannot be read."""


@dataclass(frozen=True)
class StudyEntry:
    dataset: str
    subject: str


@dataclass(frozen=True)
class StudyMap:
    """StudyInstanceUID → :class:`StudyEntry`; ``more`` holds the further entries of a study
    that is in several datasets at the node (most studies are in one)."""

    node: str
    studies: dict[str, StudyEntry]
    more: dict[str, tuple[StudyEntry, ...]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, node: str, rows: Iterable[tuple[str, str, str]]) -> "StudyMap":
        """A map of ``(StudyInstanceUID, dataset, subject)`` rows, several rows per study
        allowed (one per dataset)."""
        studies: dict[str, StudyEntry] = {}
        more: dict[str, tuple[StudyEntry, ...]] = {}
        for uid, dataset, subject in rows:
            entry = StudyEntry(dataset=dataset, subject=subject)
            first = studies.setdefault(uid, entry)
            if first is not entry and entry != first and entry not in more.get(uid, ()):
                more[uid] = (*more.get(uid, ()), entry)
        return cls(node=node, studies=studies, more=more)

    def entries(self, study_uid: str) -> tuple[StudyEntry, ...]:
        """Every entry of ``study_uid`` (one per dataset that holds it); none when unknown."""
        first = self.studies.get(study_uid)
        if first is None:
            return ()
        return (first, *self.more.get(study_uid, ()))

    def granted(self, study_uid: str, datasets: Collection[str]) -> tuple[StudyEntry, ...]:
        """The entries of ``study_uid`` in one of ``datasets``."""
        return tuple(e for e in self.entries(study_uid) if e.dataset in datasets)

    def to_claims(self) -> list[list[str]]:
        """The ``studies`` claim, sorted so that equal maps sign equally."""
        return sorted(
            [uid, e.dataset, e.subject] for uid in self.studies for e in self.entries(uid)
        )

    @classmethod
    def from_claims(cls, claims: object) -> "StudyMap":
        if not isinstance(claims, dict) or not isinstance(claims.get("aud"), str):
            raise InvalidStudyMap("a study map names its node in aud")
        rows = claims.get("studies")
        if not isinstance(rows, list):
            raise InvalidStudyMap("studies must be a list")
        for row in rows:
            if not (
                isinstance(row, list) and len(row) == 3 and all(isinstance(v, str) for v in row)
            ):
                raise InvalidStudyMap("each study is [StudyInstanceUID, dataset, subject]")
        return cls.from_rows(claims["aud"], (tuple(row) for row in rows))
