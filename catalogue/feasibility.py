"""Cohort feasibility: how many subjects, studies and series of published datasets match
criteria on the study and series index, per dataset and node.

Counts below ``FEASIBILITY_MIN_COUNT`` are suppressed and every shown count is rounded to a
multiple of ``FEASIBILITY_ROUNDING``; totals are computed from the exact counts and then
rounded, never summed from rounded cells.

A request costs two queries: the published datasets that meet the dataset criteria, and one
aggregate grouped by dataset over the narrowest table that can answer exactly (see
:mod:`catalogue.feasibility_index`), or, where that table is the studies or the entries, the
index held in memory (:mod:`catalogue.feasibility_memory`, unless ``FEASIBILITY_IN_MEMORY`` is
false) after one look at the catalogue's change log:

- no study criterion and at most one modality as series criterion: :class:`FeasibilityTotals`,
  one row per dataset (and modality);
- no study criterion and any values of one of modality, body part, manufacturer or model as
  the only series criterion: :class:`FeasibilityGroup`, a few rows per dataset;
- study date, age or sex only: :class:`Study` with its number of series;
- any series criterion: :class:`FeasibilityEntry`, one row per study and series description.
"""

from dataclasses import dataclass, field, replace
from datetime import date

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.utils.translation import gettext as _

from access.node.deid.gate import MAX_BODY_PART, MAX_MANUFACTURER, MAX_MODALITY
from catalogue import duo, feasibility_memory
from catalogue.models import (
    Dataset,
    DatasetTerm,
    FeasibilityEntry,
    FeasibilityGroup,
    FeasibilityTotals,
    Study,
)
from catalogue.params import Reader
from catalogue.vocabularies import COUNTRY_NAMES, AccessCondition

SEXES = ("F", "M", "O")
PAGE_SIZE = 50  # dataset rows per page; node and total rows always count every dataset


@dataclass(frozen=True)
class Criteria:
    modality: tuple[str, ...] = ()
    body_part: tuple[str, ...] = ()
    manufacturer: tuple[str, ...] = ()
    model: tuple[str, ...] = ()
    field_strength_from: float | None = None
    field_strength_to: float | None = None
    slice_thickness_from: float | None = None
    slice_thickness_to: float | None = None
    date_from: date | None = None
    date_to: date | None = None
    age_from: int | None = None
    age_to: int | None = None
    sex: tuple[str, ...] = ()
    node: tuple[int, ...] = ()
    country: tuple[str, ...] = ()
    facets: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def by_series(self) -> bool:
        return bool(
            self.modality
            or self.body_part
            or self.manufacturer
            or self.model
            or self.field_strength_from is not None
            or self.field_strength_to is not None
            or self.slice_thickness_from is not None
            or self.slice_thickness_to is not None
        )

    @property
    def by_study(self) -> bool:
        return bool(
            self.date_from or self.date_to or self.age_from is not None
            or self.age_to is not None or self.sex
        )  # fmt: skip

    @property
    def by_dataset(self) -> bool:
        return bool(self.node or self.country or any(self.facets.values()))


MAX_AGE = 200  # years: no one is older
TERM_LENGTH = 200  # characters of a dataset's term (DatasetTerm.value)


