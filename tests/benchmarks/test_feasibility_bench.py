"""Cohort feasibility latency on PostgreSQL over 250,000 studies and 1,000,000 series (the
search benchmark's data, built with bulk SQL).

Prints the median and 95th percentile of feasibility answers and their ratio to a trivial
query measured in the same run (the first page of published datasets by title).
Target: p95 under 200 ms.
"""

import time

import pytest
from django.db import connection
from django.http import QueryDict

from catalogue import feasibility
from catalogue.models import Dataset
from tests.benchmarks.test_search_bench import SERIES, _populate, _summary

TARGET_MS = 200
RUNS = 20


def _timed(fn) -> list[float]:
    fn()  # warm up
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _plan(query: str) -> str:
    """The plan PostgreSQL runs for a feasibility answer, for docs/benchmarks.md."""
    sql, params = feasibility.statement(feasibility.parse(QueryDict(query)))
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.benchmark
@pytest.mark.django_db
def test_feasibility_latency():
    if connection.vendor != "postgresql":
        pytest.skip("the feasibility benchmark needs PostgreSQL (DATABASE_URL)")
    start = time.perf_counter()
    _populate()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE catalogue_study SET study_date = make_date(study_year, 6, 1)")
        cursor.execute("ANALYZE catalogue_study")
    print(f"\npopulated {SERIES:,} series in {time.perf_counter() - start:.1f} s")

    def baseline():
        list(Dataset.objects.filter(status="published").order_by("title")[:20])

    def answer(query: str):
        criteria = feasibility.parse(QueryDict(query))
        return lambda: feasibility.count(criteria)

    cases = {
        "everything": "",
        "modality MR": "modality=MR",
        "modality CT + study dates": "modality=CT&study_date_from=2015-01-01"
        "&study_date_to=2018-12-31",
        "modality PT + condition + country": "modality=PT&condition=lung+cancer&country=ES",
    }
    assert feasibility.count(feasibility.parse(QueryDict(""))).total.series.value
    base_median, base_p95 = _summary(_timed(baseline))
    print(f"baseline (first page by title): median {base_median:.1f} ms, p95 {base_p95:.1f} ms")
    for label, query in cases.items():
        median, p95 = _summary(_timed(answer(query)))
        verdict = "meets" if p95 < TARGET_MS else "MISSES"
        print(
            f"{label}: median {median:.1f} ms, p95 {p95:.1f} ms "
            f"({p95 / base_p95:.1f}x baseline p95; {verdict} the {TARGET_MS} ms p95 target)"
        )
    print(_plan("modality=CT&study_date_from=2015-01-01&study_date_to=2018-12-31"))
