"""PS3.15 Annex E, Table E.1-1 (Basic Application Level Confidentiality Profile) as the gate
reads it: the attributes whose Basic Profile action is exactly X or Z, and the attributes each
retain option (CID 7050) lets keep a value.

The table and the Clean Descriptors column are data files beside this module (``data/``, see
its README). The option columns are written out below as tag lists, each tag with its DICOM
keyword (the keyword also names the attribute in refusals).
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
TABLE_PATH = DATA / "ps3_15_table_e1_1.json"
CLEAN_DESCRIPTORS_PATH = DATA / "ps3_15_clean_descriptors.json"

PATIENT_NAME = 0x00100010
PATIENT_ID = 0x00100020

# CID 7050 De-identification Method (coding scheme DCM).
BASIC_PROFILE = "113100"
CLEAN_PIXEL_DATA = "113101"
CLEAN_DESCRIPTORS = "113105"
RETAIN_FULL_DATES = "113106"
RETAIN_MODIFIED_DATES = "113107"
RETAIN_PATIENT_CHARACTERISTICS = "113108"
RETAIN_DEVICE_IDENTITY = "113109"
RETAIN_SAFE_PRIVATE = "113111"
RETAIN_INSTITUTION_IDENTITY = "113112"


def _tags(*pairs: tuple[int, str]) -> dict[int, str]:
    return dict(pairs)


# The attributes with Basic Profile action X or Z that an option keeps (K) or cleans (C), from
# the option columns of PS3.15 Table E.1-1 (same source as data/ps3_15_table_e1_1.json). Patient
# birth date and time are not in the date options' column: they stay refused.
_LONGITUDINAL_DATES = _tags(
    (0x00080015, "InstanceCoercionDateTime"), (0x00080020, "StudyDate"),
    (0x00080024, "OverlayDate"), (0x00080025, "CurveDate"), (0x00080030, "StudyTime"),
    (0x00080034, "OverlayTime"), (0x00080035, "CurveTime"),
    (0x00080201, "TimezoneOffsetFromUTC"), (0x001021D0, "LastMenstrualDate"),
    (0x0016008D, "GPSDateStamp"), (0x00380020, "AdmittingDate"), (0x00380021, "AdmittingTime"),
    (0x00400002, "ScheduledProcedureStepStartDate"),
    (0x00400003, "ScheduledProcedureStepStartTime"),
    (0x00400004, "ScheduledProcedureStepEndDate"),
    (0x00400005, "ScheduledProcedureStepEndTime"),
    (0x00400244, "PerformedProcedureStepStartDate"),
    (0x00400245, "PerformedProcedureStepStartTime"),
    (0x00400250, "PerformedProcedureStepEndDate"),
    (0x00400251, "PerformedProcedureStepEndTime"),
    (0x00404005, "ScheduledProcedureStepStartDateTime"),
    (0x00404008, "ScheduledProcedureStepExpirationDateTime"),
    (0x00404010, "ScheduledProcedureStepModificationDateTime"),
    (0x00404011, "ExpectedCompletionDateTime"),
    (0x00404050, "PerformedProcedureStepStartDateTime"),
    (0x00404051, "PerformedProcedureStepEndDateTime"),
    (0x00404052, "ProcedureStepCancellationDateTime"),
    (0x0040A192, "ObservationDateTrial"), (0x0040A193, "ObservationTimeTrial"),
)  # fmt: skip
_PATIENT_CHARACTERISTICS = _tags(
    (0x00100040, "PatientSex"), (0x00101010, "PatientAge"), (0x00101020, "PatientSize"),
    (0x00101030, "PatientWeight"), (0x00102110, "Allergies"), (0x00102160, "EthnicGroup"),
    (0x001021A0, "SmokingStatus"), (0x001021C0, "PregnancyStatus"),
    (0x00380050, "SpecialNeeds"), (0x00380500, "PatientState"), (0x00400012, "PreMedication"),
)  # fmt: skip
_DEVICE_IDENTITY = _tags(
    (0x0016004E, "LensSpecification"), (0x0016004F, "LensMake"), (0x00160050, "LensModel"),
    (0x00160051, "LensSerialNumber"), (0x00181004, "PlateID"), (0x00181005, "GeneratorID"),
    (0x00181007, "CassetteID"), (0x00181008, "GantryID"),
    (0x00181009, "UniqueDeviceIdentifier"), (0x0018100A, "UDISequence"),
    (0x00189373, "XRayDetectorLabel"), (0x00321020, "ScheduledStudyLocation"),
    (0x00321021, "ScheduledStudyLocationAETitle"), (0x00400001, "ScheduledStationAETitle"),
    (0x00400010, "ScheduledStationName"), (0x00400011, "ScheduledProcedureStepLocation"),
    (0x00400241, "PerformedStationAETitle"), (0x00400242, "PerformedStationName"),
    (0x00404025, "ScheduledStationNameCodeSequence"),
    (0x00404027, "ScheduledStationGeographicLocationCodeSequence"),
    (0x00404028, "PerformedStationNameCodeSequence"),
    (0x00404030, "PerformedStationGeographicLocationCodeSequence"),
    (0x00500020, "DeviceDescription"), (0x300A00B2, "TreatmentMachineName"),
    (0x300A0216, "SourceManufacturer"), (0x30100043, "ManufacturerDeviceIdentifier"),
)  # fmt: skip
_INSTITUTION_IDENTITY = _tags(
    (0x00080081, "InstitutionAddress"), (0x00081040, "InstitutionalDepartmentName"),
    (0x00081041, "InstitutionalDepartmentTypeCodeSequence"), (0x00120030, "ClinicalTrialSiteID"),
    (0x00120031, "ClinicalTrialSiteName"), (0x00120060, "ClinicalTrialCoordinatingCenterName"),
)  # fmt: skip
LONGITUDINAL_DATES = frozenset(_LONGITUDINAL_DATES)
PATIENT_CHARACTERISTICS = frozenset(_PATIENT_CHARACTERISTICS)
DEVICE_IDENTITY = frozenset(_DEVICE_IDENTITY)
INSTITUTION_IDENTITY = frozenset(_INSTITUTION_IDENTITY)
RETAINED_BY_OPTION: dict[str, frozenset[int]] = {
    RETAIN_FULL_DATES: LONGITUDINAL_DATES,
    RETAIN_MODIFIED_DATES: LONGITUDINAL_DATES,
    RETAIN_PATIENT_CHARACTERISTICS: PATIENT_CHARACTERISTICS,
    RETAIN_DEVICE_IDENTITY: DEVICE_IDENTITY,
    RETAIN_INSTITUTION_IDENTITY: INSTITUTION_IDENTITY,
}
KEYWORDS: dict[int, str] = {
    PATIENT_NAME: "PatientName",
    PATIENT_ID: "PatientID",
    **_LONGITUDINAL_DATES,
    **_PATIENT_CHARACTERISTICS,
    **_DEVICE_IDENTITY,
    **_INSTITUTION_IDENTITY,
}


def tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    action: str


@dataclass(frozen=True, slots=True)
class Table:
    """The X and Z rows of Table E.1-1: exact tags, and repeating groups as (mask, value)."""

    exact: dict[int, Rule]
    repeating: tuple[tuple[int, int, Rule], ...]

    def rule(self, tag: int) -> Rule | None:
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
def _rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    return rows


@cache
def refusal_table() -> Table:
    """The rows whose Basic Profile action is exactly X or Z (PatientID left out)."""
    exact: dict[int, Rule] = {}
    repeating = []
    for key, (name, action) in _rows().items():
        if action not in ("X", "Z"):
            continue
        rule = Rule(name.replace("\u200b", ""), action)
        mask, value = _parse_tag(key)
        if mask == 0xFFFFFFFF:
            if value != PATIENT_ID:
                exact[value] = rule
        else:
            repeating.append((mask, value, rule))
    return Table(exact, tuple(repeating))


@cache
def table_tags() -> frozenset[int]:
    """Every single tag (not a repeating group) that Table E.1-1 lists, whatever its action."""
    tags = set()
    for key in _rows():
        mask, value = _parse_tag(key)
        if mask == 0xFFFFFFFF:
            tags.add(value)
    return frozenset(tags)


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
