"""Reading one DICOM file's header and the de-identification gate in front of the study index.

No Django here: ingest runs :func:`read_header` in worker processes, and its result is a small
picklable :class:`HeaderResult`.

The gate follows PS3.15 Annex E (Basic Application Level Confidentiality Profile, Table E.1-1):

- PatientIdentityRemoved (0012,0062) must be ``YES``.
- An attribute whose Basic Profile action is exactly X (remove) or exactly Z (empty) must not
  have a value, at the top level or at any depth inside sequences. PatientID (0010,0020) is the
  exception: it carries the pseudonym the index uses as the subject. Combined actions (X/Z, X/D,
  Z/D, X/Z/D, D, U, X/Z/U*) allow a dummy value, which the gate cannot tell from a real one, so
  they pass.
- Private attributes (odd groups) must not have values unless the Retain Safe Private Option is
  declared.
- The retain options declared in DeidentificationMethodCodeSequence (0012,0064) (CID 7050) lift
  the check for the attributes the standard lets them keep or clean (K or C in the option's
  column of Table E.1-1). Those lists are written out below. The Clean Descriptors Option
  (113105) does the same for the free-text descriptions and comments marked C in its column,
  which the de-identifier declares it has cleaned; that list is data/ps3_15_clean_descriptors.json.

The Z rule is stricter than the profile: Z also allows a dummy value, but a dummy cannot be told
from an identifying one, so any value is refused, with one exception: PatientName (0010,0010) may
repeat the PatientID pseudonym, a common dummy that says nothing the pseudonym does not.

That is the basic profile. The strict profile (catalogue.gate_strict, chosen per node) adds the
refusals of the values a dummy could hide: names, institution and device identity, dates and
burned-in text.
"""

import json
import math
import os
import struct
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache, partial
from pathlib import Path
from typing import NamedTuple

from pydicom import dcmread
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import DeflatedExplicitVRLittleEndian
from pydicom.valuerep import PersonName

from catalogue.gate_strict import BASIC, STRICT, StrictRules

DATA = Path(__file__).resolve().parent / "data"
TABLE_PATH = DATA / "ps3_15_table_e1_1.json"
CLEAN_DESCRIPTORS_PATH = DATA / "ps3_15_clean_descriptors.json"

PATIENT_NAME = 0x00100010
PATIENT_ID = 0x00100020
PATIENT_IDENTITY_REMOVED = 0x00120062
DEIDENTIFICATION_METHOD_CODES = 0x00120064
CODE_VALUE = 0x00080100
CODING_SCHEME_DESIGNATOR = 0x00080102
MODALITY = 0x00080060
BODY_PART_EXAMINED = 0x00180015
MANUFACTURER = 0x00080070
STUDY_DATE = 0x00080020
# ManufacturerModelName, MagneticFieldStrength, SliceThickness, PatientAge, PatientSex.
FEASIBILITY_TAGS = (0x00081090, 0x00180087, 0x00180050, 0x00101010, 0x00100040)
INDEX_TAGS = {
    "StudyInstanceUID": 0x0020000D,
    "SeriesInstanceUID": 0x0020000E,
    "SOPInstanceUID": 0x00080018,
    "PatientID": PATIENT_ID,
}

# CID 7050 De-identification Method (coding scheme DCM).
BASIC_PROFILE = "113100"
CLEAN_DESCRIPTORS = "113105"
RETAIN_FULL_DATES = "113106"
RETAIN_MODIFIED_DATES = "113107"
RETAIN_PATIENT_CHARACTERISTICS = "113108"
RETAIN_DEVICE_IDENTITY = "113109"
RETAIN_SAFE_PRIVATE = "113111"
RETAIN_INSTITUTION_IDENTITY = "113112"

# Index columns (catalogue.models): UIDs and PatientID are at most 64 characters in DICOM too.
MAX_UID = 64
MAX_SUBJECT = 64
MAX_MODALITY = 16
MAX_BODY_PART = 64
MAX_MANUFACTURER = 64
MAX_PROBLEMS_SHOWN = 8


def _tags(*keywords: str) -> frozenset[int]:
    return frozenset(tag_for_keyword(keyword) for keyword in keywords)


