"""The feasibility index answers exactly what a plain count over the series answers, ingest
fills the equipment, field strength, slice thickness, age and sex it counts by, and the dataset
rows come a page at a time."""

import itertools
import random
from datetime import date
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.db.models.functions import Upper
from django.http import QueryDict
from django.urls import reverse

from catalogue import feasibility
from catalogue.facets import bump_version
from catalogue.ingest import ingest_paths
from catalogue.models import Dataset, FeasibilityGroup, Series, Study
from catalogue.services import dataset_create, dataset_refresh_counts, dataset_set_status
from tests.catalogue.dicom_factory import deidentified, uid, write

pytestmark = pytest.mark.django_db
API = reverse("catalogue_api:feasibility")
PAGE = reverse("catalogue:feasibility")

MODALITIES = ["CT", "MR", "PT"]
PARTS = ["CHEST", "Head", "BREAST", ""]
MAKERS = ["SIEMENS", "Siemens", "GE MEDICAL SYSTEMS", "Philips", ""]
MODELS = ["Skyra", "Signa", "Ingenia", ""]
STRENGTHS = [None, 1.5, 3.0]
THICKNESSES = [None, 0.625, 1.25, 2.5, 5.0]
SEXES = ["F", "M", "O", ""]


def _varied_index(datasets, rng):
    """Subjects with one to three studies of one to five series each, every header value
    drawn at random (empty and missing values included)."""
    for d, dataset in enumerate(datasets):
        for s in range(rng.randint(8, 15)):
            age, sex = rng.choice([None, *range(20, 90, 7)]), rng.choice(SEXES)
            for t in range(rng.randint(1, 3)):
                study = Study.objects.create(
                    dataset=dataset,
                    study_instance_uid=f"1.2.3.{d}.{s}.{t}",
                    subject=f"p{s}",  # the same pseudonyms in every dataset
                    study_date=rng.choice(
                        [None, date(2012, 3, 1), date(2016, 7, 9), date(2020, 1, 31)]
                    ),
                    age=age,
                    sex=sex,
                )
                Series.objects.bulk_create(
                    Series(
                        study=study,
                        series_instance_uid=f"{study.study_instance_uid}.{n}",
                        modality=rng.choice(MODALITIES),
                        body_part=rng.choice(PARTS),
                        manufacturer=rng.choice(MAKERS),
                        model=rng.choice(MODELS),
                        field_strength=rng.choice(STRENGTHS),
                        slice_thickness=rng.choice(THICKNESSES),
                    )
                    for n in range(rng.randint(1, 5))
                )
        dataset_refresh_counts(dataset=dataset)


def _plain_count(criteria: feasibility.Criteria) -> dict[int, tuple[int, int, int]]:
    """The same question asked the slow, obvious way: filter the series, count per dataset."""
    series = Series.objects.filter(study__dataset__in=feasibility.eligible_datasets(criteria))
    series = series.annotate(
        up_part=Upper("body_part"), up_maker=Upper("manufacturer"), up_model=Upper("model")
    )
    for name, column in (("modality", "modality"), ("body_part", "up_part"),
                         ("manufacturer", "up_maker"), ("model", "up_model")):  # fmt: skip
        if values := getattr(criteria, name):
            series = series.filter(**{f"{column}__in": values})
    for name in ("field_strength", "slice_thickness"):
        if (low := getattr(criteria, f"{name}_from")) is not None:
            series = series.filter(**{f"{name}__gte": low})
        if (high := getattr(criteria, f"{name}_to")) is not None:
            series = series.filter(**{f"{name}__lte": high})
    study = Q()
    if criteria.date_from:
        study &= Q(study__study_date__gte=criteria.date_from)
    if criteria.date_to:
        study &= Q(study__study_date__lte=criteria.date_to)
    if criteria.age_from is not None:
        study &= Q(study__age__gte=criteria.age_from)
    if criteria.age_to is not None:
        study &= Q(study__age__lte=criteria.age_to)
    if criteria.sex:
        study &= Q(study__sex__in=criteria.sex)
    rows = (
        series.filter(study)
        .values("study__dataset_id")
        .annotate(
            subjects=Count("study__subject", distinct=True),
            studies=Count("study", distinct=True),
            series=Count("pk"),
        )
        .values_list("study__dataset_id", "subjects", "studies", "series")
    )
    return {pk: (subjects, studies, n) for pk, subjects, studies, n in rows}


