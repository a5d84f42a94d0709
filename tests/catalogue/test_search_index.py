"""The search index (catalogue.facets) answers as plain SQL would: the same results in the same
order and exact counts per facet value, for many searches and people, and after changes."""

import random
from dataclasses import replace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction

from catalogue import facets
from catalogue.selectors import SORTS, SearchQuery, search_datasets, search_facets
from catalogue.selectors import _run as run_search
from catalogue.services import dataset_create, dataset_set_status, dataset_update, node_create
from tests.conftest import dataset_fields

CONDITIONS = ["breast cancer", "lung cancer", "glioma", "melanoma"]
MODALITIES = ["CT", "MR", "PT", "MG"]
BODY_PARTS = ["BREAST", "CHEST", "HEAD"]
ACCESS = ["DOWNLOAD", "IN_SITU_PROCESSING", "REMOTE_PROCESSING"]
DUO = ["DUO:0000042", "DUO:0000006", "DUO:0000007"]
WORDS = ["tumour", "screening", "cohort", "nodules", "follow-up"]


@pytest.fixture
def varied(catalogue):
    """The catalogue fixture's four datasets and 36 more, varied at random, at three nodes,
    in every status, a few without ages."""
    rng = random.Random(11)
    third = node_create(
        actor=None, name="Lyon imaging node", slug="lyon", organisation="Centre Léon Bérard",
        country="FR", contact_email="node@lyon.example.org",
        dicomweb_base_url="https://lyon.example.org/dicom-web", audience="urn:ecii:node:lyon",
    )  # fmt: skip
    nodes = [catalogue.own_node, catalogue.other_node, third]
    for n in range(36):
        low, high = rng.randint(0, 50), rng.randint(50, 99)
        ages = (None, None) if n % 7 == 0 else (low, high)
        dataset = dataset_create(
            node=nodes[n % 3],
            actor=None,
            **dataset_fields(
                title=f"{rng.choice(['Alpha', 'beta', 'Gamma', 'delta'])} set {rng.randint(0, 9)}",
                description=" ".join(rng.sample(WORDS, 2)),
                conditions=rng.sample(CONDITIONS, rng.randint(1, 2)),
                modalities=rng.sample(MODALITIES, rng.randint(0, 3)),
                body_parts=rng.sample(BODY_PARTS, rng.randint(0, 2)),
                access_conditions=rng.sample(ACCESS, rng.randint(1, 2)),
                duo_codes=rng.sample(DUO, rng.randint(0, 2)),
                number_of_subjects=rng.choice([0, 10, 10, 500, 1200]),
                number_of_studies=rng.choice([0, 40, 40, 900]),
                min_age=ages[0],
                max_age=ages[1],
            ),
        )
        if n % 4:
            dataset_set_status(dataset=dataset, status="published", actor=None)
        if n % 9 == 0:
            dataset_set_status(dataset=dataset, status="retired", actor=None)
    return nodes


def _random_query(rng: random.Random, nodes) -> SearchQuery:
    def some(values):
        return rng.sample(values, rng.randint(1, 2)) if rng.random() < 0.35 else []

    terms = {
        "condition": some(CONDITIONS),
        "modality": some(MODALITIES),
        "body_part": some(BODY_PARTS),
        "access": some(ACCESS),
        "duo": some(DUO),
    }
    return SearchQuery(
        text=rng.choice(["", "", "", "tumour", "screening cohort", "nodules"]),
        terms={f: v for f, v in terms.items() if v},
        countries=some(["NO", "ES", "FR"]),
        nodes=[n.pk for n in nodes if rng.random() < 0.15],
        age_from=rng.choice([None, None, 30, 60]),
        age_to=rng.choice([None, None, 45, 70]),
        sort=rng.choice(list(SORTS)),
    )


def _orm_count(user, query: SearchQuery, facet: str, value: str) -> int:
    """How many results choosing ``value`` instead of the facet's own choice gives, in SQL."""
    if facet == "country":
        query = replace(query, countries=[value])
    elif facet == "node":
        query = replace(query, nodes=[int(value)])
    else:
        query = replace(query, terms={**query.terms, facet: [value]})
    return search_datasets(user, query).count()


def _facet_values(user) -> dict[str, set[str]]:
    everything = search_facets(AnonymousUser(), SearchQuery())
    mine = search_facets(user, SearchQuery())
    return {
        facet: {e[0] for e in everything[facet]} | {e[0] for e in mine[facet]}  # type: ignore[union-attr]
        for facet in facets.FACETS
    }


def test_counts_and_orders_are_those_of_plain_sql(varied, personas):
    rng = random.Random(5)
    people = [AnonymousUser(), personas["researcher"], personas["node_operator"],
              personas["hdab_admin"]]  # fmt: skip
    checked = 0
    for _ in range(24):
        query = _random_query(rng, varied)
        for user in people:
            results = run_search(user, query)
            expected = search_datasets(user, query)
            assert results.total == expected.count(), query
            assert [d.pk for d in results.datasets] == [d.pk for d in expected], query
            assert [d.pk for d in results.datasets[2:5]] == [d.pk for d in expected[2:5]]
            for facet, values in _facet_values(user).items():
                counted = {e[0]: e[1] for e in results.facets[facet]}
                for value in values:
                    assert counted.get(value, 0) == _orm_count(user, query, facet, value), (
                        query, facet, value,
                    )  # fmt: skip
                    checked += 1
    assert checked > 2000