# The attributes with Basic Profile action X or Z that an option keeps (K) or cleans (C), from
# the option columns of PS3.15 Table E.1-1 (same source as data/ps3_15_table_e1_1.json). Patient
# birth date and time are not in the date options' column: they stay refused.
LONGITUDINAL_DATES = _tags(
    "InstanceCoercionDateTime", "StudyDate", "OverlayDate", "CurveDate", "StudyTime",
    "OverlayTime", "CurveTime", "TimezoneOffsetFromUTC", "LastMenstrualDate", "GPSDateStamp",
    "AdmittingDate", "AdmittingTime", "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime", "ScheduledProcedureStepEndDate",
    "ScheduledProcedureStepEndTime", "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime", "PerformedProcedureStepEndDate",
    "PerformedProcedureStepEndTime", "ScheduledProcedureStepStartDateTime",
    "ScheduledProcedureStepExpirationDateTime", "ScheduledProcedureStepModificationDateTime",
    "ExpectedCompletionDateTime", "PerformedProcedureStepStartDateTime",
    "PerformedProcedureStepEndDateTime", "ProcedureStepCancellationDateTime",
    "ObservationDateTrial", "ObservationTimeTrial",
)  # fmt: skip
PATIENT_CHARACTERISTICS = _tags(
    "PatientSex", "PatientAge", "PatientSize", "PatientWeight", "Allergies", "EthnicGroup",
    "SmokingStatus", "PregnancyStatus", "SpecialNeeds", "PatientState", "PreMedication",
)  # fmt: skip
DEVICE_IDENTITY = _tags(
    "LensSpecification", "LensMake", "LensModel", "LensSerialNumber", "PlateID", "GeneratorID",
    "CassetteID", "GantryID", "UniqueDeviceIdentifier", "UDISequence", "XRayDetectorLabel",
    "ScheduledStudyLocation", "ScheduledStudyLocationAETitle", "ScheduledStationAETitle",
    "ScheduledStationName", "ScheduledProcedureStepLocation", "PerformedStationAETitle",
    "PerformedStationName", "ScheduledStationNameCodeSequence",
    "ScheduledStationGeographicLocationCodeSequence", "PerformedStationNameCodeSequence",
    "PerformedStationGeographicLocationCodeSequence", "DeviceDescription",
    "TreatmentMachineName", "SourceManufacturer", "ManufacturerDeviceIdentifier",
)  # fmt: skip
INSTITUTION_IDENTITY = _tags(
    "InstitutionAddress", "InstitutionalDepartmentName", "InstitutionalDepartmentTypeCodeSequence",
    "ClinicalTrialSiteID", "ClinicalTrialSiteName", "ClinicalTrialCoordinatingCenterName",
)  # fmt: skip
RETAINED_BY_OPTION: dict[str, frozenset[int]] = {
    RETAIN_FULL_DATES: LONGITUDINAL_DATES,
    RETAIN_MODIFIED_DATES: LONGITUDINAL_DATES,
    RETAIN_PATIENT_CHARACTERISTICS: PATIENT_CHARACTERISTICS,
    RETAIN_DEVICE_IDENTITY: DEVICE_IDENTITY,
    RETAIN_INSTITUTION_IDENTITY: INSTITUTION_IDENTITY,
}


