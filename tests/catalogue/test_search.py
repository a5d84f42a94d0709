import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from catalogue.selectors import SearchQuery, search, search_datasets, search_facets
from catalogue.services import dataset_update
from portal.models import AuditEvent


def _titles(datasets):
    return sorted(d.title for d in datasets)


def test_it_shows_anonymous_visitors_published_datasets_only(catalogue, client):
    page = client.get(reverse("catalogue:search")).content.decode()
    assert "Breast MRI screening cohort" in page and "Lung CT collection" in page
    assert "draft" not in page.lower().replace("drafts", "")


def test_it_shows_operators_their_own_drafts_only(catalogue, personas):
    user = personas["node_operator"]
    titles = _titles(search_datasets(user, SearchQuery()))
    assert "Oslo draft" in titles and "Valencia draft" not in titles


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (SearchQuery(text="breast"), ["Breast MRI screening cohort"]),
        (SearchQuery(text="nodules"), ["Lung CT collection"]),
        (SearchQuery(text="Valencia"), ["Lung CT collection"]),  # the node's name counts
        (SearchQuery(terms={"modality": ["CT"]}), ["Lung CT collection"]),
        (
            SearchQuery(terms={"modality": ["CT", "MR"]}),
            ["Breast MRI screening cohort", "Lung CT collection"],
        ),
        (SearchQuery(terms={"condition": ["breast cancer"]}), ["Breast MRI screening cohort"]),
        (SearchQuery(terms={"body_part": ["CHEST"]}), ["Lung CT collection"]),
        (SearchQuery(terms={"access": ["DOWNLOAD"]}), ["Lung CT collection"]),
        (SearchQuery(terms={"duo": ["DUO:0000042"]}), ["Breast MRI screening cohort"]),
        (SearchQuery(countries=["NO"]), ["Breast MRI screening cohort"]),
        (SearchQuery(age_from=80), ["Lung CT collection"]),
        (SearchQuery(age_to=45), ["Breast MRI screening cohort"]),
        (SearchQuery(terms={"modality": ["CT"]}, countries=["NO"]), []),
    ],
)
def test_it_filters_by_text_and_facets(catalogue, query, expected):
    from django.contrib.auth.models import AnonymousUser

    assert _titles(search_datasets(AnonymousUser(), query)) == expected


def test_it_counts_datasets_per_facet_value(catalogue):
    from django.contrib.auth.models import AnonymousUser

    counts = search_facets(AnonymousUser(), SearchQuery())
    assert dict(counts["modality"]) == {"MR": 1, "CT": 1}
    assert dict(counts["country"]) == {"NO": 1, "ES": 1}
    assert dict(counts["duo"]) == {"DUO:0000042": 1, "DUO:0000006": 1, "DUO:0000046": 1}
    narrowed = search_facets(AnonymousUser(), SearchQuery(countries=["ES"]))
    assert dict(narrowed["modality"]) == {"CT": 1}
    assert narrowed["total"] == 1


def test_it_keeps_other_values_of_a_chosen_facet_countable(catalogue):
    from django.contrib.auth.models import AnonymousUser

    counts = search_facets(AnonymousUser(), SearchQuery(terms={"modality": ["CT"]}))
    # CT is chosen; MR still shows how many results choosing it too would add.
    assert dict(counts["modality"]) == {"MR": 1, "CT": 1}
    # Other facets count only the current results (the CT dataset).
    assert dict(counts["country"]) == {"ES": 1}
    counts = search_facets(AnonymousUser(), SearchQuery(countries=["ES"]))
    assert dict(counts["country"]) == {"NO": 1, "ES": 1}


def test_it_keeps_facets_in_step_with_edits(catalogue):
    from django.contrib.auth.models import AnonymousUser

    assert "PT" not in dict(search_facets(AnonymousUser(), SearchQuery())["modality"])
    dataset_update(dataset=catalogue.published, actor=None, modalities=["MR", "PT"])
    assert dict(search_facets(AnonymousUser(), SearchQuery())["modality"])["PT"] == 1

    assert _titles(search_datasets(AnonymousUser(), SearchQuery(terms={"modality": ["PT"]}))) == [
        "Breast MRI screening cohort"
    ]
    assert AuditEvent.objects.filter(action="catalogue.dataset.updated").exists()


def test_it_finds_a_dataset_by_the_words_of_its_edited_description(catalogue):
    from django.contrib.auth.models import AnonymousUser

    words = SearchQuery(text="tomosynthesis")
    assert _titles(search_datasets(AnonymousUser(), words)) == []
    dataset_update(
        dataset=catalogue.published, actor=None, description="Digital breast tomosynthesis."
    )
    assert _titles(search_datasets(AnonymousUser(), words)) == ["Breast MRI screening cohort"]


def test_it_sorts(catalogue, personas):
    from django.contrib.auth.models import AnonymousUser

    by_title = [d.title for d in search_datasets(AnonymousUser(), SearchQuery(sort="title"))]
    assert by_title == sorted(by_title)


