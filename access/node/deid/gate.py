"""The de-identification gate in front of the study index, on plain header values.

A header is a list of elements ``(tag, VR, value)``: the value is the element's bytes as
stored (text in the file's character set, numbers in its byte order) or, for a sequence, a
list of items, each a list of elements. The VR is the one that applies (never "UN" for an
attribute the data dictionary knows). Readers build headers from files
(:mod:`access.node.indexer.reader`) or from other sources; the gate needs nothing else.

The basic profile follows PS3.15 Annex E (Table E.1-1):

- PatientIdentityRemoved (0012,0062) must be ``YES``.
- An attribute whose Basic Profile action is exactly X (remove) or exactly Z (empty) must not
  have a value, at the top level or at any depth inside sequences. PatientID (0010,0020) is the
  exception: it carries the pseudonym the index uses as the subject. Combined actions (X/Z, X/D,
  Z/D, X/Z/D, D, U, X/Z/U*) allow a dummy value, which the gate cannot tell from a real one, so
  they pass.
- Private attributes (odd groups) must not have values unless the Retain Safe Private Option is
  declared.
- The retain options declared in DeidentificationMethodCodeSequence (0012,0064) (CID 7050) lift
  the check for the attributes the standard lets them keep or clean (:mod:`.table`).

The Z rule is stricter than the profile: Z also allows a dummy value, but a dummy cannot be told
from an identifying one, so any value is refused, with one exception: PatientName (0010,0010) may
repeat the PatientID pseudonym, a common dummy that says nothing the pseudonym does not.

The strict profile (:mod:`.strict`, chosen per node) adds the refusals of the values a dummy
could hide: names, institution and device identity, dates and burned-in text.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import partial
from typing import NamedTuple, Union

from .strict import BASIC, STRICT, StrictRules
from .table import (
    KEYWORDS,
    PATIENT_ID,
    PATIENT_NAME,
    RETAIN_SAFE_PRIVATE,
    Rule,
    refusal_table,
    retained_by,
    tag_text,
)

PATIENT_IDENTITY_REMOVED = 0x00120062
DEIDENTIFICATION_METHOD_CODES = 0x00120064
CODE_VALUE = 0x00080100
CODING_SCHEME_DESIGNATOR = 0x00080102
MODALITY = 0x00080060
BODY_PART_EXAMINED = 0x00180015
MANUFACTURER = 0x00080070
STUDY_DATE = 0x00080020
# What cohort feasibility counts by, beside modality, body part and manufacturer.
MANUFACTURER_MODEL = 0x00081090
MAGNETIC_FIELD_STRENGTH = 0x00180087
SLICE_THICKNESS = 0x00180050
PATIENT_AGE = 0x00101010
PATIENT_SEX = 0x00100040
INDEX_TAGS = {
    "StudyInstanceUID": 0x0020000D,
    "SeriesInstanceUID": 0x0020000E,
    "SOPInstanceUID": 0x00080018,
    "PatientID": PATIENT_ID,
}

# Index columns (catalogue.models): UIDs and PatientID are at most 64 characters in DICOM too.
MAX_UID = 64
MAX_SUBJECT = 64
MAX_MODALITY = 16
MAX_BODY_PART = 64
MAX_MANUFACTURER = 64
MAX_PROBLEMS_SHOWN = 8

Value = Union[bytes, list[list["Element"]]]  # noqa: UP007 (a runtime alias on Python 3.11)
Element = tuple[int, str, Value]
Decoder = Callable[[bytes, str], str | None]

# Binary VRs carry a value whenever they have a length; text VRs may be all padding.
BINARY_VRS = frozenset({"AT", "FD", "FL", "OB", "OD", "OF", "OL", "OV", "OW", "SL", "SS", "SV",
                        "UL", "US", "UV"})  # fmt: skip


class Status(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNREADABLE = "unreadable"


class HeaderResult(NamedTuple):
    """What the index needs from one file. ``reason`` says why a file was refused or
    unreadable."""

    path: str
    status: Status
    reason: str = ""
    study_uid: str = ""
    series_uid: str = ""
    sop_uid: str = ""
    patient_id: str = ""
    modality: str = ""
    body_part: str = ""
    manufacturer: str = ""
    study_date: date | None = None
    model: str = ""
    field_strength: float | None = None
    slice_thickness: float | None = None
    age: int | None = None
    sex: str = ""


def parse_as(value: str) -> int | None:
    """Whole years of an age string (AS: nnnD, nnnW, nnnM or nnnY), None if unreadable."""
    value = value.strip()
    per_year = {"D": 365, "W": 52, "M": 12, "Y": 1}.get(value[-1:])
    if per_year is None or len(value) != 4 or not value[:3].isdigit():
        return None
    return int(value[:3]) // per_year


def parse_ds(value: str) -> float | None:
    """The first decimal string (DS) value when finite and not negative, else None."""
    try:
        number = float(value.split("\\")[0])
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def parse_sex(value: str) -> str:
    """F, M or O (PS3.3 C.7.1.1), else empty."""
    sex = value.strip().upper()
    return sex if sex in ("F", "M", "O") else ""


def ascii_text(value: bytes, vr: str) -> str | None:
    """The decoder for headers in the default character repertoire: None for other bytes."""
    return value.decode("ascii") if value.isascii() else None


def _no_keyword(tag: int) -> str:
    return ""


@dataclass(frozen=True)
class Header:
    """One file's header: its top-level elements, how to read its text (``decode(bytes, VR)``,
    in the file's Specific Character Set; None when it cannot) and, optionally, how to name an
    attribute (its DICOM keyword) in refusals."""

    elements: list[Element]
    decode: Decoder = ascii_text
    keyword: Callable[[int], str] = _no_keyword
    top: dict[int, Value] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "top", {tag: value for tag, _vr, value in self.elements})

    def text(self, tag: int, vr: str = "") -> str:
        """A top-level string attribute, "" if absent, empty or unreadable."""
        value = self.top.get(tag)
        if not isinstance(value, bytes):
            return ""
        return self.value_text(value, vr) or ""

    def value_text(self, value: bytes, vr: str) -> str | None:
        if value.isascii():
            return value.decode("ascii").strip(" \x00")
        decoded = self.decode(value, vr)
        return None if decoded is None else decoded.strip(" \x00")


def has_value(vr: str, value: Value) -> bool:
    """Whether an element carries a value: a sequence with an item, or a non-blank value."""
    if isinstance(value, list):
        return bool(value)
    if vr in BINARY_VRS:
        return bool(value)
    return bool(value.strip(b" \x00^=" if vr == "PN" else b" \x00"))


def _item_text(value: Value) -> str | None:
    """The text of a string value inside a sequence; None if it cannot be read without a
    character set."""
    if isinstance(value, bytes) and value.isascii():
        return value.decode("ascii").strip(" \x00")
    return None


def declared_options(header: Header) -> frozenset[str]:
    """The CID 7050 code values in DeidentificationMethodCodeSequence (coding scheme DCM)."""
    items = header.top.get(DEIDENTIFICATION_METHOD_CODES)
    if not isinstance(items, list):
        return frozenset()
    codes = set()
    for item in items:
        found = {tag: value for tag, _, value in item}
        code = _item_text(found.get(CODE_VALUE, b""))
        scheme = _item_text(found.get(CODING_SCHEME_DESIGNATOR, b""))
        if code and scheme in ("", "DCM"):
            codes.add(code)
    return frozenset(codes)


class _Walk:
    """One walk of the gate over a header and its sequences, collecting problems."""

    def __init__(self, header: Header, profile: str):
        self.header = header
        self.pseudonym = header.text(PATIENT_ID)
        options = declared_options(header)
        self.keyword = header.keyword
        self.strict = (
            StrictRules(options, self.pseudonym, header.keyword) if profile == STRICT else None
        )
        self.retained = retained_by(options)
        self.keep_private = RETAIN_SAFE_PRIVATE in options
        self.table = refusal_table()
        self.problems: list[str] = []
        self.private: list[str] = []

    def _name(self, tag: int, rule: Rule | None) -> str:
        return self.keyword(tag) or KEYWORDS.get(tag) or (rule.name if rule else "")

    def scan(self, elements: list[Element], where: str = "") -> None:
        exact, retained = self.table.exact, self.retained
        for tag, vr, value in elements:
            group = tag >> 16
            if group & 1:
                if not self.keep_private:
                    if has_value(vr, value):
                        self.private.append(where + tag_text(tag))
                    continue
            else:
                rule = exact.get(tag)
                if rule is None and 0x5000 <= group <= 0x60FF:
                    rule = self.table.rule(tag)
                if rule is not None and tag not in retained and has_value(vr, value):
                    if tag != PATIENT_NAME or not self._is_pseudonym(value, vr, where):
                        self.problems.append(
                            f"{where}{tag_text(tag)} {self._name(tag, rule)} still has a value "
                            f"(PS3.15 basic profile: {rule.action})"
                        )
                    continue
                if tag == PATIENT_ID and where and has_value(vr, value):
                    if _item_text(value) != self.pseudonym:
                        self.problems.append(
                            f"{where}(0010,0020) PatientID differs from the pseudonym in the "
                            "top-level PatientID (PS3.15 basic profile: Z)"
                        )
                if self.strict is not None and has_value(vr, value):
                    refused = self.strict.refusal(tag, vr, partial(self._text, value, vr, where))
                    if refused:
                        self.problems.append(where + refused)
                        continue
            if isinstance(value, list):
                name = self._name(tag, None)
                for number, item in enumerate(value, start=1):
                    self.scan(item, f"{where}{tag_text(tag)} {name}[{number}] > ")

    def _text(self, value: Value, vr: str, where: str) -> str | None:
        if not isinstance(value, bytes):
            return None
        return self.header.value_text(value, vr) if not where else _item_text(value)

    def _is_pseudonym(self, value: Value, vr: str, where: str) -> bool:
        """Whether a PatientName value is the PatientID pseudonym, empty trailing components
        aside. Inside sequences, values that are not plain ASCII are not decoded (the item's
        character set is not at hand), so they never match."""
        text = self._text(value, vr, where)
        pseudonym = self.pseudonym.rstrip(" ^=")
        return bool(pseudonym) and text is not None and text.rstrip(" ^=") == pseudonym


def gate(header: Header, profile: str = BASIC) -> list[str]:
    """Every reason ``header`` may not be indexed as de-identified under ``profile`` (basic or
    strict); empty when it passes."""
    problems: list[str] = []
    removed_value = header.text(PATIENT_IDENTITY_REMOVED)
    if removed_value != "YES":
        shown = f"is '{removed_value}'" if removed_value else "is missing"
        problems.append(f"(0012,0062) PatientIdentityRemoved {shown} (must be YES)")
    walk = _Walk(header, profile)
    walk.scan(header.elements)
    problems += walk.problems
    if walk.private:
        count, shown = len(walk.private), ", ".join(walk.private[:3])
        problems.append(
            f"{count} private attribute(s) still have values, e.g. {shown}"
            f"{', …' if count > 3 else ''} (PS3.15 basic profile: X unless Retain Safe "
            f"Private, {RETAIN_SAFE_PRIVATE}, is declared)"
        )
    return problems


def parse_da(value: str) -> date | None:
    digits = value.strip()[:8]
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def index_problems(values: dict[str, str]) -> list[str]:
    """Why the index fields (UIDs and PatientID) cannot be stored, if they cannot."""
    problems = []
    for keyword, tag in INDEX_TAGS.items():
        value = values.get(keyword, "")
        limit = MAX_SUBJECT if keyword == "PatientID" else MAX_UID
        if not value:
            problems.append(
                f"{tag_text(tag)} {keyword} is missing or empty: the file cannot be indexed"
            )
        elif len(value) > limit:
            problems.append(f"{tag_text(tag)} {keyword} is longer than {limit} characters")
        elif not value.isprintable():
            problems.append(f"{tag_text(tag)} {keyword} contains control characters")
    return problems


def check(header: Header, path: str = "", profile: str = BASIC) -> HeaderResult:
    """Gate a header and pick out the index fields when it passes."""
    problems = gate(header, profile)
    values = {keyword: header.text(tag) for keyword, tag in INDEX_TAGS.items()}
    problems += index_problems(values)
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        if len(problems) > MAX_PROBLEMS_SHOWN:
            shown.append(f"and {len(problems) - MAX_PROBLEMS_SHOWN} more")
        return HeaderResult(path, Status.REFUSED, "; ".join(shown))
    return HeaderResult(
        path,
        Status.ACCEPTED,
        study_uid=values["StudyInstanceUID"],
        series_uid=values["SeriesInstanceUID"],
        sop_uid=values["SOPInstanceUID"],
        patient_id=values["PatientID"],
        modality=header.text(MODALITY)[:MAX_MODALITY],
        body_part=header.text(BODY_PART_EXAMINED)[:MAX_BODY_PART],
        manufacturer=header.text(MANUFACTURER)[:MAX_MANUFACTURER],
        study_date=parse_da(header.text(STUDY_DATE)),
        model=header.text(MANUFACTURER_MODEL)[:MAX_MANUFACTURER],
        field_strength=parse_ds(header.text(MAGNETIC_FIELD_STRENGTH)),
        slice_thickness=parse_ds(header.text(SLICE_THICKNESS)),
        age=parse_as(header.text(PATIENT_AGE)),
        sex=parse_sex(header.text(PATIENT_SEX)),
    )