class Status(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNREADABLE = "unreadable"


class HeaderResult(NamedTuple):
    """What ingest needs from one file. ``reason`` says why a file was refused or unreadable."""

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


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    action: str


@dataclass(frozen=True, slots=True)
class _Table:
    """The X and Z rows of Table E.1-1: exact tags, and repeating groups as (mask, value)."""

    exact: dict[int, _Rule]
    repeating: tuple[tuple[int, int, _Rule], ...]

    def rule(self, tag: int) -> _Rule | None:
        found = self.exact.get(tag)
        if found is None and 0x5000 <= tag >> 16 <= 0x60FF:
            for mask, value, rule in self.repeating:
                if tag & mask == value:
                    return rule
        return found


def _parse_tag(key: str) -> tuple[int, int]:
    """``"(60XX,3000)"`` → (mask, value); an exact tag has the mask 0xFFFFFFFF."""
    digits = key.strip("()").replace(",", "").upper()
    mask = int("".join("0" if c == "X" else "F" for c in digits), 16)
    value = int(digits.replace("X", "0"), 16)
    # Repeating groups are even groups only; odd ones are private attributes.
    return (mask | 0x00010000 if mask != 0xFFFFFFFF else mask), value


@cache
def refusal_table() -> _Table:
    """The rows whose Basic Profile action is exactly X or Z (PatientID left out)."""
    rows = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    exact: dict[int, _Rule] = {}
    repeating = []
    for key, (name, action) in rows.items():
        if action not in ("X", "Z"):
            continue
        rule = _Rule(name.replace("\u200b", ""), action)
        mask, value = _parse_tag(key)
        if mask == 0xFFFFFFFF:
            if value != PATIENT_ID:
                exact[value] = rule
        else:
            repeating.append((mask, value, rule))
    return _Table(exact, tuple(repeating))


@cache
def clean_descriptors() -> frozenset[int]:
    """The tags marked C in the Clean Descriptors Option column of Table E.1-1 (all actions)."""
    rows = json.loads(CLEAN_DESCRIPTORS_PATH.read_text(encoding="utf-8"))
    tags = set()
    for key in rows:
        mask, value = _parse_tag(key)
        if mask != 0xFFFFFFFF:
            raise ValueError(f"{CLEAN_DESCRIPTORS_PATH.name}: {key} is not a single tag")
        tags.add(value)
    return frozenset(tags)


_OPTIONS_THAT_LIFT = frozenset(RETAINED_BY_OPTION) | {CLEAN_DESCRIPTORS}


def retained_by(options: frozenset[str]) -> frozenset[int]:
    """The X and Z attributes that ``options`` (CID 7050 code values) allow to keep a value."""
    return _retained_by(options & _OPTIONS_THAT_LIFT)  # unknown codes never reach the cache


@cache
def _retained_by(options: frozenset[str]) -> frozenset[int]:
    lists = [RETAINED_BY_OPTION.get(code, frozenset()) for code in options]
    if CLEAN_DESCRIPTORS in options:
        lists.append(clean_descriptors())
    return frozenset().union(*lists)


def tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _dictionary_vr(tag: int) -> str:
    """The VR the data dictionary gives ``tag`` ("UN" if unknown; "US or SS" becomes "US")."""
    try:
        return dictionary_VR(tag).split(" ", 1)[0]
    except KeyError:
        return "UN"


def _vr_of(elem: DataElement | RawDataElement) -> str:
    vr = elem.VR
    if vr is None or vr == "UN":
        known = _dictionary_vr(elem.tag)
        return known if known != "UN" or vr is None else vr
    return vr


# What the gate walks: (tag, VR, payload). The payload is a pydicom element (top level and
# items pydicom parsed), the value bytes (items parsed here), or a list of items for a sequence
# parsed here, each item a list of such triples.
Triple = tuple[int, str, object]

_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT",
                       "UV"})  # fmt: skip
_HEADER = {True: struct.Struct("<HHL"), False: struct.Struct(">HHL")}
_SHORT = {True: struct.Struct("<HHxxH"), False: struct.Struct(">HHxxH")}
_LONG = {True: struct.Struct("<HHxxxxL"), False: struct.Struct(">HHxxxxL")}


