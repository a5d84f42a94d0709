"""Keeps the tables cohort feasibility counts read: each study's number of series, one
:class:`FeasibilityEntry` per study and series description, and each dataset's
:class:`FeasibilityTotals`. Rebuilt for a whole dataset after ingest (or for every dataset
after a bulk load), from the study and series index, so they cannot drift from it."""

from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Upper

from catalogue.models import ENTRY_COLUMNS, FeasibilityEntry, FeasibilityTotals, Series, Study


def _models(apps=None):
    """The current models, or a migration's historical ones."""
    if apps is None:
        return Study, Series, FeasibilityEntry, FeasibilityTotals
    return tuple(
        apps.get_model("catalogue", name)
        for name in ("Study", "Series", "FeasibilityEntry", "FeasibilityTotals")
    )


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
    study, series, entry, totals = _models(apps)
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
