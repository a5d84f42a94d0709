"""Cohort feasibility counts: per node and dataset, published datasets only, small counts
suppressed, every count rounded so that two overlapping queries cannot difference out a small
group."""

from datetime import date

import pytest
from django.urls import reverse

from catalogue.models import Series, Study
from catalogue.services import dataset_refresh_counts

PAGE = reverse("catalogue:feasibility")
API = reverse("catalogue_api:feasibility")


def index(dataset, subjects: int, *, modality="MR", body_part="BREAST", studies_each=1,
          series_each=1, day=date(2020, 1, 1), prefix="s"):  # fmt: skip
    """Put ``subjects`` subjects into the study/series index of ``dataset``."""
    for s in range(subjects):
        for t in range(studies_each):
            study = Study.objects.create(
                dataset=dataset,
                study_instance_uid=f"1.2.{dataset.pk}.{prefix}{s}.{t}".replace("s", "9"),
                subject=f"{prefix}-{s}",
                study_date=day,
                study_year=day.year,
            )
            Series.objects.bulk_create(
                Series(
                    study=study,
                    series_instance_uid=f"{study.study_instance_uid}.{n}",
                    modality=modality,
                    body_part=body_part,
                )
                for n in range(series_each)
            )
    dataset_refresh_counts(dataset=dataset)  # as ingest does after each run


def api(client, **params):
    response = client.get(API, params)
    assert response.status_code == 200
    return response.json()


def dataset_row(answer, dataset):
    for node in answer["nodes"]:
        for row in node["datasets"]:
            if row["id"] == dataset.pk:
                return row
    return None


def test_it_counts_subjects_studies_and_series_per_dataset_and_node(catalogue, client_for):
    index(catalogue.published, 40, studies_each=2, series_each=3)
    index(catalogue.other_published, 21, modality="CT", body_part="CHEST")

    answer = api(client_for("researcher"))

    row = dataset_row(answer, catalogue.published)
    assert row["subjects"] == {"count": 40, "suppressed": False}
    assert row["studies"] == {"count": 80, "suppressed": False}
    assert row["series"] == {"count": 240, "suppressed": False}
    assert dataset_row(answer, catalogue.other_published)["subjects"]["count"] == 20
    assert answer["total"]["subjects"]["count"] == 60  # 61 exact, rounded once
    assert [n["name"] for n in answer["nodes"]] == ["Oslo imaging node", "Valencia imaging node"]
    ct = api(client_for("researcher"), modality="CT")
    assert [n["name"] for n in ct["nodes"]] == ["Valencia imaging node"]


def test_draft_datasets_are_never_counted(catalogue, client_for):
    index(catalogue.draft, 50)

    answer = api(client_for("hdab_admin"))

    assert dataset_row(answer, catalogue.draft) is None
    assert answer["total"]["subjects"] == {"count": None, "suppressed": True}


def test_small_counts_show_as_fewer_than_ten_never_the_number(catalogue, client_for):
    index(catalogue.published, 7, prefix="a")

    answer = api(client_for("researcher"))
    page = client_for("researcher").get(PAGE, {"counted": "1"}).content.decode()

    row = dataset_row(answer, catalogue.published)
    assert row["subjects"] == {"count": None, "suppressed": True}
    assert "fewer than 10" in page
    assert catalogue.published.title in page


@pytest.mark.parametrize("small", range(1, 10))
def test_an_attacker_subtracting_two_overlapping_queries_learns_no_small_group(
    catalogue, client_for, small
):
    """Query A counts everyone; query B leaves out one small group (a modality); A - B must
    not be the size of that group, at the dataset, the node or the total."""
    index(catalogue.published, 34, modality="MR", prefix="m")
    index(catalogue.published, small, modality="CT", prefix="c")
    client = client_for("researcher")

    a = api(client)
    b = api(client, modality="MR")

    for level_a, level_b in [
        (a["total"], b["total"]),
        (a["nodes"][0], b["nodes"][0]),
        (dataset_row(a, catalogue.published), dataset_row(b, catalogue.published)),
    ]:
        for what in ("subjects", "studies", "series"):
            difference = level_a[what]["count"] - level_b[what]["count"]
            assert difference != small
            assert difference % 10 == 0


