"""The register's clocks: a decision is published within 30 working days (EHDS
Art 57(1)(j)(iii)); results are made public within 18 months of the end of processing
(Art 61(4)), the end being the permit's end.

A working day is a weekday that is not a public holiday of the access body's member state
(``HDAB_COUNTRY``, optionally a region of it, ``HDAB_HOLIDAY_REGION``). The holidays come
from the ``holidays`` library; no table is kept here. With no country set, only weekends
are days off.
"""

from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

import holidays
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from access.models import Permit, PermitResults

PUBLICATION_WORKING_DAYS = 30
RESULTS_MONTHS = 18
# Reminders to the permit holder before the results are due.
REMINDERS = (("3m", relativedelta(months=3)), ("1m", relativedelta(months=1)))


@lru_cache(maxsize=64)
def _holidays(country: str, region: str, year: int) -> frozenset[date]:
    if not country:
        return frozenset()
    try:
        calendar = holidays.country_holidays(country, subdiv=region or None, years=year)
    except NotImplementedError as error:
        raise ImproperlyConfigured(
            f"HDAB_COUNTRY={country!r} HDAB_HOLIDAY_REGION={region!r}: {error}"
        ) from error
    return frozenset(calendar)


def calendar() -> tuple[str, str]:
    """``HDAB_COUNTRY`` and ``HDAB_HOLIDAY_REGION``, as the holidays library reads them."""
    return settings.HDAB_COUNTRY.strip().upper(), settings.HDAB_HOLIDAY_REGION.strip()


def is_working_day(day: date) -> bool:
    country, region = calendar()
    return day.weekday() < 5 and day not in _holidays(country, region, day.year)


def working_days(start: date, end: date, *, country: str = "", region: str = "") -> int:
    """Working days after ``start`` up to and including ``end``: weekdays that are not public
    holidays of ``country`` (and ``region``); 0 when ``end`` is not after ``start``. Counted by
    whole weeks, then the year's holidays, so that a long span costs no more than a short one
    (the access body's figures count thousands of spans)."""
    if end <= start:
        return 0
    first = start + timedelta(days=1)
    weeks, extra = divmod((end - first).days + 1, 7)
    days = weeks * 5 + sum(1 for i in range(extra) if (first.weekday() + i) % 7 < 5)
    for year in range(first.year, end.year + 1):
        closed = _holidays(country, region, year)
        days -= sum(1 for d in closed if first <= d <= end and d.weekday() < 5)
    return days


def add_working_days(start: date, days: int) -> date:
    """The day ``days`` working days after ``start`` (``start`` itself not counted)."""
    day = start
    left = days
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day


def publication_due(decided_on: date) -> date:
    """The last day to publish a decision taken on ``decided_on``."""
    return add_working_days(decided_on, PUBLICATION_WORKING_DAYS)


def results_due(permit: "Permit", results: "PermitResults | None" = None) -> date:
    """The day the permit's results are due: 18 months after the permit's end, or the day
    the access body extended the clock to."""
    if results is not None and results.extended_until:
        return results.extended_until
    return permit.ends_on + relativedelta(months=RESULTS_MONTHS)