class _SequenceReader:
    """Reads the items of a defined-length sequence value into triples, without building
    pydicom datasets (which costs several times more than the gate itself).

    Handles explicit and implicit VR, both byte orders, defined and undefined lengths, nested
    sequences, sequences encoded as UN (implicit VR little endian) and encapsulated fragments.
    Anything malformed raises ValueError, which makes the file unreadable.
    """

    def __init__(self, data: bytes, *, implicit: bool, little: bool):
        self.data = data
        self.implicit = implicit
        self.little = little

    def items(self, pos: int, end: int) -> tuple[list[list[Triple]], int]:
        """The items from ``pos`` up to ``end`` or a sequence delimiter, and the end position."""
        data, header = self.data, _HEADER[self.little]
        items = []
        while pos < end:
            if pos + 8 > end:
                raise ValueError("a sequence ends inside an item header")
            group, element, length = header.unpack_from(data, pos)
            tag = group << 16 | element
            pos += 8
            if tag == _SEQUENCE_END:
                return items, pos
            if tag != _ITEM:
                raise ValueError(f"a sequence holds {tag_text(tag)} where an item should be")
            if length == _UNDEFINED:
                elements, pos = self.elements(pos, end, delimited=True)
            else:
                if pos + length > end:
                    raise ValueError("an item is longer than its sequence")
                elements, _ = self.elements(pos, pos + length, delimited=False)
                pos += length
            items.append(elements)
        return items, pos

    def elements(self, pos: int, end: int, *, delimited: bool) -> tuple[list[Triple], int]:
        data, little = self.data, self.little
        out: list[Triple] = []
        while pos < end:
            if pos + 8 > end:
                raise ValueError("an item ends inside an element header")
            if self.implicit:
                group, element, length = _HEADER[little].unpack_from(data, pos)
                tag = group << 16 | element
                vr = _dictionary_vr(tag)
                pos += 8
            else:
                group, element = _HEADER[little].unpack_from(data, pos)[:2]
                tag = group << 16 | element
                if tag in (_ITEM_END, _ITEM, _SEQUENCE_END):
                    vr = ""
                    length = _HEADER[little].unpack_from(data, pos)[2]
                    pos += 8
                else:
                    vr = data[pos + 4 : pos + 6].decode("ascii", "replace")
                    if vr in _LONG_VRS:
                        length = _LONG[little].unpack_from(data, pos)[2]
                        pos += 12
                    else:
                        length = _SHORT[little].unpack_from(data, pos)[2]
                        pos += 8
            if tag == _ITEM_END:
                if delimited:
                    return out, pos
                continue
            if tag in (_ITEM, _SEQUENCE_END):
                raise ValueError(f"{tag_text(tag)} inside an item")
            sequence_vr = vr == "SQ" or (vr == "UN" and _dictionary_vr(tag) == "SQ")
            if length == _UNDEFINED:
                if vr in ("OB", "OW") or tag == 0x7FE00010:
                    pos = self._skip_fragments(pos, end)
                    out.append((tag, vr, b"\x01"))  # encapsulated data: a value
                    continue
                nested = self._nested(vr)
                items, pos = nested.items(pos, end)
                out.append((tag, "SQ", items))
                continue
            if pos + length > end:
                raise ValueError(f"{tag_text(tag)} is longer than its item")
            if sequence_vr:
                nested = self._nested(vr)
                items, _ = nested.items(pos, pos + length)
                out.append((tag, "SQ", items))
            else:
                out.append((tag, vr, data[pos : pos + length]))
            pos += length
        if delimited:
            raise ValueError("an item has no item delimiter")
        return out, pos

    def _nested(self, vr: str) -> "_SequenceReader":
        if vr == "UN" and not self.implicit:  # CP-246: a sequence encoded as UN
            return _SequenceReader(self.data, implicit=True, little=True)
        return self

    def _skip_fragments(self, pos: int, end: int) -> int:
        header = _HEADER[self.little]
        while pos + 8 <= end:
            group, element, length = header.unpack_from(self.data, pos)
            pos += 8
            if group << 16 | element == _SEQUENCE_END:
                return pos
            pos += length
        raise ValueError("encapsulated data has no sequence delimiter")


def _triples(ds: Dataset) -> list[Triple]:
    triples = []
    for elem in ds.values():  # raw elements stay raw: no value conversion
        vr = elem.VR
        triples.append((elem.tag, vr if vr and vr != "UN" else _vr_of(elem), elem))
    return triples


def _items(vr: str, payload, parsed: dict) -> list[list[Triple]]:
    """The items of a sequence, each a list of triples (parsed once per gate)."""
    if isinstance(payload, list):
        return payload
    key = id(payload)
    if key in parsed:
        return parsed[key][1]
    if isinstance(payload, RawDataElement):
        if payload.value is None or payload.length in (0, _UNDEFINED):
            items = []
        else:
            as_un = payload.VR == "UN"
            reader = _SequenceReader(
                payload.value,
                implicit=bool(payload.is_implicit_VR) or as_un,
                little=bool(payload.is_little_endian) or as_un,
            )
            items = reader.items(0, len(payload.value))[0]
    elif isinstance(payload, DataElement) and payload.VR == "SQ" and payload.value:
        items = [_triples(item) for item in payload.value]
    else:
        items = []
    parsed[key] = (payload, items)  # keeps the payload alive so its id stays unique
    return items


