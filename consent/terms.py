"""The code systems, codes and FHIR times the consent modules share: what the portal writes in
a Consent and how it reads the ones others write. Pure Python, like ``consent.policy``, which
uses it (no Django: the EHDS purpose codes are repeated here from ``catalogue.purposes``, and a
test compares the two).

FHIR dates and dateTimes may be partial. A period starts at the first instant its ``start``
names and ends after the last instant its ``end`` names ("2030-12-31" covers that whole day;
FHIR Period.end is inclusive to its precision). A value without a time zone is read in UTC.
The portal stores and shows only times a day inside the ends of the calendar (years 1 to
9999): :data:`EARLIEST` to :data:`LATEST`, so that each can be shown as a day in any time zone.
"""

import calendar
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from catalogue import duo

# Code systems the portal writes and reads.
EHDS_PURPOSE_SYSTEM = "urn:ecii:codesystem:ehds-purpose"
DUO_SYSTEM = "http://purl.obolibrary.org/obo/duo.owl"
NODE_SYSTEM = "urn:ecii:identifier:node"
DATASET_SYSTEM = "urn:ecii:identifier:dataset"
FHIR_TYPES = "http://hl7.org/fhir/fhir-types"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CUSTODIAN = "CST"
CONSENT_ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

# EHDS Art 53(1) purposes, as ``catalogue.purposes.Purpose`` stores them.
EHDS_PURPOSES = frozenset({
    "public_health", "policy", "statistics", "education", "research", "research_innovation",
    "research_ai", "improving_care",
})  # fmt: skip
# (e) scientific research covers its points (i) and (ii).
NARROWER_PURPOSES: Mapping[str, frozenset[str]] = {
    "research": frozenset({"research_innovation", "research_ai"}),
}
RESEARCH_PURPOSES = frozenset({"research"}) | NARROWER_PURPOSES["research"]
# v3-ActReason codes read as EHDS purposes, and those no lawful request can have (Art 54(c)).
ACT_REASON_PURPOSES: Mapping[str, str] = {"HRESCH": "research", "PUBHLTH": "public_health"}
ACT_REASON_NEVER = frozenset({"HMARKT"})

# Data categories a donor chooses, as FHIR resource types.
CATEGORY_TYPES: Mapping[str, tuple[str, ...]] = {
    "imaging": ("ImagingStudy", "ImagingSelection"),
    "clinical": ("Condition", "Observation", "DiagnosticReport", "Procedure"),
}
IMAGING = "ImagingStudy"

# The consentaction codes a secondary use involves (the others are collect and correct).
USE_ACTIONS = frozenset({"access", "use", "disclose"})
KNOWN_ACTIONS = USE_ACTIONS | {"collect", "correct"}

# Consent.status (R5, required binding).
STATUSES = frozenset({"draft", "active", "inactive", "not-done", "entered-in-error", "unknown"})
DECISIONS = frozenset({"permit", "deny"})


def broader_uses(code: str) -> frozenset[str]:
    """The DUO permissions broader than ``code``: its DUO ancestors (HMB for DS, GRU for HMB),
    GRU for POA (GRU's definition includes ancestry research) and NRES for everything else,
    as ``access.prescreen`` orders uses."""
    broader = {c for c in duo.ancestors(code) if c != duo.PERMISSION}
    if code == duo.POA:
        broader.add(duo.GRU)
    if code != duo.NRES:
        broader.add(duo.NRES)
    return frozenset(broader)


def most_specific(codes: Iterable[str]) -> frozenset[str]:
    """{HMB, DS} is read as DS: a declared use is its narrowest permission."""
    codes = set(codes)
    return frozenset(c for c in codes if not any(c in broader_uses(o) for o in codes - {c}))


