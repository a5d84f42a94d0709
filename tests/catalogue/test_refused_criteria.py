"""Criteria that cannot be read are refused, never left out: cohort feasibility and catalogue
search, on the API (400 problem details naming each parameter) and on the pages (the form with
its errors, as typed, and nothing counted or listed)."""

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from catalogue.models import Study
from catalogue.services import dataset_refresh_counts
from tests.catalogue.test_feasibility import dataset_row, index

FEASIBILITY_PAGE = reverse("catalogue:feasibility")
FEASIBILITY_API = reverse("catalogue_api:feasibility")
SEARCH_PAGE = reverse("catalogue:search")
SEARCH_API = reverse("catalogue_api:datasets")


@pytest.fixture
def women_and_men(catalogue):
    """30 women of 45 and 20 men of 70 (MR), and 21 subjects of unknown sex and age (CT)."""
    index(catalogue.published, 30, prefix="w")
    index(catalogue.published, 20, prefix="m")
    index(catalogue.other_published, 21, modality="CT", body_part="CHEST", prefix="c")
    Study.objects.filter(dataset=catalogue.published, subject__startswith="w").update(
        sex="F", age=45
    )
    Study.objects.filter(dataset=catalogue.published, subject__startswith="m").update(
        sex="M", age=70
    )
    dataset_refresh_counts(dataset=catalogue.published)
    return catalogue


def refused(client, path, query: str) -> dict:
    answer = client.get(f"{path}?{query}")
    assert answer.status_code == 400, answer.content
    assert answer["Content-Type"] == "application/problem+json"
    return answer.json()


# --- Cohort feasibility: the API ------------------------------------------------------------


def test_a_sex_the_index_cannot_hold_is_refused_not_dropped(women_and_men, client_for):
    client = client_for("researcher")

    women = client.get(FEASIBILITY_API, {"sex": "F"}).json()
    lower = client.get(FEASIBILITY_API, {"sex": "f"}).json()
    body = refused(client, FEASIBILITY_API, "sex=female")

    assert women["total"]["subjects"]["count"] == 30
    assert lower["total"] == women["total"]  # a code in any case
    assert body["status"] == 400
    assert body["errors"] == {"sex": ["“female” is not a sex the index records: F, M or O."]}
    assert body["detail"].startswith("sex: ")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("study_date_from=2020/01/01", "study_date_from"),
        ("study_date_from=01.01.2020", "study_date_from"),
        ("study_date_to=2020-13-45", "study_date_to"),
        ("field_strength_from=3T", "field_strength_from"),
        ("field_strength_to=-1", "field_strength_to"),
        ("slice_thickness_from=nan", "slice_thickness_from"),
        ("slice_thickness_to=inf", "slice_thickness_to"),
        ("slice_thickness_from=-3.5e16", "slice_thickness_from"),
        ("age_from=abc", "age_from"),
        ("age_from=-5", "age_from"),
        ("age_to=45.5", "age_to"),
        ("age_from=40&age_from=50", "age_from"),  # only one would count
        ("modality=MAGNETIC-RESONANCE-IMAGING", "modality"),  # longer than DICOM's 16
        ("body_part=%C3%9F%00", "body_part"),  # a NUL, which the index never holds
        ("manufacturer=" + "S" * 65, "manufacturer"),
        ("condition=h%00x", "condition"),
        ("node=x", "node"),
        ("node=%C2%B2", "node"),  # "²" is a digit to Python, not an id
        ("country=Norway", "country"),
        ("country=XX", "country"),
        ("access=everything", "access"),
        ("duo=DUO:9999999", "duo"),
    ],
)
def test_a_criterion_that_cannot_be_read_is_refused_naming_it(
    women_and_men, client_for, query, parameter
):
    body = refused(client_for("researcher"), FEASIBILITY_API, query)

    assert list(body["errors"]) == [parameter]
    assert body["errors"][parameter]  # a sentence saying what is wanted


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("age_from=80&age_to=20", "age_to"),
        ("field_strength_from=3&field_strength_to=1.5", "field_strength_to"),
        ("slice_thickness_from=5&slice_thickness_to=1", "slice_thickness_to"),
        ("study_date_from=2021-01-01&study_date_to=2020-12-31", "study_date_to"),
    ],
)
def test_a_reversed_range_is_refused(women_and_men, client_for, query, parameter):
    body = refused(client_for("researcher"), FEASIBILITY_API, query)

    assert list(body["errors"]) == [parameter]
    assert "reversed" in body["errors"][parameter][0]


def test_every_refused_criterion_is_named_at_once(women_and_men, client_for):
    body = refused(
        client_for("researcher"),
        FEASIBILITY_API,
        "sex=female&study_date_from=2020/01/01&field_strength_from=3T&age_from=abc&modality=MR",
    )

    assert set(body["errors"]) == {"sex", "study_date_from", "field_strength_from", "age_from"}


def test_blank_values_ask_nothing(women_and_men, client_for):
    """An empty box of the form is no criterion, as before."""
    client = client_for("researcher")
    everything = client.get(FEASIBILITY_API).json()

    blank = client.get(FEASIBILITY_API, {"age_from": "", "sex": " ", "study_date_to": ""})

    assert blank.status_code == 200
    assert blank.json()["total"] == everything["total"]


def test_a_valid_value_no_dataset_has_counts_zero(women_and_men, client_for):
    client = client_for("researcher")

    for query in ({"modality": "XA"}, {"country": "FR"}, {"sex": "O"}, {"body_part": "KNEE"}):
        answer = client.get(FEASIBILITY_API, query)
        assert answer.status_code == 200, query
        assert answer.json()["nodes"] == [], query
        assert answer.json()["datasets_matched"] == 0