def test_a_change_is_counted_at_the_next_search_without_a_rebuild(varied, personas):
    operator = personas["node_operator"]
    before = search_facets(operator, SearchQuery())
    index = facets.current()
    draft = varied[0].datasets.filter(status="draft").first()

    dataset_update(dataset=draft, actor=None, modalities=["NM"], title="Aaa first draft")

    query = SearchQuery(terms={"modality": ["NM"]}, sort="title")
    assert search_facets(operator, query)["total"] == 1
    assert search_facets(AnonymousUser(), query)["total"] == 0  # a draft: only its operators
    assert facets.current() is index  # the same index, brought up to date
    assert run_search(operator, SearchQuery(sort="title")).datasets[0].title == "Aaa first draft"
    dataset_set_status(dataset=draft, status="published", actor=None)
    assert search_facets(AnonymousUser(), query)["total"] == 1
    assert dict(search_facets(operator, SearchQuery())["modality"])["NM"] == 1
    assert search_facets(operator, SearchQuery())["total"] == before["total"]
    assert facets.current() is index


def test_an_index_ahead_of_a_rolled_back_change_is_rebuilt(varied):
    """A change that was rolled back after a process read it is never taken for a later change
    that got the same number."""
    query = SearchQuery(terms={"modality": ["NM"]})
    dataset = varied[1].datasets.filter(status="published").first()
    with pytest.raises(RuntimeError), transaction.atomic():
        dataset_update(dataset=dataset, actor=None, modalities=["NM"])
        assert search_facets(AnonymousUser(), query)["total"] == 1
        raise RuntimeError("roll back")
    assert search_facets(AnonymousUser(), query)["total"] == 0
    other = varied[2].datasets.filter(status="published").first()
    dataset_update(dataset=other, actor=None, modalities=["US"])  # reuses the change's number
    assert search_facets(AnonymousUser(), query)["total"] == 0
    assert search_facets(AnonymousUser(), SearchQuery(terms={"modality": ["US"]}))["total"] == 1


def test_rows_written_behind_the_services_back_are_seen_once_announced(varied):
    from catalogue.models import Dataset

    Dataset.objects.filter(status="published").update(number_of_subjects=7)
    facets.bump_version()
    results = run_search(AnonymousUser(), SearchQuery(sort="subjects"))
    assert {d.number_of_subjects for d in results.datasets} == {7}


@pytest.mark.postgres
def test_relevance_ranks_from_the_stored_vector_as_sql_does(varied):
    if connection.vendor != "postgresql":
        pytest.skip("ranking is PostgreSQL's")
    query = SearchQuery(text="screening tumour")
    expected = search_datasets(AnonymousUser(), query)
    assert [d.pk for d in run_search(AnonymousUser(), query).datasets] == [d.pk for d in expected]


def test_free_text_matches_are_kept_until_a_dataset_changes(
    catalogue, client, django_assert_num_queries
):
    from django.urls import reverse

    url = reverse("catalogue:search") + "?q=tomosynthesis"
    assert "Breast MRI screening cohort" not in client.get(url).content.decode()
    with django_assert_num_queries(1):  # the change log only: the text's matches were kept
        again = client.get(url).content.decode()
    assert "Breast MRI screening cohort" not in again
    dataset_update(dataset=catalogue.published, actor=None, title="Breast tomosynthesis cohort")
    assert "Breast tomosynthesis cohort" in client.get(url).content.decode()
    dataset_update(dataset=catalogue.published, actor=None, title="Breast MRI screening cohort")
    assert "Breast MRI screening cohort" not in client.get(url).content.decode()


def test_the_page_shows_a_result_as_it_is_now_and_reads_no_rows_when_nothing_changed(
    catalogue, client, django_assert_num_queries
):
    from django.urls import reverse

    url = reverse("catalogue:search")
    assert "Breast MRI screening cohort" in client.get(url).content.decode()
    with django_assert_num_queries(1):  # the change log only: rows already written are reused
        page = client.get(url).content.decode()
    assert "Breast MRI screening cohort" in page and "Lung CT collection" in page

    dataset_update(dataset=catalogue.published, actor=None, title="Breast tomosynthesis cohort")
    page = client.get(url).content.decode()
    assert "Breast tomosynthesis cohort" in page and "Breast MRI screening cohort" not in page


@pytest.mark.parametrize("titles_here", [True, False], ids=["placed here", "placed by the db"])
def test_new_and_renamed_titles_take_their_place_in_the_title_order(varied, titles_here):
    """Where the database orders titles by code point the index places a new title itself;
    under any other collation it asks the database where the title goes."""
    query = SearchQuery(sort="title")
    index = facets.current()
    if not titles_here:
        index.titles = None
    dataset = varied[1].datasets.filter(status="published").first()
    dataset_update(dataset=dataset, actor=None, title="Beta set 5 renamed")
    dataset_create(
        node=varied[2], actor=None, status="published", **dataset_fields(title="alpha set 0")
    )
    expected = [d.pk for d in search_datasets(AnonymousUser(), query)]
    assert [d.pk for d in run_search(AnonymousUser(), query).datasets] == expected
    assert facets.current() is index