def items(value: object) -> list[Mapping[str, Any]]:
    """The JSON objects of a JSON array (nothing for anything else)."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def codings(concept: object) -> list[Mapping[str, Any]]:
    """The codings of a CodeableConcept."""
    return items(concept.get("coding")) if isinstance(concept, Mapping) else []


# ---------------------------------------------------------------------------------------------
# Times

_DATETIME = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


# The first and the first after the last instant the portal stores: a day inside the ends of
# Python's calendar (0001-01-01 to 9999-12-31), which a time shown in any time zone (UTC-12 to
# UTC+14) stays within.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)


class OutOfCalendar(ValueError):
    """A FHIR date or dateTime, well formed, outside the times the portal handles."""


def instant_range(value: str) -> tuple[datetime, datetime]:
    """The first instant a FHIR date, dateTime or instant names, and the first instant after
    the last one it names (``"2030"`` → 2030-01-01T00:00Z and 2031-01-01T00:00Z).

    Raises ``ValueError`` for text that is none of these, :class:`OutOfCalendar` (a
    ``ValueError`` too) for one whose range reaches past year 9999 or before year 1 in UTC.
    """
    match = _DATETIME.match(value)
    if not match:
        raise ValueError(f"not a FHIR date or dateTime: {value!r}")
    try:
        return _range(match.groupdict())
    except (OverflowError, ValueError):
        # datetime's year 1 to 9999: "9999-12-31" has no first instant after it, and
        # "0001-01-01T00:30:00+01:00" is in year 0 in UTC. (A month 13 or a day 32 is also a
        # ValueError, of a date that does not exist.)
        if _exists(match.groupdict()):
            raise OutOfCalendar(f"outside the years 1 to 9999 in UTC: {value!r}") from None
        raise ValueError(f"not a FHIR date or dateTime: {value!r}") from None


def bounded_range(value: str) -> tuple[datetime, datetime]:
    """:func:`instant_range`, refusing with :class:`OutOfCalendar` a range that starts
    before :data:`EARLIEST` or ends after :data:`LATEST` (what the portal stores)."""
    start, end = instant_range(value)
    if start < EARLIEST or end > LATEST:
        raise OutOfCalendar(f"outside {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}: {value!r}")
    return start, end


def _exists(parts: Mapping[str, str | None]) -> bool:
    """Whether the calendar date of ``parts`` exists (its time being well formed)."""
    try:
        datetime(int(parts["y"] or 1), int(parts["m"] or 1), int(parts["d"] or 1))
    except ValueError:
        return False
    hour, minute, second = (int(parts[k] or 0) for k in ("H", "M", "S"))
    zone = parts["tz"] or "Z"
    offset = (0, 0) if zone == "Z" else (int(zone[1:3]), int(zone[4:6]))
    return hour < 24 and minute < 60 and second <= 60 and offset < (24, 0) and offset[1] < 60


def _range(parts: Mapping[str, Any]) -> tuple[datetime, datetime]:
    year = int(parts["y"])
    if parts["m"] is None:
        start = datetime(year, 1, 1, tzinfo=UTC)
        return start, _add_months(start, 12)
    month = int(parts["m"])
    if parts["d"] is None:
        start = datetime(year, month, 1, tzinfo=UTC)
        return start, _add_months(start, 1)
    day = int(parts["d"])
    if parts["H"] is None:
        start = datetime(year, month, day, tzinfo=UTC)
        return start, start + timedelta(days=1)
    tz: timezone = UTC
    if parts["tz"] and parts["tz"] != "Z":
        sign = 1 if parts["tz"][0] == "+" else -1
        hours, minutes = int(parts["tz"][1:3]), int(parts["tz"][4:6])
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    second = int(parts["S"] or 0)
    step = timedelta(minutes=1) if parts["S"] is None else timedelta(seconds=1)
    micro = 0
    if parts["f"]:
        digits = parts["f"][1:]
        micro = int((digits + "000000")[:6])
        step = timedelta(microseconds=max(1, 10 ** (6 - min(len(digits), 6))))
    if second == 60:  # a leap second: the last instant of the minute
        second, micro, step = 59, 999999, timedelta(microseconds=1)
    start = datetime(year, month, day, int(parts["H"]), int(parts["M"]), second, micro, tzinfo=tz)
    return start.astimezone(UTC), (start + step).astimezone(UTC)


def _add_months(start: datetime, months: int) -> datetime:
    month = start.month - 1 + months
    year = start.year + month // 12
    month = month % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def within(at: datetime, start: datetime | None, end: datetime | None) -> bool:
    """Whether ``at`` is in the period from ``start`` to just before ``end`` (open sides:
    ``None``)."""
    return (start is None or start <= at) and (end is None or at < end)


def period_bounds(period: object) -> tuple[datetime | None, datetime | None]:
    """A FHIR Period as ``(start, end)``: the first instant in it and the first instant after
    it; ``None`` for an open side. ``ValueError`` for a period that cannot be read."""
    if not isinstance(period, Mapping):
        raise ValueError("a period is a JSON object")
    start = period.get("start")
    end = period.get("end")
    return (
        instant_range(start)[0] if isinstance(start, str) else None,
        instant_range(end)[1] if isinstance(end, str) else None,
    )