def parse(params: QueryDict) -> Criteria:
    """Criteria from query parameters. A value that cannot be a criterion is refused, never
    left out: ``ValidationError`` naming each such parameter (:mod:`catalogue.params`).

    Series attributes are text of at most the index's lengths, in any case; sex is ``F``,
    ``M`` or ``O``; country an ISO 3166-1 code of the catalogue's countries; access and DUO
    codes those a dataset can carry; numbers finite and not below zero (ages whole); dates ISO;
    no range may end below its start. A value of these that no dataset has counts zero.
    """
    read = Reader(params)
    field_strength = (read.number("field_strength_from"), read.number("field_strength_to"))
    slice_thickness = (read.number("slice_thickness_from"), read.number("slice_thickness_to"))
    dates = (read.date("study_date_from"), read.date("study_date_to"))
    age_from = read.number("age_from", whole=True)
    age_to = read.number("age_to", whole=True)
    read.ordered("field_strength_from", field_strength[0], "field_strength_to", field_strength[1])
    read.ordered(
        "slice_thickness_from", slice_thickness[0], "slice_thickness_to", slice_thickness[1]
    )
    read.ordered("study_date_from", dates[0], "study_date_to", dates[1])
    read.ordered("age_from", age_from, "age_to", age_to)
    criteria = Criteria(
        modality=read.texts("modality", limit=MAX_MODALITY, upper=True),
        body_part=read.texts("body_part", limit=MAX_BODY_PART, upper=True),
        manufacturer=read.texts("manufacturer", limit=MAX_MANUFACTURER, upper=True),
        model=read.texts("model", limit=MAX_MANUFACTURER, upper=True),
        field_strength_from=field_strength[0],
        field_strength_to=field_strength[1],
        slice_thickness_from=slice_thickness[0],
        slice_thickness_to=slice_thickness[1],
        date_from=dates[0],
        date_to=dates[1],
        # Ages above MAX_AGE mean the same as MAX_AGE (and stay within the age column's range).
        age_from=None if age_from is None else min(int(age_from), MAX_AGE),
        age_to=None if age_to is None else min(int(age_to), MAX_AGE),
        sex=read.codes("sex", SEXES, what=_("a sex the index records: F, M or O")),
        node=read.ids("node", what=_("a node id")),
        country=read.codes("country", COUNTRY_NAMES, what=_("a country code of the catalogue")),
        facets={
            "condition": read.texts("condition", limit=TERM_LENGTH),
            "access": read.codes("access", AccessCondition.values, what=_("an access condition")),
            "duo": read.codes("duo", duo.BY_CODE, what=_("a DUO code a dataset can carry")),
        },
    )
    read.check()
    return criteria


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
    dataset_id: int
    title: str
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
    """The total and node rows count every matching dataset; ``page`` holds one page of the
    dataset rows and ``nodes`` the node rows of that page, each with its datasets on it."""

    total: Cells
    nodes: list[NodeRow]
    page: Page
    minimum: int
    rounding: int


def eligible_datasets(criteria: Criteria) -> QuerySet[Dataset]:
    """The published datasets that meet the dataset criteria (facets, node, country)."""
    datasets = Dataset.objects.filter(status=Dataset.Status.PUBLISHED)
    if criteria.node:
        datasets = datasets.filter(node_id__in=criteria.node)
    if criteria.country:
        datasets = datasets.filter(node__country__in=criteria.country)
    for facet, values in criteria.facets.items():
        if values:
            terms = DatasetTerm.objects.filter(facet=facet, value__in=values)
            datasets = datasets.filter(pk__in=terms.values("dataset_id"))
    return datasets


def _study_filter(criteria: Criteria) -> Q:
    q = Q()
    if criteria.date_from:
        q &= Q(study_date__gte=criteria.date_from)
    if criteria.date_to:
        q &= Q(study_date__lte=criteria.date_to)
    if criteria.age_from is not None:
        q &= Q(age__gte=criteria.age_from)
    if criteria.age_to is not None:
        q &= Q(age__lte=criteria.age_to)
    if criteria.sex:
        q &= Q(sex__in=criteria.sex)
    return q


def _series_filter(criteria: Criteria) -> Q:
    q = Q()
    for name in ("modality", "body_part", "manufacturer", "model"):
        if values := getattr(criteria, name):
            q &= Q(**{f"{name}__in": values})
    for name in ("field_strength", "slice_thickness"):
        low, high = getattr(criteria, f"{name}_from"), getattr(criteria, f"{name}_to")
        if low is not None:
            q &= Q(**{f"{name}__gte": low})
        if high is not None:
            q &= Q(**{f"{name}__lte": high})
    return q


def _one_attribute(criteria: Criteria) -> str | None:
    """The attribute of the criteria's only series criterion, when it is one of those kept in
    groups and nothing is asked of the studies."""
    if criteria.by_study:
        return None
    asked = [a for a in FeasibilityGroup.Attribute.values if getattr(criteria, a)]
    if len(asked) != 1 or replace(criteria, **{asked[0]: ()}).by_series:
        return None
    return asked[0]


def _groups(attribute: str, values: tuple[str, ...]) -> QuerySet:
    """Per dataset, the subjects and studies with a series of any of ``values`` and the series
    of those values, from the group rows that hold one of them."""
    sep = FeasibilityGroup.SEP
    holds = Q()
    for value in values:
        holds |= Q(values__contains=f"{sep}{value}{sep}")

    def total(level: str) -> Coalesce:
        return Coalesce(Sum("count", filter=Q(level=level)), 0)

    return (
        FeasibilityGroup.objects.filter(holds, attribute=attribute)
        .values("dataset_id")
        .annotate(subjects=total("subject"), studies=total("study"), series=total("series"))
    )