# Binary VRs carry a value whenever they have a length; text VRs may be all padding.
_BINARY_VRS = frozenset({"AT", "FD", "FL", "OB", "OD", "OF", "OL", "OV", "OW", "SL", "SS", "SV",
                         "UL", "US", "UV"})  # fmt: skip


def _has_value(vr: str, payload) -> bool:
    """Whether an element carries a value: a sequence with an item, or a non-blank value."""
    padding = b" \x00^=" if vr == "PN" else b" \x00"
    if isinstance(payload, list):
        return bool(payload)
    if isinstance(payload, RawDataElement):
        if payload.length == 0:
            return False
        if payload.value is None or payload.length == _UNDEFINED or vr == "SQ":
            return True  # deferred, encapsulated, or a sequence with at least one item
        payload = payload.value
    if isinstance(payload, bytes):
        return vr in _BINARY_VRS or bool(payload.strip(padding))
    value = payload.value
    if value is None:
        return False
    if vr == "SQ":
        return len(value) > 0
    if isinstance(value, bytes | bytearray):
        return vr in _BINARY_VRS or bool(value.strip(padding))
    text_padding = padding.decode()
    if isinstance(value, MultiValue):
        return any(str(v).strip(text_padding) for v in value)
    return bool(str(value).strip(text_padding))


def _payload_text(payload) -> str:
    if isinstance(payload, RawDataElement):
        payload = payload.value
    if isinstance(payload, bytes):
        return payload.decode("ascii", "replace").strip(" \x00")
    if isinstance(payload, DataElement):
        return "" if payload.value is None else str(payload.value).strip(" \x00")
    return ""


def _string(ds: Dataset, tag: int, elem: DataElement | RawDataElement | None = None) -> str:
    """The value of a string attribute, "" if absent or empty. Plain ASCII is decoded here,
    without pydicom's conversion, which costs more than the rest of the gate together."""
    if elem is None:
        elem = ds.get_item(tag)
    if elem is None:
        return ""
    if isinstance(elem, RawDataElement) and isinstance(elem.value, bytes) and elem.value.isascii():
        return elem.value.decode("ascii").strip(" \x00")
    value = ds[tag].value
    if value is None:
        return ""
    if isinstance(value, MultiValue):
        value = "\\".join(str(v) for v in value)
    return str(value).strip(" \x00")


def declared_options(ds: Dataset, parsed: dict | None = None) -> frozenset[str]:
    """The CID 7050 code values in DeidentificationMethodCodeSequence (coding scheme DCM)."""
    elem = ds.get_item(DEIDENTIFICATION_METHOD_CODES)
    if elem is None:
        return frozenset()
    codes = set()
    for item in _items("SQ", elem, {} if parsed is None else parsed):
        found = {tag: payload for tag, _, payload in item}
        value = _payload_text(found.get(CODE_VALUE))
        if value and _payload_text(found.get(CODING_SCHEME_DESIGNATOR)) in ("", "DCM"):
            codes.add(value)
    return frozenset(codes)


def _name(tag: int, rule: _Rule | None) -> str:
    return keyword_for_tag(tag) or (rule.name if rule else "")