def test_it_renders_facets_with_counts_and_keeps_filters_across_pages(catalogue, client):
    page = client.get(reverse("catalogue:search"), {"modality": "CT"}).content.decode()
    assert "Lung CT collection" in page and "Breast MRI screening cohort" not in page
    assert 'name="modality" value="CT" checked' in page
    assert "(1)" in page


def test_it_pages_long_result_lists(catalogue, client):
    from catalogue.services import dataset_create
    from tests.conftest import dataset_fields

    for n in range(25):
        dataset_create(
            node=catalogue.other_node,
            actor=None,
            status="published",
            **dataset_fields(title=f"Collection {n:02d}", keywords=["pagination"]),
        )
    first = client.get(reverse("catalogue:search"), {"sort": "title", "q": "pagination"})
    assert first.context["page"].paginator.count == 25
    assert len(first.context["page"].object_list) == 20
    second = client.get(
        reverse("catalogue:search"), {"sort": "title", "q": "pagination", "page": 2}
    )
    assert len(second.context["page"].object_list) == 5


def test_it_keeps_the_query_count_constant(catalogue, client, django_assert_max_num_queries):
    from catalogue.services import dataset_create
    from tests.conftest import dataset_fields

    for n in range(10):
        dataset_create(
            node=catalogue.other_node,
            actor=None,
            status="published",
            **dataset_fields(title=f"C{n}"),
        )
    client.get(reverse("catalogue:search"))  # builds this process's search index once
    with django_assert_max_num_queries(2):  # the change log, the page's rows
        client.get(reverse("catalogue:search"), {"modality": "MR"})
    with django_assert_max_num_queries(2):
        client.get(reverse("catalogue_api:datasets"), {"modality": "MR"})
    with django_assert_max_num_queries(3):  # and the datasets matching the text
        client.get(reverse("catalogue:search"), {"q": "screening", "sort": "newest"})


@pytest.mark.postgres
def test_it_uses_the_full_text_index_on_postgresql(catalogue):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("full-text index is PostgreSQL's")
    from catalogue.models import Dataset
    from catalogue.selectors import _text_filter

    # The text filter alone, so that no other index competes on this tiny table.
    datasets = _text_filter(Dataset.objects.all(), "breast")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = datasets.explain()
    assert "dataset_search_vector_idx" in plan, plan


@pytest.mark.parametrize(
    "query",
    [
        SearchQuery(),
        SearchQuery(text="cancer", terms={"modality": ["CT", "MR"]}),
        SearchQuery(terms={"duo": ["DUO:0000006"], "access": ["DOWNLOAD"]}, countries=["ES"]),
        SearchQuery(age_from=60, nodes=[0]),
    ],
)
def test_it_counts_the_same_total_as_the_search(catalogue, personas, query):
    for user in (personas["researcher"], personas["node_operator"], personas["hdab_admin"]):
        assert search_facets(user, query)["total"] == search_datasets(user, query).count()


def test_it_counts_drafts_only_for_those_who_see_them(catalogue, personas):
    from django.contrib.auth.models import AnonymousUser

    public = dict(search_facets(AnonymousUser(), SearchQuery())["country"])
    operator = dict(search_facets(personas["node_operator"], SearchQuery())["country"])
    admin = dict(search_facets(personas["hdab_admin"], SearchQuery())["country"])
    assert (public, operator, admin) == ({"NO": 1, "ES": 1}, {"NO": 2, "ES": 1}, {"NO": 2, "ES": 2})


def test_the_page_and_the_api_read_and_page_a_search_the_same_way(catalogue, client):
    from django.contrib.auth.models import AnonymousUser
    from django.http import QueryDict

    params = QueryDict(mutable=True)
    params.setlist("modality", ["CT", "MR"])
    params.update({"age_from": "sixty", "node": "x", "sort": "sideways", "q": "  "})

    # What does not parse is refused, the same way by the page and the API.
    with pytest.raises(ValidationError) as refused:
        search(AnonymousUser(), params)
    page = client.get(reverse("catalogue:search"), params)
    api = client.get(reverse("catalogue_api:datasets"), params)
    assert page.status_code == api.status_code == 400
    assert page.context["errors"] == api.json()["errors"] == refused.value.message_dict
    assert set(refused.value.message_dict) == {"age_from", "node", "sort"}

    for name, value in {"age_from": "", "node": "", "sort": "Relevance"}.items():
        params[name] = value
    results = search(AnonymousUser(), params)

    assert results.query == SearchQuery(text="  ", terms={"modality": ["CT", "MR"]})
    titles = [d.title for d in results.datasets]
    assert sorted(titles) == ["Breast MRI screening cohort", "Lung CT collection"]
    assert results.total == 2 and dict(results.facets["country"]) == {"NO": 1, "ES": 1}
    page = client.get(reverse("catalogue:search"), params).context["page"]
    api = client.get(reverse("catalogue_api:datasets"), params).json()
    assert [d.title for d in page.object_list] == titles
    assert [d["title"] for d in api["results"]] == titles
    assert page.paginator.count == api["count"] == 2