def aggregate(criteria: Criteria) -> QuerySet:
    """The one aggregate query: (dataset id, subjects, studies, series) rows, exact, over
    the narrowest table that answers the criteria (the benchmark explains it)."""
    rows: QuerySet
    one_modality = replace(criteria, modality=()) if len(criteria.modality) == 1 else None
    if one_modality and not one_modality.by_series and not criteria.by_study:
        rows = FeasibilityTotals.objects.filter(modality=criteria.modality[0])
    elif attribute := _one_attribute(criteria):
        rows = _groups(attribute, getattr(criteria, attribute))
    elif criteria.by_series:
        rows = (
            FeasibilityEntry.objects.filter(_series_filter(criteria) & _study_filter(criteria))
            .values("dataset_id")
            .annotate(
                subjects=Count("subject", distinct=True),
                studies=Count("study_id", distinct=True),
                series=Sum("series_count"),
            )
        )
    elif criteria.by_study:
        rows = (
            Study.objects.filter(_study_filter(criteria))
            .values("dataset_id")
            .annotate(
                subjects=Count("subject", distinct=True),
                studies=Count("pk"),
                series=Sum("series_count"),
            )
        )
    else:
        rows = FeasibilityTotals.objects.filter(studies__gt=0, modality=FeasibilityTotals.ALL)
    # Without dataset criteria, drafts stay in the aggregate and are dropped with the list of
    # published datasets: cheaper than a join.
    if criteria.by_dataset:
        rows = rows.filter(dataset_id__in=eligible_datasets(criteria).values("pk"))
    return rows.order_by().values_list("dataset_id", "subjects", "studies", "series")


def _fetch(rows: QuerySet) -> list[tuple]:
    """The rows of a values_list query as the driver gives them: thousands of rows of plain
    numbers and text need none of the ORM's per-value converters, which cost more than the
    query itself."""
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _exact(criteria: Criteria) -> dict[int, tuple[int, int, int]]:
    rows = aggregate(criteria)
    if settings.FEASIBILITY_IN_MEMORY and rows.model in (FeasibilityEntry, Study):
        # Studies or entries, up to every one of them: the index in memory counts them faster
        # (once it is read).
        found = feasibility_memory.counts(criteria)
        if found is not None:
            return found
    return {
        pk: (int(subjects), int(studies), int(series))
        for pk, subjects, studies, series in _fetch(rows)
        if studies
    }


def exact_counts(criteria: Criteria) -> dict[int, tuple[int, int, int]]:
    """Published dataset id -> exact (subjects, studies, series) matching the criteria."""
    published = set(eligible_datasets(criteria).values_list("pk", flat=True))
    return {pk: counts for pk, counts in _exact(criteria).items() if pk in published}


def count(criteria: Criteria, page_number: str | int | None = 1, *, strict: bool = False) -> Answer:
    """Exact counts per dataset, node and in total, then suppressed and rounded. A page
    number that is not a page gives the nearest page, or ``InvalidPage`` when ``strict``.

    Subjects are pseudonyms of one dataset, so a dataset's subjects are distinct from
    another's and the sums over datasets are exact.
    """
    listed = (
        eligible_datasets(criteria)
        .order_by()
        .values_list("pk", "title", "node_id", "node__name", "node__country")
    )
    exact = _exact(criteria)
    # Sorted here: cheaper than asking the database to sort every published dataset.
    matched = [row for row in _fetch(listed) if row[0] in exact]
    matched.sort(key=lambda r: (r[3].casefold(), r[1].casefold(), r[0]))
    node_sums: dict[int, list[int]] = {}
    for row in matched:
        subjects, studies, series = exact[row[0]]
        sums = node_sums.get(row[2])
        if sums is None:
            node_sums[row[2]] = [subjects, studies, series]
        else:
            sums[0] += subjects
            sums[1] += studies
            sums[2] += series
    paginator = Paginator(matched, PAGE_SIZE)
    page = paginator.page(page_number or 1) if strict else paginator.get_page(page_number)
    nodes: dict[int, NodeRow] = {}
    for pk, title, node_id, name, country in page.object_list:
        if node_id not in nodes:
            nodes[node_id] = NodeRow(node_id, name, country, Cells.of(*node_sums[node_id]), [])
        nodes[node_id].datasets.append(DatasetRow(pk, title, Cells.of(*exact[pk])))
    totals = [sum(sums[i] for sums in node_sums.values()) for i in range(3)]
    return Answer(
        total=Cells.of(*totals),
        nodes=list(nodes.values()),
        page=page,
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
