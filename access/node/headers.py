"""Header index batches: what the node's indexer sends the portal, the study, series and
instance values of the files that passed the de-identification gate, never pixel data and
never a value the catalogue does not store.

The indexer posts each batch as JSON to the portal's ``/access/nodes/datasets/<id>/index``
with the node's credentials (HTTP Basic, as for the access reports); the portal reads it back
with :func:`read_batch` and indexes it whole or not at all. Sending a batch again adds nothing.

A batch::

    {
      "gate_profile": "strict",          # the gate the node applied: the node's profile
      "refused": 3, "unreadable": 0,     # files the gate refused or could not read (counts only)
      "instances": [
        {"study": "1.2...", "series": "1.2...", "sop": "1.2...", "subject": "PSEUDO-1",
         "modality": "CT", "body_part": "CHEST", "manufacturer": "Example",
         "model": "Scanner X", "study_date": "2020-01-31",   # or null
         "field_strength": 3.0, "slice_thickness": 1.25,      # DS values, or null
         "age": 64, "sex": "F"}                                # whole years or null; F, M, O or ""
      ]
    }
"""

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from .deid import PROFILES
from .deid.gate import (
    MAX_BODY_PART,
    MAX_MANUFACTURER,
    MAX_MODALITY,
    MAX_SUBJECT,
    MAX_UID,
    HeaderResult,
    Status,
)

MEDIA_TYPE = "application/json"
MAX_INSTANCES = 1000  # per batch: about 300 KB of JSON
MAX_COUNT = 10**9
_FIELDS = ("study", "series", "sop", "subject", "modality", "body_part", "manufacturer", "model")
_NUMBERS = ("field_strength", "slice_thickness")  # non-negative decimals, or null
MAX_AGE = 200  # whole years
_KEYS = frozenset({*_FIELDS, *_NUMBERS, "study_date", "age", "sex"})
_BATCH_KEYS = frozenset({"gate_profile", "refused", "unreadable", "instances"})
_LIMITS = {
    "study": MAX_UID,
    "series": MAX_UID,
    "sop": MAX_UID,
    "subject": MAX_SUBJECT,
    "modality": MAX_MODALITY,
    "body_part": MAX_BODY_PART,
    "manufacturer": MAX_MANUFACTURER,
    "model": MAX_MANUFACTURER,
}
_REQUIRED = frozenset({"study", "series", "sop", "subject"})


def _printable(text: str) -> str:
    return text if text.isprintable() else "".join(c if c.isprintable() else " " for c in text)


class InvalidBatch(ValueError):
    """A batch that is not of the agreed shape; the message says what is wrong."""


