"""Keeps the tables cohort feasibility counts read: each study's number of series, one
:class:`FeasibilityEntry` per study and series description, each dataset's
:class:`FeasibilityTotals` and its :class:`FeasibilityGroup` rows. Rebuilt for a whole
dataset after ingest (or for every dataset after a bulk load), from the study and series
index, so they cannot drift from it."""

import itertools
from operator import itemgetter

from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Upper

from catalogue.facets import bump_version, datasets_changed
from catalogue.models import (
    ENTRY_COLUMNS,
    FeasibilityEntry,
    FeasibilityGroup,
    FeasibilityTotals,
    Series,
    Study,
)

MODELS = ("Study", "Series", "FeasibilityEntry", "FeasibilityTotals", "FeasibilityGroup")
ATTRIBUTES = tuple(FeasibilityGroup.Attribute.values)
FLUSH = 1_000  # group rows written in one statement


def _models(apps=None):
    """The current models, or a migration's historical ones."""
    if apps is None:
        return Study, Series, FeasibilityEntry, FeasibilityTotals, FeasibilityGroup
    return tuple(apps.get_model("catalogue", name) for name in MODELS)


def _insert(model, columns: list[str], rows: QuerySet) -> None:
    """INSERT INTO model's table the rows of an ORM query, in one statement."""
    sql, params = rows.query.sql_with_params()
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) {sql}",
            params,
        )


@transaction.atomic
def feasibility_index_rebuild(*, dataset_id: int | None = None, apps=None) -> None:
    """Rebuild the feasibility rows of one dataset (of every dataset when ``dataset_id`` is
    None) from its studies and series."""
    study, series, entry, totals, group = _models(apps)
    studies = study.objects.all()
    all_series = series.objects.all()
    entries = entry.objects.all()
    totals_rows = totals.objects.all()
    if dataset_id is not None:
        studies = studies.filter(dataset_id=dataset_id)
        all_series = all_series.filter(study__dataset_id=dataset_id)
        entries = entries.filter(dataset_id=dataset_id)
        totals_rows = totals_rows.filter(dataset_id=dataset_id)
    per_study = (
        series.objects.filter(study=OuterRef("pk"))
        .order_by()
        .values("study")
        .annotate(n=Count("pk"))
        .values("n")
    )
    studies.update(series_count=Coalesce(Subquery(per_study), 0))
    entries.delete()
    totals_rows.delete()
    groups = group.objects.all()
    if dataset_id is not None:
        groups = groups.filter(dataset_id=dataset_id)
    groups.delete()
    _insert(
        entry,
        ["study_id", "dataset_id", "subject", *ENTRY_COLUMNS],
        all_series.order_by()
        .values(
            "study_id",
            ds=F("study__dataset_id"),
            subj=F("study__subject"),
            day=F("study__study_date"),
            years=F("study__age"),
            sx=F("study__sex"),
            mod=F("modality"),
            part=Upper("body_part"),
            maker=Upper("manufacturer"),
            kind=Upper("model"),
            tesla=F("field_strength"),
            mm=F("slice_thickness"),
        )
        .annotate(n=Count("pk")),
    )
    _insert(
        totals,
        ["dataset_id", "modality", "subjects", "studies", "series"],
        studies.order_by()
        .values("dataset_id", every=Value(FeasibilityTotals.ALL))
        .annotate(
            subj=Count("subject", distinct=True),
            st=Count("pk"),
            n=Coalesce(Sum("series_count"), 0),
        ),
    )
    _insert(
        totals,
        ["dataset_id", "modality", "subjects", "studies", "series"],
        entries.order_by()
        .values("dataset_id", "modality")
        .annotate(
            subj=Count("subject", distinct=True),
            st=Count("study_id", distinct=True),
            n=Sum("series_count"),
        ),
    )
    _insert_groups(group, entries)
    if apps is None:  # the processes' copies in memory follow the change log
        if dataset_id is None:
            bump_version()
        else:
            datasets_changed([dataset_id])


def _group_rows(dataset_id: int, entries: list[tuple]) -> list[tuple]:
    """One dataset's group rows, (dataset, attribute, level, values, count), from its entries
    (subject, study, the four attributes' values, number of series)."""
    sep = FeasibilityGroup.SEP
    rows = []
    for i, attribute in enumerate(ATTRIBUTES, start=2):
        per_study: dict[int, set[str]] = {}
        per_subject: dict[str, set[str]] = {}
        series: dict[str, int] = {}
        for entry in entries:
            value = entry[i]
            per_study.setdefault(entry[1], set()).add(value)
            per_subject.setdefault(entry[0], set()).add(value)
            series[value] = series.get(value, 0) + entry[6]
        for level, sets in (("subject", per_subject), ("study", per_study)):
            counts: dict[str, int] = {}
            for values in sets.values():
                key = sep + sep.join(sorted(values)) + sep
                counts[key] = counts.get(key, 0) + 1
            rows += [(dataset_id, attribute, level, key, n) for key, n in counts.items()]
        rows += [(dataset_id, attribute, "series", sep + v + sep, n) for v, n in series.items()]
    return rows


def _write(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT plain rows into model's table, many to a statement (cheaper than building
    hundreds of thousands of model instances)."""
    quote = connection.ops.quote_name  # names from the model; every value a parameter
    table, names = quote(model._meta.db_table), ", ".join(quote(c) for c in columns)
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), FLUSH):
            chunk = rows[start : start + FLUSH]
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(chunk))}",  # noqa: S608
                [value for row in chunk for value in row],
            )


def _insert_groups(group, entries: QuerySet) -> None:
    """Write the group rows of the datasets of ``entries``, a dataset at a time."""
    columns = ("dataset_id", "attribute", "level", "values", "count")
    pending: list[tuple] = []
    ordered = entries.order_by("dataset_id").values_list(
        "dataset_id", "subject", "study_id", *ATTRIBUTES, "series_count"
    )
    for dataset_id, rows in itertools.groupby(ordered.iterator(chunk_size=20_000), itemgetter(0)):
        pending += _group_rows(dataset_id, [row[1:] for row in rows])
        if len(pending) >= FLUSH:
            _write(group, columns, pending)
            pending = []
    _write(group, columns, pending)
