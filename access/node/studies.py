"""The study map: which dataset, and which pseudonymous subject, each study at a node belongs
to. The portal signs it (JWT of type ``studymap+jwt``) and the node syncs it, so the gatekeeper
can tell whether a requested StudyInstanceUID is covered by a token's ``datasets`` and whose
consent governs it.

Claims: ``iss``, ``sub`` (the map's URI), ``aud`` (the node), ``iat``, ``exp``, ``ttl`` and
``studies``: a list of ``[StudyInstanceUID, dataset identifier, subject pseudonym]``.
"""

from dataclasses import dataclass

MAP_TYPE = "studymap+jwt"


class InvalidStudyMap(ValueError):
    """A study map that cannot be read."""


@dataclass(frozen=True)
class StudyEntry:
    dataset: str
    subject: str


@dataclass(frozen=True)
class StudyMap:
    """StudyInstanceUID → :class:`StudyEntry`."""

    node: str
    studies: dict[str, StudyEntry]

    def dataset_of(self, study_uid: str) -> str | None:
        entry = self.studies.get(study_uid)
        return entry.dataset if entry else None

    def to_claims(self) -> list[list[str]]:
        """The ``studies`` claim, sorted so that equal maps sign equally."""
        return [[uid, e.dataset, e.subject] for uid, e in sorted(self.studies.items())]

    @classmethod
    def from_claims(cls, claims: object) -> "StudyMap":
        if not isinstance(claims, dict) or not isinstance(claims.get("aud"), str):
            raise InvalidStudyMap("a study map names its node in aud")
        rows = claims.get("studies")
        if not isinstance(rows, list):
            raise InvalidStudyMap("studies must be a list")
        studies = {}
        for row in rows:
            if not (
                isinstance(row, list) and len(row) == 3 and all(isinstance(v, str) for v in row)
            ):
                raise InvalidStudyMap("each study is [StudyInstanceUID, dataset, subject]")
            uid, dataset, subject = row
            studies[uid] = StudyEntry(dataset=dataset, subject=subject)
        return cls(node=claims["aud"], studies=studies)
