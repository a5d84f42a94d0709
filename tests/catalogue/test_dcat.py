"""The HealthDCAT-AP export: validated against the official shapes of each access level."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rdflib import Graph, Literal, URIRef
from rdflib import namespace as ns
from rdflib.compare import isomorphic

from catalogue import dcat
from catalogue.models import Dataset
from catalogue.services import dataset_create
from catalogue.vocabularies import EHDS_ELI

BASE_URL = "https://atlas.example.org"
ACCESS_LEVELS = ["PUBLIC", "RESTRICTED", "NON_PUBLIC"]


def make_dataset(node, actor, *, access_rights, status=Dataset.Status.PUBLISHED, **extra):
    fields = {
        "title": f"Prostate mpMRI ({access_rights})",
        "description": "Multiparametric prostate MRI with CT staging and segmentations.",
        "keywords": ["prostate", "mpMRI"],
        "contact_name": "Imaging data office",
        "contact_email": "data@lafe.example.org",
        "health_categories": ["EHRS", "EHCT"],
        "access_rights": access_rights,
        "conditions": ["Prostate cancer"],
        "modalities": ["MR", "CT", "SEG"],
        "body_parts": ["PROSTATE"],
        "sexes": ["male"],
        "number_of_subjects": 120,
        "number_of_studies": 340,
        "min_age": 45,
        "max_age": 85,
        "temporal_start": datetime.date(2018, 1, 1),
        "temporal_end": datetime.date(2023, 12, 31),
        "access_conditions": ["DOWNLOAD", "IN_SITU_PROCESSING"],
        "duo_codes": ["DUO:0000042", "DUO:0000046"],
        "licence": "https://creativecommons.org/licenses/by-nc/4.0/",
        "version": "2.1.0",
    }
    fields.update(extra)
    return dataset_create(node=node, actor=actor, status=status, **fields)


@pytest.fixture
def dcat_datasets(dcat_node, personas, settings):
    """One published dataset per access level, and a draft."""
    settings.SITE_URL = BASE_URL
    actor = personas["node_operator"]
    published = {
        level: make_dataset(dcat_node, actor, access_rights=level) for level in ACCESS_LEVELS
    }
    draft = make_dataset(
        dcat_node,
        actor,
        access_rights="PUBLIC",
        status=Dataset.Status.DRAFT,
        title="Unpublished lung CT",
        conditions=["Lung cancer"],
        min_age=None,
        max_age=None,
        temporal_start=None,
        temporal_end=None,
    )
    return {**published, "draft": draft}


def get_graph(client: Client, name: str, *args, fmt: str = "turtle") -> Graph:
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200, response.content[:500]
    return Graph().parse(data=response.content.decode(), format=fmt)


def dataset_ref(dataset) -> URIRef:
    return URIRef(f"{BASE_URL}/catalogue/datasets/{dataset.pk}")


@pytest.mark.parametrize("level", ACCESS_LEVELS)
def test_it_exports_each_dataset_conforming_to_the_shapes_of_its_access_level(
    dcat_shapes, dcat_datasets, client, level
):
    graph = get_graph(client, "dcat_dataset_ttl", dcat_datasets[level].pk)

    conforms, report = dcat_shapes.validate(graph, level)

    assert conforms, report


def test_it_validates_the_catalogue_record_itself(dcat_shapes, dcat_datasets):
    public = Dataset.objects.select_related("node").filter(pk=dcat_datasets["PUBLIC"].pk)
    graph = dcat.catalogue_graph(public, base_url=BASE_URL)

    conforms, report = dcat_shapes.validate(graph, "PUBLIC")

    assert conforms, report
    catalogue = URIRef(f"{BASE_URL}/catalogue/")
    assert (catalogue, ns.RDF.type, dcat.DCAT.Catalog) in graph
    assert (catalogue, dcat.DCATAP.applicableLegislation, URIRef(EHDS_ELI)) in graph


def test_it_fails_validation_without_access_rights(dcat_shapes, dcat_datasets):
    """Negative control: the validation really can fail."""
    dataset = Dataset.objects.select_related("node").get(pk=dcat_datasets["PUBLIC"].pk)
    graph = dcat.dataset_graph(dataset, base_url=BASE_URL)
    graph.remove((dataset_ref(dataset), dcat.DCTERMS.accessRights, None))

    conforms, report = dcat_shapes.validate(graph, "PUBLIC")

    assert not conforms
    assert "accessRights" in report


def test_it_does_not_pass_a_non_public_dataset_off_as_public(dcat_shapes, dcat_datasets, client):
    graph = get_graph(client, "dcat_dataset_ttl", dcat_datasets["NON_PUBLIC"].pk)

    conforms, report = dcat_shapes.validate(graph, "PUBLIC")

    assert not conforms
    assert "access-right/PUBLIC" in report


def test_it_serves_the_same_graph_as_turtle_and_json_ld(dcat_datasets, client):
    for turtle, jsonld, args in [
        ("dcat_catalogue_ttl", "dcat_catalogue_jsonld", ()),
        ("dcat_dataset_ttl", "dcat_dataset_jsonld", (dcat_datasets["NON_PUBLIC"].pk,)),
    ]:
        from_turtle = get_graph(client, turtle, *args)
        from_jsonld = get_graph(client, jsonld, *args, fmt="json-ld")

        assert len(from_turtle) > 50
        assert isomorphic(from_turtle, from_jsonld)


def test_it_uses_a_compact_inline_json_ld_context(dcat_datasets, client):
    response = client.get(reverse("dcat_catalogue_jsonld"))
    document = response.json()

    assert isinstance(document["@context"], dict)
    assert document["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    assert document["@context"]["healthdcatap"] == "http://healthdataportal.eu/ns/health#"


def test_it_lists_only_published_datasets_in_the_catalogue(dcat_datasets, client):
    graph = get_graph(client, "dcat_catalogue_ttl")

    listed = set(graph.objects(URIRef(f"{BASE_URL}/catalogue/"), dcat.DCAT.dataset))
    assert listed == {dataset_ref(dcat_datasets[level]) for level in ACCESS_LEVELS}
    assert (dataset_ref(dcat_datasets["draft"]), None, None) not in graph


def test_it_hides_a_draft_export_from_anonymous_visitors_but_not_from_its_operator(
    dcat_datasets, client, client_for
):
    draft = dcat_datasets["draft"]
    for name in ["dcat_dataset_ttl", "dcat_dataset_jsonld"]:
        assert client.get(reverse(name, args=[draft.pk])).status_code == 404
        assert client_for("researcher").get(reverse(name, args=[draft.pk])).status_code == 404
    assert client.get(reverse("dcat_dataset_ttl", args=[999999])).status_code == 404

    graph = get_graph(client_for("node_operator"), "dcat_dataset_ttl", draft.pk)
    assert (dataset_ref(draft), ns.RDF.type, dcat.DCAT.Dataset) in graph


def test_it_sets_content_types_and_caching(dcat_datasets, client):
    catalogue = client.get(reverse("dcat_catalogue_ttl"))
    assert catalogue["Content-Type"].startswith("text/turtle")
    assert "public" in catalogue["Cache-Control"]
    assert "max-age=300" in catalogue["Cache-Control"]
    assert client.get(reverse("dcat_catalogue_jsonld"))["Content-Type"] == "application/ld+json"

    one = client.get(reverse("dcat_dataset_jsonld", args=[dcat_datasets["PUBLIC"].pk]))
    assert one["Content-Type"] == "application/ld+json"
    assert "private" in one["Cache-Control"]
    assert client.post(reverse("dcat_catalogue_ttl")).status_code == 405


def test_it_exports_data_use_conditions_modalities_and_population(dcat_datasets, client):
    dataset = dcat_datasets["PUBLIC"]
    graph = get_graph(client, "dcat_dataset_ttl", dataset.pk)
    ref = dataset_ref(dataset)
    eucaim = dcat.EUCAIM

    # DUO codes, through the EUCAIM data-use conditions mapped to DUO.
    duo_iris = {
        graph.value(concept, ns.SKOS.exactMatch)
        for concept in graph.objects(ref, dcat.DCTERMS.rights)
    }
    assert duo_iris == {
        URIRef("http://purl.obolibrary.org/obo/DUO_0000042"),
        URIRef("http://purl.obolibrary.org/obo/DUO_0000046"),
    }
    # Modalities: MR and CT as EUCAIM classes; every modality also as a keyword.
    assert set(graph.objects(ref, eucaim.hasImageModality)) == {
        eucaim.IMG1000038,
        eucaim.IMG1000026,
    }
    keywords = {str(k) for k in graph.objects(ref, dcat.DCAT.keyword)}
    assert {"Magnetic resonance", "Computed tomography", "Segmentation"} <= keywords
    assert (ref, eucaim.hasCondition, eucaim.CLIN1000075) in graph
    assert (ref, eucaim.hasBirthSex, eucaim.COM1001366) in graph
    assert (ref, eucaim.hasImageBodyPart, eucaim.BP1000021) in graph

    health = dcat.HEALTHDCATAP
    assert graph.value(ref, health.numberOfRecords) == Literal(
        340, datatype=ns.XSD.nonNegativeInteger
    )
    assert graph.value(ref, health.numberOfUniqueIndividuals) == Literal(
        120, datatype=ns.XSD.nonNegativeInteger
    )
    assert graph.value(ref, health.minTypicalAge) == Literal(45, datatype=ns.XSD.nonNegativeInteger)
    assert graph.value(ref, health.maxTypicalAge) == Literal(85, datatype=ns.XSD.nonNegativeInteger)
    assert graph.value(ref, health.hasStructuredData) == Literal(False)
    period = graph.value(ref, dcat.DCTERMS.temporal)
    assert graph.value(period, dcat.DCAT.startDate) == Literal(
        datetime.date(2018, 1, 1), datatype=ns.XSD.date
    )
    assert graph.value(ref, dcat.DCTERMS.spatial) == URIRef(
        "http://publications.europa.eu/resource/authority/country/ESP"
    )
    assert set(graph.objects(ref, health.healthCategory)) == {
        URIRef("https://hdeu-dcat.data.health.europa.eu/resource/authority/healthcategories/EHRS"),
        URIRef("https://hdeu-dcat.data.health.europa.eu/resource/authority/healthcategories/EHCT"),
    }


def test_it_describes_one_distribution_per_access_condition(dcat_datasets, client):
    dataset = dcat_datasets["RESTRICTED"]
    graph = get_graph(client, "dcat_dataset_ttl", dataset.pk)
    ref = dataset_ref(dataset)
    conditions = dcat.ACCESS_CONDITION

    rights = {
        graph.value(d, dcat.DCTERMS.rights): d for d in graph.objects(ref, dcat.DCAT.distribution)
    }

    assert set(rights) == {conditions.DOWNLOAD, conditions.IN_SITU_PROCESSING}
    download, in_situ = rights[conditions.DOWNLOAD], rights[conditions.IN_SITU_PROCESSING]
    assert graph.value(download, dcat.DCAT.accessURL) == URIRef(
        "https://valencia.example.org/dicomweb"
    )
    assert graph.value(in_situ, dcat.DCAT.accessURL) == ref
    for distribution in rights.values():
        assert graph.value(distribution, dcat.DCATAP.applicableLegislation) == URIRef(EHDS_ELI)
        assert graph.value(distribution, dcat.DCTERMS.license) == URIRef(
            "https://creativecommons.org/licenses/by-nc/4.0/"
        )


def test_it_leaves_out_unset_ages_and_coverage(dcat_node, personas):
    dataset = make_dataset(
        dcat_node,
        personas["node_operator"],
        access_rights="PUBLIC",
        min_age=None,
        max_age=None,
        temporal_start=None,
        temporal_end=None,
    )
    graph = dcat.dataset_graph(dataset, base_url=BASE_URL)
    ref = dataset_ref(dataset)

    assert graph.value(ref, dcat.HEALTHDCATAP.minTypicalAge) is None
    assert graph.value(ref, dcat.HEALTHDCATAP.maxTypicalAge) is None
    assert graph.value(ref, dcat.DCTERMS.temporal) is None


def test_it_names_the_health_data_access_body_from_the_settings(dcat_datasets, client, settings):
    settings.HDAB_NAME = "Instituto de Salud Carlos III — HDAB"
    settings.HDAB_EMAIL = "hdab@isciii.example.org"
    dataset = dcat_datasets["NON_PUBLIC"]
    graph = get_graph(client, "dcat_dataset_ttl", dataset.pk)

    hdab = graph.value(dataset_ref(dataset), dcat.HEALTHDCATAP.hdab)
    contact = graph.value(hdab, dcat.CV.contactPoint)
    assert str(graph.value(hdab, dcat.FOAF.name)) == "Instituto de Salud Carlos III — HDAB"
    assert str(graph.value(contact, dcat.CV.email)) == "hdab@isciii.example.org"


def test_it_reads_the_catalogue_in_a_constant_number_of_queries(dcat_node, personas, client):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("dcat_catalogue_ttl"))
        assert response.status_code == 200
        return len(queries)

    make_dataset(dcat_node, personas["node_operator"], access_rights="PUBLIC")
    with_one = count_queries()
    for level in ["RESTRICTED", "NON_PUBLIC", "PUBLIC", "PUBLIC"]:
        make_dataset(dcat_node, personas["node_operator"], access_rights=level)
    with_five = count_queries()

    # The datasets, and one aggregate of the index for their quality labels.
    assert with_one == with_five <= 3, (with_one, with_five)