class _Walk:
    """One walk of the gate over a dataset and its sequences, collecting problems."""

    def __init__(self, ds: Dataset, pseudonym: str, profile: str = BASIC):
        self.ds = ds
        self.parsed: dict = {}
        options = declared_options(ds, self.parsed)
        self.strict = StrictRules(options, pseudonym) if profile == STRICT else None
        self.retained = retained_by(options)
        self.keep_private = RETAIN_SAFE_PRIVATE in options
        self.table = refusal_table()
        self.pseudonym = pseudonym
        self.problems: list[str] = []
        self.private: list[str] = []

    def scan(self, elements: list[Triple], where: str = "") -> None:
        exact, retained = self.table.exact, self.retained
        for tag, vr, payload in elements:
            group = tag >> 16
            if group & 1:
                if not self.keep_private:
                    if _has_value(vr, payload):
                        self.private.append(where + tag_text(tag))
                    continue
            else:
                rule = exact.get(tag)
                if rule is None and 0x5000 <= group <= 0x60FF:
                    rule = self.table.rule(tag)
                if rule is not None and tag not in retained and _has_value(vr, payload):
                    if tag != PATIENT_NAME or not self._is_pseudonym(payload, where):
                        self.problems.append(
                            f"{where}{tag_text(tag)} {_name(tag, rule)} still has a value "
                            f"(PS3.15 basic profile: {rule.action})"
                        )
                    continue
                if tag == PATIENT_ID and where and _has_value(vr, payload):
                    if _payload_text(payload) != self.pseudonym:
                        self.problems.append(
                            f"{where}(0010,0020) PatientID differs from the pseudonym in the "
                            "top-level PatientID (PS3.15 basic profile: Z)"
                        )
                if self.strict is not None and _has_value(vr, payload):
                    refused = self.strict.refusal(tag, vr, partial(self._text, tag, payload, where))
                    if refused:
                        self.problems.append(where + refused)
                        continue
            if vr == "SQ":
                for number, item in enumerate(_items(vr, payload, self.parsed), start=1):
                    self.scan(item, f"{where}{tag_text(tag)} {_name(tag, None)}[{number}] > ")

    def _text(self, tag: int, payload, where: str) -> str | None:
        return _string(self.ds, tag, payload) if not where else _item_text(payload)

    def _is_pseudonym(self, payload, where: str) -> bool:
        """Whether a PatientName value is the PatientID pseudonym, empty trailing components
        aside. Inside sequences, raw values that are not plain ASCII are not decoded (the item's
        character set is not at hand), so they never match."""
        text = _string(self.ds, PATIENT_NAME, payload) if not where else _item_text(payload)
        pseudonym = self.pseudonym.rstrip(" ^=")
        return bool(pseudonym) and text is not None and text.rstrip(" ^=") == pseudonym


def _item_text(payload) -> str | None:
    """The text of a string value inside a sequence; None if it cannot be read without a
    character set."""
    if isinstance(payload, RawDataElement):
        payload = payload.value
    if isinstance(payload, bytes):
        return payload.decode("ascii").strip(" \x00") if payload.isascii() else None
    if isinstance(payload, DataElement) and isinstance(payload.value, str | PersonName):
        return str(payload.value).strip(" \x00")
    return None


def gate(ds: Dataset, profile: str = BASIC) -> list[str]:
    """Every reason ``ds`` may not be indexed as de-identified under ``profile`` (basic or
    strict, see catalogue.gate_strict); empty when it passes."""
    triples = _triples(ds)
    top = {tag: payload for tag, _, payload in triples}
    return _gate(ds, triples, top, profile)


def _gate(ds: Dataset, triples: list[Triple], top: dict, profile: str = BASIC) -> list[str]:
    problems: list[str] = []
    removed_value = _string(ds, PATIENT_IDENTITY_REMOVED, top.get(PATIENT_IDENTITY_REMOVED))
    if removed_value != "YES":
        shown = f"is '{removed_value}'" if removed_value else "is missing"
        problems.append(f"(0012,0062) PatientIdentityRemoved {shown} (must be YES)")
    walk = _Walk(ds, _string(ds, PATIENT_ID, top.get(PATIENT_ID)), profile)
    walk.scan(triples)
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


def _index_problems(values: dict[str, str]) -> list[str]:
    problems = []
    for keyword, tag in (
        ("StudyInstanceUID", "(0020,000D)"),
        ("SeriesInstanceUID", "(0020,000E)"),
        ("SOPInstanceUID", "(0008,0018)"),
        ("PatientID", "(0010,0020)"),
    ):
        value = values[keyword]
        limit = MAX_SUBJECT if keyword == "PatientID" else MAX_UID
        if not value:
            problems.append(f"{tag} {keyword} is missing or empty: the file cannot be indexed")
        elif len(value) > limit:
            problems.append(f"{tag} {keyword} is longer than {limit} characters")
        elif not value.isprintable():
            problems.append(f"{tag} {keyword} contains control characters")
    return problems


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


def _feasibility_values(ds: Dataset, top: dict) -> dict:
    """Equipment model, field strength, slice thickness, age and sex (cohort feasibility)."""
    text = {tag: _string(ds, tag, top.get(tag)) for tag in FEASIBILITY_TAGS}
    sex = text[0x00100040].upper()
    return {
        "model": text[0x00081090][:MAX_MANUFACTURER],
        "field_strength": parse_ds(text[0x00180087]),
        "slice_thickness": parse_ds(text[0x00180050]),
        "age": parse_as(text[0x00101010]),
        "sex": sex if sex in ("F", "M", "O") else "",
    }