def test_totals_are_rounded_from_exact_counts_not_summed_from_rounded_cells(catalogue, client_for):
    # Two cells of 14 each show as 10 + 10; the exact 28 rounds to 30.
    index(catalogue.published, 14, prefix="x")
    index(catalogue.other_published, 14, prefix="y")

    answer = api(client_for("researcher"))

    assert dataset_row(answer, catalogue.published)["subjects"]["count"] == 10
    assert dataset_row(answer, catalogue.other_published)["subjects"]["count"] == 10
    assert answer["total"]["subjects"]["count"] == 30


def test_the_threshold_and_rounding_are_settings(catalogue, client_for, settings):
    settings.FEASIBILITY_MIN_COUNT = 5
    settings.FEASIBILITY_ROUNDING = 5
    index(catalogue.published, 7)

    row = dataset_row(api(client_for("researcher")), catalogue.published)

    assert row["subjects"] == {"count": 5, "suppressed": False}


def test_study_date_and_body_part_narrow_the_count(catalogue, client_for):
    index(catalogue.published, 20, day=date(2018, 5, 1), prefix="o")
    index(catalogue.published, 30, day=date(2022, 5, 1), prefix="n")
    client = client_for("researcher")

    recent = api(client, study_date_from="2021-01-01")
    chest = api(client, body_part="chest")

    assert recent["total"]["subjects"]["count"] == 30
    assert chest["nodes"] == []


def test_the_page_offers_to_put_matching_datasets_in_the_basket(catalogue, client_for):
    index(catalogue.published, 30)
    client = client_for("researcher")

    page = client.get(PAGE, {"modality": "MR"}).content.decode()

    assert reverse("catalogue:basket_add", args=[catalogue.published.pk]) in page
    assert "Apply for the datasets in your basket" in page
    assert "about 30" in page
    admin_page = client_for("hdab_admin").get(PAGE, {"modality": "MR"}).content.decode()
    assert "about 30" in admin_page
    assert "Add to basket" not in admin_page


def test_one_aggregate_query_whatever_the_number_of_datasets(
    catalogue, client_for, django_assert_max_num_queries
):
    index(catalogue.published, 12)
    index(catalogue.other_published, 12)
    client = client_for("researcher")
    client.get(API)

    # session, user, roles, the aggregate, the datasets with their nodes.
    with django_assert_max_num_queries(6):
        api(client)


def test_the_search_page_leads_researchers_to_the_counts(catalogue, client_for):
    link = f'href="{PAGE}"'

    assert link in client_for("researcher").get(reverse("catalogue:search")).content.decode()
    assert link not in client_for("citizen").get(reverse("catalogue:search")).content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "condition=h%00x",  # a NUL, which PostgreSQL refuses in a string
        "body_part=%C3%9F%00",
        "node=%C2%B2",  # "²" is a digit to Python, not an id
        "slice_thickness_from=-3.5e16&field_strength_to=1e-62",
    ],
)
def test_unreadable_criteria_are_refused_not_a_server_error(catalogue, client_for, query):
    """More in test_refused_criteria.py."""
    answer = client_for("researcher").get(f"/api/catalogue/feasibility/?{query}")
    assert answer.status_code == 400, answer.content


def test_a_node_id_beyond_any_key_counts_nothing(catalogue, client_for):
    """As such an id in an address finds nothing (tests/test_api_ids.py)."""
    answer = client_for("researcher").get(
        "/api/catalogue/feasibility/?node=99999999999999999999999"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["nodes"] == []


@pytest.mark.parametrize("query", ["age_from=88846114", "age_to=88846114&age_from=40"])
def test_ages_beyond_the_age_columns_range_mean_the_oldest(catalogue, client_for, query):
    answer = client_for("researcher").get(f"/api/catalogue/feasibility/?{query}")
    assert answer.status_code == 200, answer.content