QUERIES = [
    "",
    "modality=MR",
    "modality=CT&modality=PT",
    "body_part=head",
    "manufacturer=siemens",
    "manufacturer=Philips&model=INGENIA",
    "model=skyra&modality=MR&field_strength_from=2",
    "field_strength_from=1.5&field_strength_to=1.5",
    "field_strength_to=2",
    "slice_thickness_from=1&slice_thickness_to=2.5",
    "slice_thickness_to=1",
    "study_date_from=2015-01-01",
    "study_date_from=2015-01-01&study_date_to=2019-12-31&modality=CT",
    "age_from=40&age_to=70",
    "age_from=40&sex=F",
    "sex=M&sex=O&body_part=CHEST&slice_thickness_from=2",
    "condition=breast+cancer",
    "country=ES&modality=PT",
    "node={own}&age_to=50&modality=MR&body_part=BREAST",
    "modality=US",
    # Several values of one attribute: a study with both is counted once.
    "modality=CT&modality=MR",
    "modality=CT&modality=MR&modality=PT",
    "body_part=chest&body_part=head",
    "manufacturer=siemens&manufacturer=philips",
    "model=skyra&model=signa&model=INGENIA",
    "condition=breast+cancer&body_part=BREAST&body_part=CHEST",
    "modality=MR&modality=US",
]


@pytest.fixture
def varied(catalogue, personas):
    """The published datasets of ``catalogue`` and one more, plus a draft, with varied
    indexes."""
    extra = dataset_create(
        node=catalogue.own_node,
        actor=personas["node_operator"],
        title="Third collection",
        description="More studies.",
        publisher_name="Oslo",
        contact_name="Oslo",
        contact_email="oslo@example.org",
        health_categories=["EHRS"],
        conditions=["lung cancer"],
        access_conditions=["DOWNLOAD"],
    )
    dataset_set_status(dataset=extra, status=Dataset.Status.PUBLISHED, actor=None)
    datasets = [catalogue.published, catalogue.other_published, extra, catalogue.draft]
    _varied_index(datasets, random.Random(11))
    return SimpleNamespace(catalogue=catalogue, datasets=datasets)


@pytest.fixture(params=["memory", "database"])
def engine(request, settings):
    """Each exactness test runs against both ways of counting: the index held in memory and
    the aggregate in the database."""
    settings.FEASIBILITY_IN_MEMORY = request.param == "memory"
    return request.param


@pytest.mark.parametrize("query", QUERIES)
def test_the_fast_counts_equal_a_plain_count_over_the_series(varied, query, engine):
    criteria = feasibility.parse(
        QueryDict(query.format(own=varied.catalogue.own_node.pk), mutable=False)
    )

    expected = _plain_count(criteria)

    assert bool(expected) == (query != "modality=US")  # only the US query matches nothing
    assert feasibility.exact_counts(criteria) == expected
    assert varied.catalogue.draft.pk not in feasibility.exact_counts(criteria)


def test_many_random_combinations_are_exact(varied, engine):
    rng = random.Random(5)
    options = {
        "modality": MODALITIES, "body_part": ["CHEST", "HEAD"], "manufacturer": ["SIEMENS"],
        "model": ["SIGNA"], "field_strength_from": ["1", "2"], "slice_thickness_to": ["1.3"],
        "slice_thickness_from": ["1"], "study_date_from": ["2016-01-01"], "age_to": ["60"],
        "sex": ["F", "M"],
        # Bounds equal to values in the index: both ends are inclusive.
        "study_date_to": ["2016-07-09"], "age_from": ["41"], "field_strength_to": ["1.5"],
        "condition": ["breast cancer"],
    }  # fmt: skip
    names = list(options)
    compared = matched = 0
    for size in (2, 3, 4):
        for chosen in itertools.combinations(names, size):
            if rng.random() > 0.4:
                continue
            params = QueryDict(mutable=True)
            for name in chosen:
                params[name] = rng.choice(options[name])
            if params.get("field_strength_from") == "2" and "field_strength_to" in params:
                with pytest.raises(ValidationError):  # a reversed range (2 to 1.5 T)
                    feasibility.parse(params)
                continue
            criteria = feasibility.parse(params)
            expected = _plain_count(criteria)
            assert feasibility.exact_counts(criteria) == expected, params.urlencode()
            compared += 1
            matched += bool(expected)
    assert compared > 50 and matched > 25


