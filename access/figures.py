"""The access body's figures and its activity report (EHDS Art 59), for any period.

Every figure but two is computed from the audit chain, never from the applications' and permits'
mutable columns: :func:`figures_from_events` is a pure function of the chain's events (their
action, object, time and details) up to a stated head, so anyone holding the chain can recompute
the report and check it against the head hash it states. The two exceptions say where they come
from: the time from decision to first access is read from the nodes' access log
(``NodeAccessEvent``, EHDS Art 73), and the quality labels are counted from the catalogue as it
is now (``catalogue.quality``).

Definitions (also on the page):
- *received*: applications submitted in the period;
- *decided*: applications approved, partly approved or refused in the period (a lapsed
  application, not completed within four weeks of being found incomplete, is counted as lapsed,
  not as decided: Art 68(4) says no permit is issued, not that it was refused);
- *withdrawn*: submitted applications withdrawn in the period (withdrawn drafts were never
  received);
- *working days* from complete application to decision: from the day the application was
  submitted, or completed when it had been found incomplete, to the day of the decision,
  counting weekdays that are not public holidays of ``HDAB_COUNTRY``;
- *within the Art 68 deadline*: decided no later than the deadline recorded when the clock
  started, or moved by an extension;
- percentiles: the median, and the 90th percentile by the nearest-rank method.
"""

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import Min
from django.utils import timezone

from access import clocks
from access.clocks import working_days
from access.models import NodeAccessEvent
from catalogue import quality
from catalogue.models import Dataset
from portal.models import AuditEvent

DECIDED = {
    "access.application.approved": "approved",
    "access.application.partially_approved": "partly_approved",
    "access.application.rejected": "refused",
}
ACTIONS = [
    *DECIDED,
    "access.application.submitted",
    "access.application.clarification_answered",
    "access.application.deadline_extended",
    "access.application.withdrawn",
    "access.application.lapsed",
    "access.review.rejected",
    "access.permit.issued",
    "access.permit.suspended",
    "access.permit.revoked",
]
UNKNOWN = "unknown"  # an event written before it carried what the figure needs
NOT_STATED = "not_stated"  # a refusal whose ground nobody named


# --- Working days ---------------------------------------------------------------------------


def holiday_calendar() -> tuple[str, str]:
    """The member state (``HDAB_COUNTRY``) and region (``HDAB_HOLIDAY_REGION``) whose public
    holidays are not working days; the same calendar as the register's clocks."""
    return clocks.calendar()


# --- The figures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Durations:
    """Working days of each case: how many, the median and the 90th percentile."""

    days: tuple[int, ...] = ()

    @property
    def count(self) -> int:
        return len(self.days)

    @property
    def median(self) -> float | None:
        return statistics.median(self.days) if self.days else None

    @property
    def p90(self) -> int | None:
        if not self.days:
            return None
        ordered = sorted(self.days)
        return ordered[math.ceil(0.9 * len(ordered)) - 1]


@dataclass
class Figures:
    start: date
    end: date
    country: str = ""
    region: str = ""
    head_seq: int = 0
    head_hash: str = ""
    received: int = 0
    approved: int = 0
    partly_approved: int = 0
    refused: int = 0
    withdrawn: int = 0
    lapsed: int = 0
    refused_by_ground: Counter[str] = field(default_factory=Counter)
    to_decision: Durations = Durations()
    within_deadline: int = 0
    deadline_known: int = 0
    permits: int = 0
    permits_by_purpose: Counter[str] = field(default_factory=Counter)
    permits_by_dataset: Counter[str] = field(default_factory=Counter)
    suspensions: int = 0
    revocations: int = 0
    # Applications (approved or partly) decided in the period, with when: for first access.
    granted: dict[str, datetime] = field(default_factory=dict)
    # From the node access log; None while no node has reported an access.
    to_first_access: Durations | None = None
    quality_levels: dict[str, int] = field(default_factory=dict)

    @property
    def decided(self) -> int:
        return self.approved + self.partly_approved + self.refused

    @property
    def share_within_deadline(self) -> float | None:
        return self.within_deadline / self.deadline_known if self.deadline_known else None