def check_dataset(ds: Dataset, path: str = "", profile: str = BASIC) -> HeaderResult:
    """Gate an in-memory dataset and pick out the index fields when it passes."""
    triples = _triples(ds)
    top = {tag: payload for tag, _, payload in triples}
    problems = _gate(ds, triples, top, profile)
    values = {keyword: _string(ds, tag, top.get(tag)) for keyword, tag in INDEX_TAGS.items()}
    problems += _index_problems(values)
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
        modality=_string(ds, MODALITY, top.get(MODALITY))[:MAX_MODALITY],
        body_part=_string(ds, BODY_PART_EXAMINED, top.get(BODY_PART_EXAMINED))[:MAX_BODY_PART],
        manufacturer=_string(ds, MANUFACTURER, top.get(MANUFACTURER))[:MAX_MANUFACTURER],
        study_date=parse_da(_string(ds, STUDY_DATE, top.get(STUDY_DATE))),
        **_feasibility_values(ds, top),
    )


def _element_header(fp, *, implicit: bool, little: bool) -> tuple[int, int] | None:
    """(header size, value length) of the element at the file position, None if unreadable."""
    order = "little" if little else "big"
    head = fp.read(8)
    if len(head) < 8:
        return None
    if implicit:
        return 8, int.from_bytes(head[4:8], order)
    if head[4:6].decode("ascii", "replace") in _LONG_VRS:
        rest = fp.read(4)
        if len(rest) < 4:
            return None
        return 12, int.from_bytes(rest, order)
    return 8, int.from_bytes(head[6:8], order)


def _truncation(fp, ds: Dataset, size: int) -> str:
    """Why the file looks cut short, or "". pydicom stops quietly at the end of a short file.

    Reading stopped before the pixel data: its declared length must fit in the file. Reading
    reached the end of the file: the last element must end exactly there.
    """
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax == DeflatedExplicitVRLittleEndian:
        return ""  # positions are in the inflated stream
    position = fp.tell()
    if position < size:
        implicit, little = ds.original_encoding
        header = _element_header(fp, implicit=bool(implicit), little=bool(little))
        if header is None:
            return f"truncated: the file ends inside the element header at byte {position}"
        header_size, length = header
        if length != 0xFFFFFFFF and position + header_size + length > size:
            missing = position + header_size + length - size
            return f"truncated: the pixel data is {missing} bytes short"
        return ""
    keys = list(ds.keys())
    if not keys:
        return "truncated: no data elements after the file meta information"
    last = ds.get_item(max(keys))
    if isinstance(last, RawDataElement) and last.length != 0xFFFFFFFF:
        end = last.value_tell + last.length
        if end > size or (last.value is not None and len(last.value) < last.length):
            return f"truncated: the file ends inside {tag_text(last.tag)}"
        if end < size:
            return "truncated: the file ends inside an element header"
    return ""


def read_header(path: str | os.PathLike, profile: str = BASIC) -> HeaderResult:
    """Read and gate one file's header (without pixel data). Never raises."""
    return read_headers([path], profile)[0]


def read_headers(paths: Iterable[str | os.PathLike], profile: str = BASIC) -> list[HeaderResult]:
    """:func:`read_header` for each path, with pydicom's warnings silenced once for all."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [_read(os.fspath(path), profile) for path in paths]


def _read(path: str, profile: str) -> HeaderResult:
    try:
        with open(path, "rb") as fp:
            size = os.fstat(fp.fileno()).st_size
            if size == 0:
                return HeaderResult(path, Status.UNREADABLE, "empty file")
            try:
                ds = dcmread(fp, stop_before_pixels=True)
            except InvalidDicomError:
                return HeaderResult(
                    path,
                    Status.UNREADABLE,
                    "not a DICOM file (no 'DICM' prefix after a 128-byte preamble)",
                )
            truncated = _truncation(fp, ds, size)
            if truncated:
                return HeaderResult(path, Status.UNREADABLE, truncated)
        return check_dataset(ds, path, profile)
    except Exception as exc:  # one bad file must never stop an ingest
        message = str(exc).strip() or "no details"
        return HeaderResult(path, Status.UNREADABLE, f"{type(exc).__name__}: {message}"[:500])