def test_any_set_of_values_of_one_attribute_is_exact(varied, engine):
    """Sets of values of one attribute, alone or with dataset criteria, are counted from the
    group rows; each set is checked against the plain count."""
    rng = random.Random(7)
    options = {
        "modality": [*MODALITIES, "US"], "body_part": ["CHEST", "head", "Breast", "LIVER"],
        "manufacturer": ["SIEMENS", "philips", "GE MEDICAL SYSTEMS", "CANON"],
        "model": ["SKYRA", "signa", "Ingenia"],
    }  # fmt: skip
    compared = 0
    for name, values in options.items():
        for size in (1, 2, 3):
            for chosen in itertools.combinations(values, size):
                params = QueryDict(mutable=True)
                params.setlist(name, list(chosen))
                if rng.random() < 0.3:
                    params["condition"] = "breast cancer"
                criteria = feasibility.parse(params)
                if name != "modality" or size > 1:
                    assert feasibility.aggregate(criteria).model is FeasibilityGroup
                assert feasibility.exact_counts(criteria) == _plain_count(criteria), params
                compared += 1
    assert compared > 40


@pytest.mark.django_db(transaction=True)  # committed rows, which the reading thread sees
def test_the_first_question_is_answered_while_the_index_is_read_in_the_background(
    catalogue, personas, settings
):
    from catalogue import feasibility_memory

    settings.FEASIBILITY_MEMORY_BACKGROUND = True
    datasets = [catalogue.published, catalogue.other_published]
    _varied_index(datasets, random.Random(3))
    bump_version()  # as after a bulk load: every process reads its index anew
    criteria = feasibility.parse(QueryDict("slice_thickness_to=2&age_from=30"))
    expected = _plain_count(criteria)

    assert feasibility.exact_counts(criteria) == expected  # the database answers meanwhile
    reading = feasibility_memory._reading
    assert reading is not None
    reading.join(timeout=60)
    assert feasibility.exact_counts(criteria) == expected  # now from the columns
    assert feasibility_memory._current is not None and feasibility_memory._reading is None


def test_counts_follow_a_new_ingest_and_a_status_change(varied, engine):
    criteria = feasibility.parse(QueryDict(""))
    either = feasibility.parse(QueryDict("modality=CT&modality=NM"))
    before = feasibility.exact_counts(criteria)[varied.catalogue.published.pk]
    before_either = feasibility.exact_counts(either)[varied.catalogue.published.pk]
    study = Study.objects.create(
        dataset=varied.catalogue.published, study_instance_uid="9.9.9", subject="new-subject"
    )
    Series.objects.create(study=study, series_instance_uid="9.9.9.1", modality="CT")
    Series.objects.create(study=study, series_instance_uid="9.9.9.2", modality="NM")
    dataset_refresh_counts(dataset=varied.catalogue.published)

    after = feasibility.exact_counts(criteria)[varied.catalogue.published.pk]
    assert after == (before[0] + 1, before[1] + 1, before[2] + 2)
    after_either = feasibility.exact_counts(either)[varied.catalogue.published.pk]
    assert after_either == (before_either[0] + 1, before_either[1] + 1, before_either[2] + 2)
    dataset_set_status(dataset=varied.catalogue.published, status="retired", actor=None)
    assert varied.catalogue.published.pk not in feasibility.exact_counts(criteria)


