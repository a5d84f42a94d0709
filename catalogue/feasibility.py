"""Cohort feasibility: how many subjects, studies and series of published datasets match
criteria on the study and series index, per dataset and node.

Counts below ``FEASIBILITY_MIN_COUNT`` are suppressed and every shown count is rounded to a
multiple of ``FEASIBILITY_ROUNDING``; totals are computed from the exact counts and then
rounded, never summed from rounded cells. One aggregate query answers a request.
"""

from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.db import connection
from django.db.models import Count, F
from django.http import QueryDict

from catalogue.models import Dataset, DatasetTerm, Series

# Criteria the index does not hold: ingest reads no manufacturer, model, magnetic field
# strength, slice thickness, age or sex per study, so they cannot be counted.
NOT_INDEXED = (
    "manufacturer and model",
    "magnetic field strength",
    "slice thickness",
    "age",
    "sex",
)
DATASET_FACETS = ("condition", "access", "duo")


@dataclass(frozen=True)
class Criteria:
    modality: tuple[str, ...] = ()
    body_part: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    node: tuple[int, ...] = ()
    country: tuple[str, ...] = ()
    facets: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _texts(params: QueryDict, name: str) -> list[str]:
    """The readable values of ``name``: a value with a control character (a NUL cannot even
    reach PostgreSQL) matches nothing indexed, so it is ignored like any unreadable value."""
    return [v for v in params.getlist(name) if v and v.isprintable()]


def _ids(params: QueryDict, name: str) -> list[int]:
    """Ids written in ASCII digits that fit a database id (``"²"`` is a digit to Python)."""
    return [int(v) for v in params.getlist(name) if v.isascii() and v.isdigit() and len(v) < 19]


def parse(params: QueryDict) -> Criteria:
    """Criteria from query parameters; values that cannot be read are ignored."""
    return Criteria(
        modality=tuple(v.upper() for v in _texts(params, "modality")),
        body_part=tuple(v.upper() for v in _texts(params, "body_part")),
        date_from=_date(params.get("study_date_from")),
        date_to=_date(params.get("study_date_to")),
        node=tuple(_ids(params, "node")),
        country=tuple(v.upper() for v in _texts(params, "country")),
        facets={f: tuple(_texts(params, f)) for f in DATASET_FACETS},
    )


@dataclass(frozen=True)
class Shown:
    """A shown count: ``value`` is None when suppressed."""

    value: int | None

    @property
    def suppressed(self) -> bool:
        return self.value is None


def shown(exact: int) -> Shown:
    """Suppress below the threshold, then round to the base (never down to zero)."""
    minimum = settings.FEASIBILITY_MIN_COUNT
    base = settings.FEASIBILITY_ROUNDING
    if exact < minimum:
        return Shown(None)
    return Shown(max(base, (exact + base // 2) // base * base))


@dataclass(frozen=True)
class Cells:
    subjects: Shown
    studies: Shown
    series: Shown

    @classmethod
    def of(cls, subjects: int, studies: int, series: int) -> "Cells":
        return cls(shown(subjects), shown(studies), shown(series))


@dataclass(frozen=True)
class DatasetRow:
    dataset: Dataset
    cells: Cells


@dataclass(frozen=True)
class NodeRow:
    node_id: int
    name: str
    country: str
    cells: Cells
    datasets: list[DatasetRow]


@dataclass(frozen=True)
class Answer:
    total: Cells
    nodes: list[NodeRow]
    minimum: int
    rounding: int


def _series(criteria: Criteria):
    series = Series.objects.filter(study__dataset__status=Dataset.Status.PUBLISHED)
    if criteria.modality:
        series = series.filter(modality__in=criteria.modality)
    if criteria.body_part:
        series = series.filter(body_part__in=criteria.body_part)
    if criteria.date_from:
        series = series.filter(study__study_date__gte=criteria.date_from)
    if criteria.date_to:
        series = series.filter(study__study_date__lte=criteria.date_to)
    if criteria.node:
        series = series.filter(study__dataset__node_id__in=criteria.node)
    if criteria.country:
        series = series.filter(study__dataset__node__country__in=criteria.country)
    for facet, values in criteria.facets.items():
        if values:
            terms = DatasetTerm.objects.filter(facet=facet, value__in=values)
            series = series.filter(study__dataset__in=terms.values("dataset_id"))
    return series


def statement(criteria: Criteria) -> tuple[str, tuple]:
    """The SQL and parameters of the one aggregate query (the benchmark explains it)."""
    per_study = (
        _series(criteria)
        .values(sid=F("study_id"), did=F("study__dataset_id"), subj=F("study__subject"))
        .annotate(n=Count("id"))
        .order_by()
    )
    sql, params = per_study.query.sql_with_params()
    return (
        "SELECT did, COUNT(DISTINCT subj), COUNT(*), SUM(n) "  # noqa: S608 (ORM-built)
        f"FROM ({sql}) AS per_study GROUP BY did",
        tuple(params),
    )


def _exact_counts(criteria: Criteria) -> dict[int, tuple[int, int, int]]:
    """Dataset id -> (subjects, studies, series), in one statement of two levels: the
    matching series grouped by study (a hash aggregate), then those study rows grouped by
    dataset. Counting distinct subjects over study rows rather than series rows sorts a
    quarter of the rows."""
    with connection.cursor() as cursor:
        cursor.execute(*statement(criteria))
        return {row[0]: (row[1], row[2], int(row[3])) for row in cursor.fetchall()}


def count(criteria: Criteria) -> Answer:
    """One aggregate query grouped by dataset; node and total rows add up exact counts.

    Subjects are pseudonyms of one dataset, so a dataset's subjects are distinct from
    another's and the sums over datasets are exact.
    """
    exact = _exact_counts(criteria)
    datasets = (
        Dataset.objects.filter(pk__in=exact)
        .select_related("node")
        .only("title", "node__name", "node__country")
        .order_by("node__name", "title")
    )
    nodes: dict[int, tuple[list[int], list[DatasetRow]]] = {}
    for dataset in datasets:
        sums, members = nodes.setdefault(dataset.node_id, ([0, 0, 0], []))
        for i, n in enumerate(exact[dataset.pk]):
            sums[i] += n
        members.append(DatasetRow(dataset, Cells.of(*exact[dataset.pk])))
    node_rows = [
        NodeRow(
            node_id=node_id,
            name=members[0].dataset.node.name,
            country=members[0].dataset.node.country,
            cells=Cells.of(*sums),
            datasets=members,
        )
        for node_id, (sums, members) in nodes.items()
    ]
    totals = [sum(e[i] for e in exact.values()) for i in range(3)]
    return Answer(
        total=Cells.of(*totals),
        nodes=node_rows,
        minimum=settings.FEASIBILITY_MIN_COUNT,
        rounding=settings.FEASIBILITY_ROUNDING,
    )


def condition_choices() -> list[str]:
    """The cancer types of published datasets, to choose from."""
    return list(
        DatasetTerm.objects.filter(
            facet=DatasetTerm.Facet.CONDITION, dataset__status=Dataset.Status.PUBLISHED
        )
        .values_list("value", flat=True)
        .distinct()
        .order_by("value")
    )