def _when(value: object) -> datetime | None:
    """A time as the chain stores it in details (ISO 8601, from DjangoJSONEncoder)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def figures_from_events(
    events: Iterable[Mapping[str, Any]],
    *,
    start: date,
    end: date,
    country: str = "",
    region: str = "",
) -> Figures:
    """The figures of the period ``start``–``end`` (local dates, both included) from the chain's
    ``events`` in chain order, each a mapping with ``action``, ``object_id``, ``created_at`` and
    ``details`` (as ``AuditEvent.objects.values()`` gives them). Events after ``end`` are
    ignored; earlier ones are read for when each application's clock started."""
    figures = Figures(start=start, end=end, country=country, region=region)
    complete_at: dict[str, datetime] = {}
    deadline: dict[str, datetime | None] = {}
    grounds: dict[str, dict[object, str]] = defaultdict(dict)
    durations: list[int] = []
    for event in events:
        action, app, details = event["action"], event["object_id"], event["details"] or {}
        at: datetime = event["created_at"]
        day = timezone.localdate(at)
        if day > end:
            continue
        within = day >= start
        if action == "access.application.submitted":
            complete_at[app] = at
            deadline[app] = _when(details.get("decision_due"))
            figures.received += within
        elif action == "access.application.clarification_answered":
            if details.get("restarted_clock"):
                complete_at[app] = at
                deadline[app] = _when(details.get("decision_due"))
        elif action == "access.application.deadline_extended":
            # An extension made after the deadline had passed does not make a late decision
            # timely: the original deadline stays (the portal refuses such extensions now).
            due = deadline.get(app)
            if due is None or at <= due:
                deadline[app] = _when(details.get("decision_due"))
        elif action == "access.review.rejected":
            ground = details.get("ground", UNKNOWN) or NOT_STATED
            grounds[app][details.get("committee")] = ground
        elif action in DECIDED and within:
            outcome = DECIDED[action]
            setattr(figures, outcome, getattr(figures, outcome) + 1)
            if app in complete_at:
                started = timezone.localdate(complete_at[app])
                durations.append(working_days(started, day, country=country, region=region))
            due = deadline.get(app)
            if due is not None:
                figures.deadline_known += 1
                figures.within_deadline += at <= due
            if outcome == "refused":
                for ground in sorted(set(grounds[app].values())) or [UNKNOWN]:
                    figures.refused_by_ground[ground] += 1
            else:
                figures.granted[app] = at
        elif not within:
            continue
        elif action == "access.application.withdrawn":
            figures.withdrawn += details.get("previous") != "draft"
        elif action == "access.application.lapsed":
            figures.lapsed += 1
        elif action == "access.permit.issued":
            figures.permits += 1
            figures.permits_by_purpose[details.get("purpose") or UNKNOWN] += 1
            for dataset in details.get("datasets", [UNKNOWN]):
                figures.permits_by_dataset[str(dataset)] += 1
        elif action == "access.permit.suspended":
            figures.suspensions += 1
        elif action == "access.permit.revoked":
            figures.revocations += 1
    figures.to_decision = Durations(tuple(durations))
    return figures


def chain_events(head_seq: int) -> Iterable[Mapping[str, Any]]:
    """The events the figures read, up to and including ``head_seq``, in chain order."""
    return (
        AuditEvent.objects.filter(seq__lte=head_seq, action__in=ACTIONS)
        .order_by("seq")
        .values("seq", "action", "object_id", "created_at", "details")
        .iterator(chunk_size=2000)
    )


def _first_access(figures: Figures) -> Durations | None:
    """Working days from each granted application's decision to the first access a node
    allowed under its permits; None while no node has reported an allowed access."""
    allowed = NodeAccessEvent.objects.filter(decision=NodeAccessEvent.Decision.ALLOWED)
    if not allowed.exists():
        return None
    firsts = (
        allowed.filter(token__permit__application_id__in=[int(a) for a in figures.granted])
        .values("token__permit__application_id")
        .annotate(first=Min("time"))
    )
    days = []
    for row in firsts:
        decided = figures.granted[str(row["token__permit__application_id"])]
        if row["first"] >= decided:
            days.append(
                working_days(
                    timezone.localdate(decided),
                    timezone.localdate(row["first"]),
                    country=figures.country,
                    region=figures.region,
                )
            )
    return Durations(tuple(days))


def access_body_figures(*, start: date, end: date) -> Figures:
    """The figures of ``start``–``end``, from the chain as it stands now (its head is stated),
    with the time to first access from the node access log and the quality labels of the
    datasets published now."""
    head = AuditEvent.objects.order_by("-seq").values("seq", "hash").first() or {
        "seq": 0,
        "hash": "",
    }
    country, region = holiday_calendar()
    figures = figures_from_events(
        chain_events(head["seq"]), start=start, end=end, country=country, region=region
    )
    figures.head_seq, figures.head_hash = head["seq"], head["hash"]
    figures.to_first_access = _first_access(figures)
    published = Dataset.objects.filter(status=Dataset.Status.PUBLISHED).select_related("node")
    figures.quality_levels = quality.count_by_level(published)
    return figures
