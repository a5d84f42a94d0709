"""The strict de-identification profile: the refusals the basic gate cannot make.

The basic gate (catalogue.dicom) lets an attribute whose PS3.15 action allows a dummy value
(D, X/Z, X/D, X/Z/D...) keep any value, because a dummy cannot be told from a real one. So a
real institution name, station name, device serial number, an operator's name such as
"Riesmeier^Jörg", an original study date or text burned into the pixels pass it. The strict
profile refuses them:

- any person name (VR PN), at any depth, other than empty or the subject's pseudonym (the
  top-level PatientID);
- institution attributes holding a value, unless Retain Institution Identity (113112) is
  declared, and station and device attributes, unless Retain Device Identity (113109) is;
- operator identification sequences holding a value (they name people; no option keeps them);
- dates and date-times (VR DA and DT) at any depth, and the times (VR TM) that Table E.1-1
  lists, unless Retain Longitudinal Temporal Information with Full Dates (113106) or with
  Modified Dates (113107) is declared;
- BurnedInAnnotation (0028,0301) = YES, unless Clean Pixel Data (113101) is declared.

No Django here: worker processes run it. This module holds rules only; catalogue.dicom walks
the dataset and asks :meth:`StrictRules.refusal` about each element that has a value.
"""

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

TABLE_PATH = Path(__file__).resolve().parent / "data" / "ps3_15_table_e1_1.json"

BASIC = "basic"
STRICT = "strict"
PROFILES = (BASIC, STRICT)

# CID 7050 De-identification Method codes the strict rules read (coding scheme DCM).
CLEAN_PIXEL_DATA = "113101"
RETAIN_FULL_DATES = "113106"
RETAIN_MODIFIED_DATES = "113107"
RETAIN_DEVICE_IDENTITY = "113109"
RETAIN_INSTITUTION_IDENTITY = "113112"

BURNED_IN_ANNOTATION = 0x00280301


def _tags(*keywords: str) -> frozenset[int]:
    return frozenset(tag_for_keyword(keyword) for keyword in keywords)


# Kept (K) by Retain Institution Identity in PS3.15 Table E.1-1, or naming an institution.
INSTITUTION = _tags(
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
    "InstitutionCodeSequence", "InstitutionalDepartmentTypeCodeSequence", "VerifyingOrganization",
)  # fmt: skip
# Kept (K) by Retain Device Identity: the station and the device's serial numbers.
DEVICE = _tags(
    "StationName", "DeviceSerialNumber", "SourceSerialNumber", "LensSerialNumber",
    "PerformedStationName", "ScheduledStationName", "PerformedStationAETitle",
    "ScheduledStationAETitle", "DeviceUID", "DetectorID", "GantryID", "GeneratorID",
)  # fmt: skip
# Identify people without being person names; no retain option keeps them.
PEOPLE = _tags("OperatorIdentificationSequence", "VerifyingObserverIdentificationCodeSequence")
DATE_OPTIONS = frozenset({RETAIN_FULL_DATES, RETAIN_MODIFIED_DATES})


@cache
def table_times() -> frozenset[int]:
    """The attributes of Table E.1-1 whose VR is TM (times the table asks to remove or clean)."""
    rows = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    times = set()
    for key in rows:
        digits = key.strip("()").replace(",", "")
        if "X" in digits.upper():
            continue
        tag = int(digits, 16)
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            continue
        if vr == "TM":
            times.add(tag)
    return frozenset(times)


def _label(tag: int) -> str:
    name = keyword_for_tag(tag)
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X}){' ' + name if name else ''}"


class StrictRules:
    """The strict refusals for one file, given its declared options and pseudonym."""

    def __init__(self, options: frozenset[str], pseudonym: str):
        self.keep_institution = RETAIN_INSTITUTION_IDENTITY in options
        self.keep_device = RETAIN_DEVICE_IDENTITY in options
        self.keep_dates = bool(DATE_OPTIONS & options)
        self.clean_pixels = CLEAN_PIXEL_DATA in options
        self.pseudonym = pseudonym.rstrip(" ^=")
        self.times = table_times()

    def refusal(self, tag: int, vr: str, text: Callable[[], str | None]) -> str | None:
        """Why an element that has a value is refused under the strict profile, or None.

        ``text()`` gives its value as text, None when it cannot be decoded.
        """
        where = _label(tag)
        if vr == "PN":
            value = text()
            if value is None or not self.pseudonym or value.rstrip(" ^=") != self.pseudonym:
                return f"{where} holds a person's name (strict profile: names must be empty)"
            return None
        if tag in INSTITUTION and not self.keep_institution:
            return (
                f"{where} still has a value (strict profile: removed unless Retain Institution "
                f"Identity, {RETAIN_INSTITUTION_IDENTITY}, is declared)"
            )
        if tag in DEVICE and not self.keep_device:
            return (
                f"{where} still has a value (strict profile: removed unless Retain Device "
                f"Identity, {RETAIN_DEVICE_IDENTITY}, is declared)"
            )
        if tag in PEOPLE:
            return f"{where} identifies a person (strict profile: must be removed)"
        if (vr in ("DA", "DT") or (vr == "TM" and tag in self.times)) and not self.keep_dates:
            return (
                f"{where} holds a date or time (strict profile: removed unless Retain "
                f"Longitudinal Temporal Information, {RETAIN_FULL_DATES} or "
                f"{RETAIN_MODIFIED_DATES}, is declared)"
            )
        if tag == BURNED_IN_ANNOTATION and not self.clean_pixels:
            value = text()
            if value is None or value.strip().upper() == "YES":
                return (
                    f"{where} is YES: text is burned into the pixels (strict profile: refused "
                    f"unless Clean Pixel Data, {CLEAN_PIXEL_DATA}, is declared)"
                )
        return None
