"""Reads for the public register and its clocks: the entries (searchable by purpose, dataset,
organisation, year and outcome), the decisions the access body must still publish, and the
permits whose results are due or overdue."""

from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from access.clocks import RESULTS_MONTHS, publication_due, results_due
from access.models import (
    Application,
    ApplicationDataset,
    Permit,
    PermitResults,
)
from access.models import RegisterOutcome as Outcome
from access.permissions import is_party
from catalogue.models import Dataset
from portal.models import AnyUser, Role


@dataclass(frozen=True)
class RegisterFilters:
    q: str = ""
    purpose: str = ""
    dataset: int | None = None
    organisation: str = ""
    year: int | None = None
    outcome: str = ""


_OUTCOME_FILTERS: dict[str, Q] = {
    Outcome.ASSESSING: Q(status__in=Application.OPEN),
    Outcome.DECIDED: Q(status__in=Application.DECIDED, publication__isnull=True),
    Outcome.APPROVED: Q(status=Application.Status.APPROVED, publication__isnull=False),
    Outcome.PARTIALLY_APPROVED: Q(
        status=Application.Status.PARTIALLY_APPROVED, publication__isnull=False
    ),
    Outcome.REFUSED: Q(status=Application.Status.REJECTED, publication__isnull=False),
    Outcome.WITHDRAWN: Q(status=Application.Status.WITHDRAWN),
}


def _received() -> QuerySet[Application]:
    return Application.objects.filter(submitted_at__isnull=False)


def register_entries(filters: RegisterFilters, *, detail: bool = False) -> QuerySet[Application]:
    """Received applications matching ``filters``, newest first, with what their entries read
    prefetched (``detail``: also the permits, their datasets and results)."""
    entries = _received()
    if filters.q:
        entries = entries.filter(
            Q(lay_title__icontains=filters.q)
            | Q(lay_summary__icontains=filters.q)
            | Q(organisation__icontains=filters.q)
        )
    if filters.purpose:
        entries = entries.filter(purpose=filters.purpose)
    if filters.dataset:
        entries = entries.filter(items__dataset=filters.dataset)
    if filters.organisation:
        entries = entries.filter(organisation__icontains=filters.organisation)
    if filters.year:
        entries = entries.filter(submitted_at__year=filters.year)
    if filters.outcome in _OUTCOME_FILTERS:
        entries = entries.filter(_OUTCOME_FILTERS[filters.outcome])
    entries = entries.select_related("publication").prefetch_related(
        Prefetch(
            "items",
            queryset=ApplicationDataset.objects.select_related("dataset__node").order_by(
                "dataset__title", "pk"
            ),
        )
    )
    if detail:
        entries = entries.prefetch_related(
            Prefetch(
                "permits",
                queryset=Permit.objects.select_related("results")
                .prefetch_related(
                    Prefetch("datasets", queryset=Dataset.objects.select_related("node")),
                    "results__outputs",
                )
                .order_by("number"),
            )
        )
    return entries.distinct().order_by("-submitted_at", "-pk")


def register_entry(pk: int) -> Application:
    """One received application, as the register shows it; anything else is 404."""
    try:
        return register_entries(RegisterFilters(), detail=True).get(pk=pk)
    except (Application.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def register_years() -> list[int]:
    return sorted(
        {
            moment.year
            for moment in _received().values_list("submitted_at", flat=True)
            if moment is not None
        },
        reverse=True,
    )


def register_datasets() -> QuerySet[Dataset]:
    """The datasets named in the register, for its filter."""
    return (
        Dataset.objects.filter(
            pk__in=ApplicationDataset.objects.filter(
                application__submitted_at__isnull=False
            ).values("dataset")
        )
        .select_related("node")
        .order_by("title", "pk")
    )


# --- The clocks, for the access body ----------------------------------------------------------


@dataclass(frozen=True)
class PublicationDue:
    application: Application
    decided_on: date
    due_on: date
    late: bool


def publications_due(*, today: date | None = None) -> list[PublicationDue]:
    """Decisions whose notice is not published yet, the latest due last: each with the day it
    is due (30 working days after the decision) and whether that day has passed."""
    today = today or timezone.localdate()
    waiting = (
        Application.objects.filter(status__in=Application.DECIDED, publication__isnull=True)
        .exclude(decided_at__isnull=True)
        .order_by("decided_at", "pk")
    )
    rows = []
    for application in waiting:
        decided_on = timezone.localdate(application.decided_at)
        due_on = publication_due(decided_on)
        rows.append(PublicationDue(application, decided_on, due_on, due_on < today))
    return rows


def access_decision_to_publish(user: AnyUser, pk: int) -> Application:
    """A decided application whose notice the access body may publish: 404 for anyone else
    (and for a member of the access body who is a party to it), and for an application that
    is not decided."""
    if not (user.is_authenticated and user.has_role(Role.HDAB_ADMIN)):
        raise Http404
    try:
        application = Application.objects.get(pk=pk, status__in=Application.DECIDED)
    except (Application.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if is_party(user, application):
        raise Http404
    return application


@dataclass(frozen=True)
class ResultsDue:
    permit: Permit
    results: PermitResults | None
    due_on: date
    overdue: bool


def results_pending(*, today: date | None = None, within_days: int = 92) -> list[ResultsDue]:
    """Permits whose results are not reported and are due within ``within_days`` or overdue,
    the soonest first."""
    today = today or timezone.localdate()
    horizon = today + timedelta(days=within_days)
    # Due within the horizon: the permit ended 18 months before it (or the clock was moved
    # to a day before it); the exact day is computed below.
    ended_by = horizon - relativedelta(months=RESULTS_MONTHS)
    permits = (
        Permit.objects.filter(Q(results__isnull=True) | Q(results__reported_at__isnull=True))
        .filter(
            Q(results__extended_until__isnull=True, ends_on__lte=ended_by)
            | Q(results__extended_until__lte=horizon)
        )
        .exclude(status=Permit.Status.REVOKED)
        .select_related("results", "holder", "application")
        .order_by("ends_on", "pk")
    )
    rows = []
    for permit in permits:
        results = results_of(permit)
        due_on = results_due(permit, results)
        if (due_on - today).days <= within_days:
            rows.append(ResultsDue(permit, results, due_on, due_on < today))
    return sorted(rows, key=lambda row: (row.due_on, row.permit.pk))


def results_of(permit: Permit) -> PermitResults | None:
    """The permit's results record, or None when nothing was recorded yet."""
    try:
        return permit.results
    except PermitResults.DoesNotExist:
        return None


def access_permit_results(user: AnyUser, pk: int) -> Permit:
    """A permit whose results ``user`` records: its holder only; 404 for anyone else."""
    if not user.is_authenticated:
        raise Http404
    try:
        return Permit.objects.select_related("application").get(pk=pk, holder=user)
    except (Permit.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def access_permit_results_clock(user: AnyUser, pk: int) -> Permit:
    """A permit whose results clock the access body may extend; 404 for anyone else."""
    if not (user.is_authenticated and user.has_role(Role.HDAB_ADMIN)):
        raise Http404
    try:
        permit = Permit.objects.select_related("application").get(pk=pk)
    except (Permit.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if is_party(user, permit.application):
        raise Http404
    return permit
