"""Search and history parameters: what each means as a database filter, and paging.

Consent search (``GET /fhir/Consent``) reads the current version of each consent the caller
may see, newest update first:

- ``patient``: ``Patient/<pseudonym>`` or ``<pseudonym>``;
- ``status``: a Consent status code (``active``, ``inactive``, …), optionally with its system;
- ``date`` (``Consent.date``) and ``_lastUpdated``: a FHIR date or dateTime, partial ones
  (``2026``, ``2026-03``) meaning the whole range they name, with a prefix ``eq`` (the
  default), ``ne``, ``lt``, ``le``, ``gt``, ``ge``, ``sa`` or ``eb``, compared as FHIR's search
  page says (ranges against ranges);
- ``_count`` (results per page, 20 by default, at most :data:`MAX_COUNT`; 0 gives only the
  total) and ``_page`` (which page, from 1; the links of a Bundle carry it).

Commas within one value mean "any of"; a parameter given twice means "both". A parameter the
server does not know (or a modifier such as ``:missing``) is refused with 400, unless the
client sends ``Prefer: handling=lenient``, when it is left out (and out of the ``self`` link).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.db.models import Q
from django.http import HttpRequest

from consent.fhir import Issue
from consent.fhir_api.common import FhirError
from consent.terms import OutOfCalendar, bounded_range

DEFAULT_COUNT = 20
MAX_COUNT = 100
CONSENT_STATE_SYSTEM = "http://hl7.org/fhir/consent-state-codes"
# Parameters of every interaction that are not search criteria.
CONTROL = frozenset({"_format"})
PAGING = frozenset({"_count", "_page"})
SEARCH_PARAMETERS = frozenset({"patient", "status", "date", "_lastUpdated"})
HISTORY_PARAMETERS = frozenset({"_since"})
PREFIXES = ("eq", "ne", "lt", "le", "gt", "ge", "sa", "eb", "ap")
_PREFIX = re.compile(r"^(eq|ne|lt|le|gt|ge|sa|eb|ap)?(\d.*)$")
# The largest page number worth reading (far past any list the portal holds).
MAX_PAGE = 1_000_000


@dataclass
class Query:
    """A parsed search or history request: its filter, its page, and the parameters it used
    (for the Bundle's links)."""

    where: Q = field(default_factory=Q)
    count: int = DEFAULT_COUNT
    page: int = 1
    used: list[tuple[str, str]] = field(default_factory=list)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.count

    def link(self, base: str, page: int) -> str:
        """The address of page ``page`` of the same search."""
        params = [*self.used, ("_count", str(self.count)), ("_page", str(page))]
        return f"{base}?{urlencode(params)}"


def _lenient(request: HttpRequest) -> bool:
    preferences = re.split(r"[,;]", request.headers.get("Prefer", ""))
    return any(p.replace(" ", "") == "handling=lenient" for p in preferences)


def _whole_number(name: str, value: str, low: int) -> int:
    if not re.fullmatch(r"\d{1,9}", value) or int(value) < low:
        raise FhirError(400, f"{name} is a whole number of at least {low}.")
    return int(value)


def parse(request: HttpRequest, criteria: frozenset[str]) -> Query:
    """The query of ``request``, whose criteria may be ``criteria``; 400 for a parameter the
    server does not know (under strict handling) or a value it cannot read."""
    query = Query()
    lenient = _lenient(request)
    for name, values in request.GET.lists():
        if name in CONTROL:
            query.used += [(name, v) for v in values]
            continue
        if name in PAGING:
            if len(values) > 1:
                raise FhirError(400, f"Give {name} once.")
            if name == "_count":
                query.count = min(_whole_number(name, values[0], 0), MAX_COUNT)
            else:
                query.page = min(_whole_number(name, values[0], 1), MAX_PAGE)
            continue
        if name not in criteria:
            if lenient:
                continue
            known = ", ".join(sorted(criteria | PAGING | CONTROL))
            raise FhirError(
                400,
                [
                    Issue(
                        "",
                        f"This server does not support the parameter {name!r} here (it "
                        f"supports {known}; send Prefer: handling=lenient to have unknown "
                        "parameters ignored).",
                        "not-supported",
                    )
                ],
            )
        for value in values:
            query.where &= _criterion(name, value)
            query.used.append((name, value))
    return query


def _criterion(name: str, value: str) -> Q:
    alternatives = value.split(",")
    if not all(a.strip() for a in alternatives):
        raise FhirError(400, f"{name}: every value between commas must say something.")
    readers: dict[str, Callable[[str], Q]] = {
        "patient": _patient,
        "status": _status,
        "date": lambda v: _dated(v, "date", _DAY_RANGE),
        "_lastUpdated": lambda v: _dated(v, "_lastUpdated", _INSTANT),
        "_since": _since,
    }
    where = Q(pk__in=[])
    for alternative in alternatives:
        where |= readers[name](alternative.strip())
    return where


def _patient(value: str) -> Q:
    pseudonym = value.removeprefix("Patient/")
    if not re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", pseudonym):
        raise FhirError(400, "patient is Patient/<id> or <id>.")
    return Q(record__owner__pseudonym=pseudonym)


def _status(value: str) -> Q:
    system, bar, code = value.rpartition("|")
    if bar and system not in ("", CONSENT_STATE_SYSTEM):
        return Q(pk__in=[])
    return Q(status=code)


def _since(value: str) -> Q:
    low, _high = _range("_since", value)
    return Q(last_updated__gte=low)


def _range(name: str, value: str) -> tuple[datetime, datetime]:
    try:
        return bounded_range(value)
    except OutOfCalendar:
        raise FhirError(
            400,
            f"{name}: {value!r} is too near the ends of the calendar: the portal searches "
            "times from 0001-01-02 to 9999-12-30 (UTC).",
        ) from None
    except ValueError:
        raise FhirError(
            400, f"{name}: {value!r} is not a FHIR date or dateTime (2026, 2026-03-01, …)."
        ) from None


@dataclass(frozen=True)
class _Extent:
    """How the values of a column span time, as four filters on it: the value's range starts
    before ``x``, starts at or after ``x``, ends after ``x``, ends at or before ``x``."""

    starts_before: Callable[[str, datetime], Q]
    starts_from: Callable[[str, datetime], Q]
    ends_after: Callable[[str, datetime], Q]
    ends_by: Callable[[str, datetime], Q]


def _first_day_from(moment: datetime) -> date:
    """The first day whose start is at or after ``moment`` (UTC)."""
    day = moment.date()
    midnight = moment.time() == time(0)
    return day if midnight else day + timedelta(days=1)


def _last_day_by(moment: datetime) -> date:
    """The last day that ends at or before ``moment`` (UTC)."""
    return (moment - timedelta(days=1)).date()


# ``Consent.date``: a day, from its first instant to the first instant of the next (UTC).
_DAY_RANGE = _Extent(
    starts_before=lambda c, x: Q(**{f"{c}__lt": _first_day_from(x)}),
    starts_from=lambda c, x: Q(**{f"{c}__gte": _first_day_from(x)}),
    ends_after=lambda c, x: Q(**{f"{c}__gt": _last_day_by(x)}),
    ends_by=lambda c, x: Q(**{f"{c}__lte": _last_day_by(x)}),
)
# ``meta.lastUpdated``: an instant, to the microsecond.
_INSTANT = _Extent(
    starts_before=lambda c, x: Q(**{f"{c}__lt": x}),
    starts_from=lambda c, x: Q(**{f"{c}__gte": x}),
    ends_after=lambda c, x: Q(**{f"{c}__gte": x}),
    ends_by=lambda c, x: Q(**{f"{c}__lt": x}),
)
_COLUMNS = {"date": "date", "_lastUpdated": "last_updated"}


def _dated(value: str, name: str, extent: _Extent) -> Q:
    match = _PREFIX.match(value)
    if not match:
        raise FhirError(400, f"{name}: {value!r} is not a FHIR date or dateTime with a prefix.")
    prefix, moment = match.group(1) or "eq", match.group(2)
    if prefix == "ap":
        raise FhirError(400, f"{name}: the prefix ap is not supported; use ge and le.")
    low, high = _range(name, moment)
    column = _COLUMNS[name]
    within = extent.starts_from(column, low) & extent.ends_by(column, high)
    found = {
        "eq": within,
        "ne": ~within,
        "gt": extent.ends_after(column, high),
        "lt": extent.starts_before(column, low),
        "ge": extent.ends_after(column, high) | within,
        "le": extent.starts_before(column, low) | within,
        "sa": extent.starts_from(column, high),
        "eb": extent.ends_by(column, low),
    }[prefix]
    return found & Q(**{f"{column}__isnull": False})


def bundle_links(base: str, query: Query, total: int) -> list[dict[str, str]]:
    """``self``, ``first``, ``previous``, ``next`` and ``last`` of a paged Bundle."""
    last = max(1, -(-total // query.count)) if query.count else 1
    links = [("self", query.page), ("first", 1)]
    if query.count and 1 < query.page <= last + 1:
        links.append(("previous", query.page - 1))
    if query.count and query.page < last:
        links.append(("next", query.page + 1))
    links.append(("last", last))
    return [{"relation": relation, "url": query.link(base, page)} for relation, page in links]