def test_a_refused_question_counts_nothing(
    women_and_men, client_for, django_assert_max_num_queries
):
    client = client_for("researcher")
    client.get(FEASIBILITY_API)

    # session, user, roles: no dataset list, no aggregate.
    with django_assert_max_num_queries(3):
        refused(client, FEASIBILITY_API, "age_from=abc")


# --- Cohort feasibility: the page -----------------------------------------------------------


def test_the_page_shows_the_errors_as_typed_and_counts_nothing(women_and_men, client_for):
    client = client_for("researcher")

    answer = client.get(
        f"{FEASIBILITY_PAGE}?study_date_from=2020-13-45&sex=F&modality=MR&body_part=breast"
    )
    page = answer.content.decode()

    assert answer.status_code == 400
    assert "Nothing was counted" in page
    assert "Enter a date as YYYY-MM-DD" in page
    # What was typed stays, in a text box (a date box would blank it), marked invalid.
    assert (
        'type="text" id="study_date_from" name="study_date_from" value="2020-13-45" '
        'aria-invalid="true" aria-describedby="study_date_from_error"'
    ) in page
    assert 'name="sex" value="F" checked' in page
    assert 'name="modality" value="MR" checked' in page
    assert 'value="breast"' in page
    # No count, no dataset: nothing was counted with the date left out.
    assert women_and_men.published.title not in page
    assert "Matching" not in page


def test_the_page_says_a_range_is_reversed(women_and_men, client_for):
    answer = client_for("researcher").get(FEASIBILITY_PAGE, {"age_from": "80", "age_to": "20"})
    page = answer.content.decode()

    assert answer.status_code == 400
    assert "Age at the study, to: The range is reversed" in page
    assert "No published dataset has studies matching" not in page


def test_the_page_refuses_a_sex_it_cannot_count(women_and_men, client_for):
    page = client_for("researcher").get(FEASIBILITY_PAGE, {"sex": "female"}).content.decode()

    assert "Sex: “female” is not a sex the index records: F, M or O." in page
    assert women_and_men.published.title not in page


def test_the_page_keeps_criteria_it_has_no_box_for(women_and_men, client_for):
    """Criteria given in the address (country, node, access, DUO) stay in hidden fields, so
    that correcting a box and counting again keeps them."""
    query = urlencode({"country": "NO", "age_from": "abc", "modality": "XA", "node": "x"})

    page = client_for("researcher").get(f"{FEASIBILITY_PAGE}?{query}").content.decode()

    assert '<input type="hidden" name="country" value="NO">' in page
    assert '<input type="hidden" name="modality" value="XA">' in page
    assert 'name="node"' not in page  # refused: its error says so
    assert "Node (node): “x” is not a node id." in page


def test_the_page_counts_readable_criteria_as_before(women_and_men, client_for):
    answer = client_for("researcher").get(FEASIBILITY_PAGE, {"sex": "F", "age_from": "40"})
    page = answer.content.decode()

    assert answer.status_code == 200
    assert "about 30" in page
    assert 'value="40"' in page and "aria-invalid" not in page


# --- Catalogue search -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("age_from=abc", "age_from"),
        ("age_to=-1", "age_to"),
        ("age_from=80&age_to=20", "age_to"),
        ("node=x", "node"),
        ("country=Norway", "country"),
        ("access=everything", "access"),
        ("duo=DUO:9999999", "duo"),
        ("modality=MAGNETIC-RESONANCE-IMAGING", "modality"),
        ("condition=h%00x", "condition"),
        ("sort=sideways", "sort"),
        ("q=lung%00x", "q"),  # a NUL, which PostgreSQL refuses in a string
    ],
)
def test_the_search_api_refuses_a_filter_it_cannot_read(catalogue, client, query, parameter):
    body = refused(client, SEARCH_API, query)

    assert list(body["errors"]) == [parameter]


def test_the_search_counts_a_valid_value_no_dataset_has_as_zero(catalogue, client):
    for query in ({"modality": "XA"}, {"country": "FR"}, {"age_from": "120"}):
        answer = client.get(SEARCH_API, query)
        assert answer.status_code == 200, query
        assert answer.json()["count"] == 0, query
    # Codes in any case.
    assert client.get(SEARCH_API, {"access": "download", "country": "es"}).json()["count"] == 1


def test_the_search_page_shows_the_errors_as_typed_and_lists_nothing(catalogue, client):
    answer = client.get(f"{SEARCH_PAGE}?age_from=abc&modality=CT&q=lung")
    page = answer.content.decode()

    assert answer.status_code == 400
    assert "Nothing was searched" in page
    assert "Age of subjects, from: Enter a whole number" in page
    assert 'value="abc" aria-invalid="true"' in page
    assert 'value="lung"' in page
    assert '<input type="hidden" form="search-form" name="modality" value="CT">' in page
    assert catalogue.other_published.title not in page  # no result listed


def test_the_search_page_says_an_age_range_is_reversed(catalogue, client):
    answer = client.get(SEARCH_PAGE, {"age_from": "80", "age_to": "20"})

    assert answer.status_code == 400
    assert "Age of subjects, to: The range is reversed" in answer.content.decode()


def test_a_refused_search_reads_nothing(catalogue, client, django_assert_max_num_queries):
    client.get(SEARCH_API)

    with django_assert_max_num_queries(0):
        refused(client, SEARCH_API, "age_from=abc")


def test_the_counts_of_readable_criteria_did_not_change(women_and_men, client_for):
    answer = client_for("researcher").get(FEASIBILITY_API, {"modality": "MR", "sex": "M"}).json()

    assert dataset_row(answer, women_and_men.published)["subjects"]["count"] == 20
