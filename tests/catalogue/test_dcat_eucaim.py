"""The EUCAIM DCAT-AP v2 mandatory properties (tier, collection method, equipment manufacturer)
and the warnings about values the export cannot code."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rdflib import Literal, URIRef
from rdflib import namespace as ns

from catalogue import dcat
from catalogue.ingest import ingest_paths
from catalogue.models import Dataset, Series
from catalogue.services import dataset_update
from tests.catalogue.dicom_factory import deidentified, write, write_tree
from tests.catalogue.test_dcat import (
    ACCESS_LEVELS,
    BASE_URL,
    dataset_ref,
    get_graph,
    make_dataset,
)

pytestmark = pytest.mark.django_db
EUCAIM = dcat.EUCAIM
CATALOGUE = f"{BASE_URL}/catalogue/"


@pytest.fixture
def eucaim_dataset(dcat_node, personas, settings):
    settings.SITE_URL = BASE_URL

    def make(access_rights="PUBLIC", **extra):
        return make_dataset(
            dcat_node, personas["node_operator"], access_rights=access_rights, **extra
        )

    return make


def concept(graph, subject, prop):
    """The one concept ``subject`` has under ``prop``, with its label and EUCAIM parent."""
    (value,) = graph.objects(subject, prop)
    return value, str(graph.value(value, ns.SKOS.prefLabel)), graph.value(value, ns.SKOS.broadMatch)


@pytest.mark.parametrize("level", ACCESS_LEVELS)
def test_a_dataset_with_all_three_properties_still_conforms_to_its_shapes(
    dcat_shapes, eucaim_dataset, client, level
):
    dataset = eucaim_dataset(
        level,
        interoperability_level="TIER_2",
        collection_methods=["CLINICAL_TRIAL", "ROUTINE_CARE"],
        manufacturers=["SIEMENS", "GE MEDICAL SYSTEMS"],
    )
    graph = get_graph(client, "dcat_dataset_ttl", dataset.pk)

    conforms, report = dcat_shapes.validate(graph, level)

    assert conforms, report
    ref = dataset_ref(dataset)
    assert len(set(graph.objects(ref, EUCAIM.interoperabilityLevel))) == 1
    assert len(set(graph.objects(ref, EUCAIM.collectionMethod))) == 2
    assert len(set(graph.objects(ref, EUCAIM.hasEquipmentManufacturer))) == 2


def test_it_exports_the_tier_as_a_labelled_concept_under_the_eucaim_class(eucaim_dataset, client):
    dataset = eucaim_dataset(interoperability_level="TIER_3")
    graph = get_graph(client, "dcat_dataset_ttl", dataset.pk)

    iri, label, parent = concept(graph, dataset_ref(dataset), EUCAIM.interoperabilityLevel)

    assert iri == URIRef(f"{CATALOGUE}#interoperability-level-tier-3")
    assert label == "Tier 3: federated processing on the common data model"
    assert parent == URIRef("https://hyperontology.eucaim.cancerimage.eu/#SPEC1000008")
    assert (iri, ns.RDF.type, ns.SKOS.Concept) in graph


def test_a_new_dataset_is_tier_1_collected_from_routine_care(eucaim_dataset, client):
    dataset = eucaim_dataset()
    graph = get_graph(client, "dcat_dataset_ttl", dataset.pk)
    ref = dataset_ref(dataset)

    assert (dataset.interoperability_level, dataset.collection_methods) == (
        "TIER_1",
        ["ROUTINE_CARE"],
    )
    assert concept(graph, ref, EUCAIM.interoperabilityLevel)[1].startswith("Tier 1")
    method, label, parent = concept(graph, ref, EUCAIM.collectionMethod)
    assert method == URIRef(f"{CATALOGUE}#collection-method-routine-care")
    assert label == "Retrospective collection from routine care"
    assert parent == EUCAIM.SPEC1000002


def test_it_exports_every_collection_method(eucaim_dataset, client):
    dataset = eucaim_dataset(collection_methods=["PROSPECTIVE_STUDY", "REGISTRY"])
    graph = get_graph(client, "dcat_dataset_ttl", dataset.pk)

    labels = {
        str(graph.value(m, ns.SKOS.prefLabel))
        for m in graph.objects(dataset_ref(dataset), EUCAIM.collectionMethod)
    }

    assert labels == {
        "Prospective collection for a research study",
        "Population registry or screening programme",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"collection_methods": []}, "at least one collection method"),
        ({"collection_methods": ["HEARSAY"]}, "unknown collection method: HEARSAY"),
        ({"interoperability_level": "TIER_9"}, "is not a valid choice"),
    ],
)
def test_the_service_refuses_a_missing_or_unknown_value(eucaim_dataset, personas, change, message):
    dataset = eucaim_dataset()
    with pytest.raises(ValidationError, match=message):
        dataset_update(dataset=dataset, actor=personas["node_operator"], **change)
    dataset.refresh_from_db()
    assert dataset.collection_methods == ["ROUTINE_CARE"]
    assert dataset.interoperability_level == "TIER_1"


def test_an_operator_sets_the_tier_and_collection_methods_on_the_form(
    eucaim_dataset, client_for, client
):
    from tests.catalogue.test_dataset_pages import FORM

    dataset = eucaim_dataset()
    operator = client_for("node_operator")
    form = {
        **FORM,
        "interoperability_level": "TIER_2",
        "collection_methods": ["CLINICAL_TRIAL", "PROSPECTIVE_STUDY"],
    }
    page = operator.get(reverse("catalogue:dataset_edit", args=[dataset.pk]))
    assert b'name="interoperability_level"' in page.content
    assert b'value="CLINICAL_TRIAL"' in page.content

    response = operator.post(reverse("catalogue:dataset_edit", args=[dataset.pk]), form)

    assert response.status_code == 302
    dataset.refresh_from_db()
    assert dataset.interoperability_level == "TIER_2"
    assert dataset.collection_methods == ["CLINICAL_TRIAL", "PROSPECTIVE_STUDY"]
    shown = operator.get(reverse("catalogue:dataset_detail", args=[dataset.pk])).content.decode()
    assert "Tier 2: searchable through the federated search" in shown
    assert "Collection within a clinical trial" in shown
    graph = get_graph(client, "dcat_dataset_ttl", dataset.pk)
    assert len(set(graph.objects(dataset_ref(dataset), EUCAIM.collectionMethod))) == 2


def test_ingest_fills_the_manufacturers_from_the_series(
    tmp_path, make_ingest_dataset, client_for, settings
):
    settings.SITE_URL = BASE_URL
    dataset = make_ingest_dataset()
    write_tree(tmp_path / "a", subjects=1, series_per_study=2)  # Manufacturer "Example Medical"
    write(deidentified(patient_id="SUBJ-0009", Manufacturer="SIEMENS"), tmp_path / "b.dcm")
    write(deidentified(patient_id="SUBJ-0010", Manufacturer="Siemens"), tmp_path / "c.dcm")
    write(deidentified(patient_id="SUBJ-0011", Manufacturer=""), tmp_path / "d.dcm")

    ingest_paths(dataset=dataset, paths=[tmp_path], workers=1)

    dataset.refresh_from_db()
    assert dataset.manufacturers == ["Example Medical", "SIEMENS", "Siemens"]
    assert set(
        Series.objects.filter(study__dataset=dataset).values_list("manufacturer", flat=True)
    ) == {
        "Example Medical",
        "SIEMENS",
        "Siemens",
        "",
    }
    graph = get_graph(client_for("node_operator"), "dcat_dataset_ttl", dataset.pk)  # a draft
    makers = set(graph.objects(dataset_ref(dataset), EUCAIM.hasEquipmentManufacturer))
    # "SIEMENS" and "Siemens" are one manufacturer in the export.
    assert makers == {
        URIRef(f"{CATALOGUE}#manufacturer-example-medical"),
        URIRef(f"{CATALOGUE}#manufacturer-siemens"),
    }
    assert graph.value(URIRef(f"{CATALOGUE}#manufacturer-siemens"), ns.SKOS.prefLabel) == Literal(
        "SIEMENS", lang="en"
    )
    for maker in makers:
        assert graph.value(maker, ns.SKOS.broadMatch) == EUCAIM.IMG1000010


def test_ingesting_again_fills_series_indexed_without_a_manufacturer(tmp_path, make_ingest_dataset):
    dataset = make_ingest_dataset()
    write_tree(tmp_path, subjects=1, series_per_study=1, Manufacturer="Philips")
    ingest_paths(dataset=dataset, paths=[tmp_path], workers=1)
    Series.objects.filter(study__dataset=dataset).update(manufacturer="")  # indexed before
    Dataset.objects.filter(pk=dataset.pk).update(manufacturers=[])

    report = ingest_paths(dataset=dataset, paths=[tmp_path], workers=1)

    assert report.new_instances == 0 and report.already_indexed == 3
    dataset.refresh_from_db()
    assert dataset.manufacturers == ["Philips"]


def test_a_manufacturer_given_as_a_hyper_ontology_code_is_used_as_it_is(eucaim_dataset, client):
    dataset = eucaim_dataset(manufacturers=["IMG1000047"])
    graph = get_graph(client, "dcat_dataset_ttl", dataset.pk)

    assert set(graph.objects(dataset_ref(dataset), EUCAIM.hasEquipmentManufacturer)) == {
        EUCAIM.IMG1000047
    }


# --- Values without a code ----------------------------------------------------------------


UNCODED = {
    "conditions": ["colorectal cancer", "Prostate cancer"],
    "body_parts": ["CHEST", "PROSTATE"],
    "manufacturers": ["SIEMENS"],
}


def test_it_exports_what_can_be_coded_and_keeps_the_rest_as_keywords(
    dcat_shapes, eucaim_dataset, client
):
    dataset = eucaim_dataset(**UNCODED)
    graph = get_graph(client, "dcat_dataset_ttl", dataset.pk)
    ref = dataset_ref(dataset)

    assert set(graph.objects(ref, EUCAIM.hasCondition)) == {EUCAIM.CLIN1000075}
    assert set(graph.objects(ref, EUCAIM.hasImageBodyPart)) == {EUCAIM.BP1000021}
    keywords = {str(k) for k in graph.objects(ref, dcat.DCAT.keyword)}
    assert {"colorectal cancer", "Chest"} <= keywords
    assert dcat_shapes.validate(graph, "PUBLIC")[0]


def test_it_names_each_uncoded_value_in_a_warning(eucaim_dataset):
    warnings = dcat.uncoded_values(eucaim_dataset(**UNCODED))

    assert len(warnings) == 2
    assert '"colorectal cancer"' in warnings[0] and "eucaim:hasCondition" in warnings[0]
    assert '"CHEST"' in warnings[1] and "eucaim:hasImageBodyPart" in warnings[1]
    assert dcat.uncoded_values(eucaim_dataset(manufacturers=["SIEMENS"])) == []


def test_it_warns_that_no_manufacturer_is_known_before_ingest(eucaim_dataset):
    (warning,) = dcat.uncoded_values(eucaim_dataset())

    assert "No equipment manufacturer is known yet" in warning
    assert "Manufacturer (0008,0070)" in warning


def test_the_operator_sees_the_warnings_on_the_dataset_page(eucaim_dataset, client_for):
    dataset = eucaim_dataset(**UNCODED)
    url = reverse("catalogue:dataset_detail", args=[dataset.pk])

    page = client_for("node_operator").get(url).content.decode()

    assert 'id="export-warnings"' in page
    assert "The condition &quot;colorectal cancer&quot; has no EUCAIM hyper-ontology code" in page
    assert "The body part &quot;CHEST&quot; has no EUCAIM hyper-ontology code" in page
    researcher_page = client_for("researcher").get(url).content.decode()
    assert 'id="export-warnings"' not in researcher_page


def test_the_api_answer_names_the_uncoded_values(eucaim_dataset, client):
    dataset = eucaim_dataset(**UNCODED, interoperability_level="TIER_2")

    answer = client.get(reverse("catalogue_api:dataset", args=[dataset.pk])).json()

    assert answer["interoperability_level"] == "TIER_2"
    assert answer["collection_methods"] == ["ROUTINE_CARE"]
    assert answer["manufacturers"] == ["SIEMENS"]
    assert [w.split(" has no")[0] for w in answer["export_warnings"]] == [
        'The condition "colorectal cancer"',
        'The body part "CHEST"',
    ]
    coded = eucaim_dataset(manufacturers=["SIEMENS"], title="All coded")
    assert (
        client.get(reverse("catalogue_api:dataset", args=[coded.pk])).json()["export_warnings"]
        == []
    )


def test_an_operator_sets_the_eucaim_properties_through_the_api(eucaim_dataset, client_for):
    from portal.models import AuditEvent

    dataset = eucaim_dataset()
    url = reverse("catalogue_api:dataset", args=[dataset.pk])

    answer = client_for("node_operator").patch(
        url,
        {"interoperability_level": "TIER_3", "collection_methods": ["REGISTRY"]},
        content_type="application/json",
    )

    assert answer.status_code == 200, answer.content
    assert answer.json()["interoperability_level"] == "TIER_3"
    assert answer.json()["collection_methods"] == ["REGISTRY"]
    dataset.refresh_from_db()
    assert (dataset.interoperability_level, dataset.collection_methods) == ("TIER_3", ["REGISTRY"])
    event = AuditEvent.objects.filter(action="catalogue.dataset.updated").latest("seq")
    assert event.details["fields"] == ["collection_methods", "interoperability_level"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"collection_methods": []}, "collection_methods"),
        ({"collection_methods": ["HEARSAY"]}, "collection_methods"),
        ({"interoperability_level": "TIER_9"}, "interoperability_level"),
    ],
)
def test_the_api_refuses_a_missing_or_unknown_value(eucaim_dataset, client_for, body, field):
    dataset = eucaim_dataset()
    url = reverse("catalogue_api:dataset", args=[dataset.pk])

    answer = client_for("node_operator").patch(url, body, content_type="application/json")

    assert answer.status_code == 400
    assert field in str(answer.json())  # the field or its value is named
    dataset.refresh_from_db()
    assert (dataset.interoperability_level, dataset.collection_methods) == (
        "TIER_1",
        ["ROUTINE_CARE"],
    )


def test_only_the_nodes_operators_change_the_eucaim_properties(eucaim_dataset, client_for):
    dataset = eucaim_dataset()
    url = reverse("catalogue_api:dataset", args=[dataset.pk])

    answer = client_for("researcher").patch(
        url, {"interoperability_level": "TIER_3"}, content_type="application/json"
    )

    assert answer.status_code == 404
    dataset.refresh_from_db()
    assert dataset.interoperability_level == "TIER_1"