def test_ingest_reads_equipment_field_strength_thickness_age_and_sex(
    tmp_path, ingest_dataset, client_for
):
    for n in range(12):  # twelve subjects' MR studies, one series each
        write(
            deidentified(
                patient_id=f"SUBJ-{n}",
                study_uid=uid(),
                modality="MR",
                options=("113100", "113108"),  # retains patient characteristics
                Manufacturer="Siemens Healthineers",
                ManufacturerModelName="MAGNETOM Skyra",
                MagneticFieldStrength="3",
                SliceThickness="0.9",
                PatientAge="047Y" if n % 2 else "018M",
                PatientSex="F" if n % 3 else "M",
            ),
            tmp_path / f"{n}.dcm",
        )
    report = ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)
    assert len(report.accepted) == 12, report.refused
    dataset_set_status(dataset=ingest_dataset, status="published", actor=None)

    series = Series.objects.filter(study__dataset=ingest_dataset).first()
    assert (series.model, series.field_strength, series.slice_thickness) == (
        "MAGNETOM Skyra", 3.0, 0.9,
    )  # fmt: skip
    assert sorted(set(Study.objects.values_list("age", "sex"))) == [
        (1, "F"), (1, "M"), (47, "F"), (47, "M"),
    ]  # fmt: skip
    exact = feasibility.exact_counts(
        feasibility.parse(
            QueryDict("model=magnetom+skyra&field_strength_from=2.9&slice_thickness_to=1&sex=F")
        )
    )
    assert exact == {ingest_dataset.pk: (8, 8, 8)}
    adults = client_for("researcher").get(API, {"age_from": 18, "manufacturer": "SIEMENS"})
    assert adults.json()["nodes"] == []  # the manufacturer is "Siemens Healthineers"
    adults = client_for("researcher").get(API, {"age_from": 18}).json()
    assert adults["total"]["subjects"] == {"count": None, "suppressed": True}  # 6 adults


def _many_datasets(catalogue, personas, n):
    made = []
    for i in range(n):
        dataset = dataset_create(
            node=catalogue.own_node if i % 2 else catalogue.other_node,
            actor=None,
            title=f"Collection {i:03}",
            description="Studies.",
            publisher_name="P",
            contact_name="P",
            contact_email="p@example.org",
            health_categories=["EHRS"],
            conditions=["glioma"],
            access_conditions=["DOWNLOAD"],
        )
        dataset_set_status(dataset=dataset, status="published", actor=None)
        study = Study.objects.create(dataset=dataset, study_instance_uid=f"5.{i}", subject="s")
        Series.objects.create(study=study, series_instance_uid=f"5.{i}.1", modality="MR")
        made.append(dataset)
    # One refresh for all of them, as after a bulk load.
    from catalogue.feasibility_index import feasibility_index_rebuild

    feasibility_index_rebuild()
    return made


def test_dataset_rows_come_a_page_at_a_time_with_every_dataset_in_the_totals(
    catalogue, personas, client_for, django_assert_max_num_queries
):
    made = _many_datasets(catalogue, personas, feasibility.PAGE_SIZE + 7)
    client = client_for("researcher")
    client.get(API)

    with django_assert_max_num_queries(6):  # session, user, roles, datasets, the aggregate
        first = client.get(API, {"modality": "MR"}).json()
    with django_assert_max_num_queries(6):
        second = client.get(first["next"]).json()

    assert first["datasets_matched"] == len(made)
    assert first["previous"] is None and second["next"] is None
    assert second["previous"] is not None
    titles = [row["title"] for page in (first, second) for n in page["nodes"]
              for row in n["datasets"]]  # fmt: skip
    assert sorted(titles) == sorted(d.title for d in made) and len(set(titles)) == len(made)
    # One subject per dataset: every dataset row is suppressed, the total is not.
    assert first["total"]["studies"]["count"] == second["total"]["studies"]["count"] == 60
    assert client.get(API, {"modality": "MR", "page": 3}).status_code == 404


def test_the_page_shows_one_page_of_datasets_with_links_to_the_others(
    catalogue, personas, client_for, django_assert_max_num_queries
):
    _many_datasets(catalogue, personas, feasibility.PAGE_SIZE + 1)
    client = client_for("researcher")
    client.get(PAGE, {"modality": "MR"})

    # session, user, roles, basket, conditions, datasets, the aggregate; plus the template's
    with django_assert_max_num_queries(9):
        page = client.get(PAGE, {"modality": "MR"}).content.decode()
    last = client.get(PAGE, {"modality": "MR", "page": "2"}).content.decode()

    assert "Page 1 of 2" in page and "modality=MR&amp;page=2" in page
    assert page.count('">Collection ') == feasibility.PAGE_SIZE
    assert last.count('">Collection ') == 1
    assert "51 matching datasets" in page
