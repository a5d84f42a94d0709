"""The strict de-identification profile: the refusals the basic gate cannot make.

The basic gate (:mod:`.gate`) lets an attribute whose PS3.15 action allows a dummy value (D,
X/Z, X/D, X/Z/D...) keep any value, because a dummy cannot be told from a real one. So a real
institution name, station name, device serial number, an operator's name such as
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

This module holds rules only; :mod:`.gate` walks the header and asks
:meth:`StrictRules.refusal` about each element that has a value.
"""

from collections.abc import Callable

from .table import (
    CLEAN_PIXEL_DATA,
    RETAIN_DEVICE_IDENTITY,
    RETAIN_FULL_DATES,
    RETAIN_INSTITUTION_IDENTITY,
    RETAIN_MODIFIED_DATES,
    table_tags,
    tag_text,
)

BASIC = "basic"
STRICT = "strict"
PROFILES = (BASIC, STRICT)

BURNED_IN_ANNOTATION = 0x00280301

# Kept (K) by Retain Institution Identity in PS3.15 Table E.1-1, or naming an institution.
INSTITUTION = {
    0x00080080: "InstitutionName", 0x00080081: "InstitutionAddress",
    0x00081040: "InstitutionalDepartmentName", 0x00080082: "InstitutionCodeSequence",
    0x00081041: "InstitutionalDepartmentTypeCodeSequence", 0x0040A027: "VerifyingOrganization",
}  # fmt: skip
# Kept (K) by Retain Device Identity: the station and the device's serial numbers.
DEVICE = {
    0x00081010: "StationName", 0x00181000: "DeviceSerialNumber",
    0x30080105: "SourceSerialNumber", 0x00160051: "LensSerialNumber",
    0x00400242: "PerformedStationName", 0x00400010: "ScheduledStationName",
    0x00400241: "PerformedStationAETitle", 0x00400001: "ScheduledStationAETitle",
    0x00181002: "DeviceUID", 0x0018700A: "DetectorID", 0x00181008: "GantryID",
    0x00181005: "GeneratorID",
}  # fmt: skip
# Identify people without being person names; no retain option keeps them.
PEOPLE = {
    0x00081072: "OperatorIdentificationSequence",
    0x0040A088: "VerifyingObserverIdentificationCodeSequence",
}
KEYWORDS = {**INSTITUTION, **DEVICE, **PEOPLE, BURNED_IN_ANNOTATION: "BurnedInAnnotation"}
DATE_OPTIONS = frozenset({RETAIN_FULL_DATES, RETAIN_MODIFIED_DATES})


class StrictRules:
    """The strict refusals for one file, given its declared options and pseudonym.

    ``keyword(tag)`` names an attribute in a refusal ("" when unknown).
    """

    def __init__(self, options: frozenset[str], pseudonym: str, keyword: Callable[[int], str]):
        self.keep_institution = RETAIN_INSTITUTION_IDENTITY in options
        self.keep_device = RETAIN_DEVICE_IDENTITY in options
        self.keep_dates = bool(DATE_OPTIONS & options)
        self.clean_pixels = CLEAN_PIXEL_DATA in options
        self.pseudonym = pseudonym.rstrip(" ^=")
        self.times = table_tags()
        self.keyword = keyword

    def _label(self, tag: int) -> str:
        name = self.keyword(tag) or KEYWORDS.get(tag, "")
        return f"{tag_text(tag)}{' ' + name if name else ''}"

    def refusal(self, tag: int, vr: str, text: Callable[[], str | None]) -> str | None:
        """Why an element that has a value is refused under the strict profile, or None.

        ``text()`` gives its value as text, None when it cannot be decoded.
        """
        if vr == "PN":
            value = text()
            if value is None or not self.pseudonym or value.rstrip(" ^=") != self.pseudonym:
                return (
                    f"{self._label(tag)} holds a person's name (strict profile: names must be "
                    "empty)"
                )
            return None
        if tag in INSTITUTION and not self.keep_institution:
            return (
                f"{self._label(tag)} still has a value (strict profile: removed unless Retain "
                f"Institution Identity, {RETAIN_INSTITUTION_IDENTITY}, is declared)"
            )
        if tag in DEVICE and not self.keep_device:
            return (
                f"{self._label(tag)} still has a value (strict profile: removed unless Retain "
                f"Device Identity, {RETAIN_DEVICE_IDENTITY}, is declared)"
            )
        if tag in PEOPLE:
            return f"{self._label(tag)} identifies a person (strict profile: must be removed)"
        if (vr in ("DA", "DT") or (vr == "TM" and tag in self.times)) and not self.keep_dates:
            return (
                f"{self._label(tag)} holds a date or time (strict profile: removed unless Retain "
                f"Longitudinal Temporal Information, {RETAIN_FULL_DATES} or "
                f"{RETAIN_MODIFIED_DATES}, is declared)"
            )
        if tag == BURNED_IN_ANNOTATION and not self.clean_pixels:
            value = text()
            if value is None or value.strip().upper() == "YES":
                return (
                    f"{self._label(tag)} is YES: text is burned into the pixels (strict profile: "
                    f"refused unless Clean Pixel Data, {CLEAN_PIXEL_DATA}, is declared)"
                )
        return None