@dataclass(frozen=True)
class IndexedInstance:
    """One instance's index values."""

    study: str
    series: str
    sop: str
    subject: str
    modality: str = ""
    body_part: str = ""
    manufacturer: str = ""
    study_date: date | None = None
    model: str = ""
    field_strength: float | None = None
    slice_thickness: float | None = None
    age: int | None = None
    sex: str = ""

    @classmethod
    def of(cls, result: HeaderResult) -> "IndexedInstance":
        """The index values of a file the gate accepted, as the portal takes them: control
        characters in descriptive text become spaces (the gate already refuses them in UIDs
        and the subject)."""
        return cls(
            study=result.study_uid,
            series=result.series_uid,
            sop=result.sop_uid,
            subject=result.patient_id,
            modality=_printable(result.modality),
            body_part=_printable(result.body_part),
            manufacturer=_printable(result.manufacturer),
            study_date=result.study_date,
            model=_printable(result.model),
            field_strength=result.field_strength,
            slice_thickness=result.slice_thickness,
            age=result.age,
            sex=result.sex,
        )

    def as_result(self) -> HeaderResult:
        """This instance as an accepted header, as the portal's ingest indexes them."""
        return HeaderResult(
            f"{self.study}/{self.series}/{self.sop}",
            Status.ACCEPTED,
            study_uid=self.study,
            series_uid=self.series,
            sop_uid=self.sop,
            patient_id=self.subject,
            modality=self.modality,
            body_part=self.body_part,
            manufacturer=self.manufacturer,
            study_date=self.study_date,
            model=self.model,
            field_strength=self.field_strength,
            slice_thickness=self.slice_thickness,
            age=self.age,
            sex=self.sex,
        )

    def to_json(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: getattr(self, name) for name in (*_FIELDS, *_NUMBERS)}
        values["study_date"] = self.study_date.isoformat() if self.study_date else None
        values["age"] = self.age
        values["sex"] = self.sex
        return values

    @classmethod
    def from_json(cls, value: object, number: int) -> "IndexedInstance":
        if not isinstance(value, dict):
            raise InvalidBatch(f"instance {number} is not a JSON object")
        unknown = set(value) - _KEYS
        if unknown:
            names = ", ".join(sorted(unknown))
            raise InvalidBatch(f"instance {number} has unknown fields: {names}")
        fields: dict[str, Any] = {}
        for name in _FIELDS:
            text = value.get(name, "")
            if not isinstance(text, str) or len(text) > _LIMITS[name] or not text.isprintable():
                raise InvalidBatch(
                    f"instance {number}: {name} is text of at most {_LIMITS[name]} printable "
                    "characters"
                )
            if name in _REQUIRED and not text:
                raise InvalidBatch(f"instance {number}: {name} is required")
            fields[name] = text
        raw_date = value.get("study_date")
        if raw_date is not None:
            try:
                fields["study_date"] = date.fromisoformat(raw_date) if len(raw_date) == 10 else None
            except (TypeError, ValueError):
                fields["study_date"] = None
            if fields["study_date"] is None:
                raise InvalidBatch(f"instance {number}: study_date is YYYY-MM-DD or null")
        for name in _NUMBERS:
            fields[name] = _decimal(value.get(name), f"instance {number}: {name}")
        age = value.get("age")
        if age is not None and (
            isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= MAX_AGE
        ):
            raise InvalidBatch(f"instance {number}: age is whole years (0 to {MAX_AGE}) or null")
        fields["age"] = age
        sex = value.get("sex", "")
        if sex not in ("", "F", "M", "O"):
            raise InvalidBatch(f"instance {number}: sex is F, M, O or empty")
        fields["sex"] = sex
        return cls(**fields)


def _decimal(value: object, name: str) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise InvalidBatch(f"{name} is a number of at least 0, or null")
    return float(value)


@dataclass(frozen=True)
class IndexBatch:
    gate_profile: str
    instances: tuple[IndexedInstance, ...]
    refused: int = 0
    unreadable: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "gate_profile": self.gate_profile,
            "refused": self.refused,
            "unreadable": self.unreadable,
            "instances": [instance.to_json() for instance in self.instances],
        }


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise InvalidBatch(f"{name} is a count (an integer of at least 0)")
    return value


def read_batch(value: object) -> IndexBatch:
    """Read a batch; raises :class:`InvalidBatch` naming the first fault."""
    if not isinstance(value, dict):
        raise InvalidBatch("a batch is a JSON object")
    unknown = set(value) - _BATCH_KEYS
    if unknown:
        raise InvalidBatch(f"unknown fields: {', '.join(sorted(unknown))}")
    profile = value.get("gate_profile")
    if profile not in PROFILES:
        raise InvalidBatch(f"gate_profile is one of {', '.join(PROFILES)}")
    instances = value.get("instances")
    if not isinstance(instances, list):
        raise InvalidBatch("instances is a list")
    if len(instances) > MAX_INSTANCES:
        raise InvalidBatch(f"a batch holds at most {MAX_INSTANCES} instances")
    return IndexBatch(
        gate_profile=str(profile),
        instances=tuple(
            IndexedInstance.from_json(item, number) for number, item in enumerate(instances, 1)
        ),
        refused=_count(value.get("refused", 0), "refused"),
        unreadable=_count(value.get("unreadable", 0), "unreadable"),
    )
