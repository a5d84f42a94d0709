"""Addresses the catalogue publishes: refused on every write path when they cannot be IRIs, and
one stored behind the validators' back never takes the DCAT export down."""

import logging

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rdflib import Graph, URIRef
from rest_framework import serializers

from catalogue import dcat, services
from catalogue.api import DatasetSerializer
from catalogue.models import Dataset, Node
from catalogue.validators import validate_public_email, validate_public_url
from portal.models import AuditEvent
from tests.catalogue import shapes
from tests.catalogue.test_dataset_pages import FORM
from tests.conftest import dataset_fields

# What the review found (a licence with <>, a quoted local part with >), and their relatives.
BAD_URLS = [
    "https://example.org/licence/<script>",
    'https://example.org/a"b',
    "https://example.org/{licence}",
    "https://example.org/a|b",
    "https://example.org/a\\b",
    "https://example.org/a^b",
    "https://example.org/a`b",
    "https://example.org/a\u200eb",  # an invisible bidirectional mark
    "https://example.org/%zz",
    "https://example.org/a[1]",
    "https://user:secret@example.org/dicom-web",
    "ftp://example.org/licence",
    "javascript:alert(1)",
]
BAD_EMAILS = [
    '"a>b"@example.org',
    '"a b"@example.org',
    "a{b}@example.org",
    "a|b@example.org",
    "a`b@example.org",
    "a^b@example.org",
    "a#b@example.org",
    "a%b@example.org",
    "desk@[192.0.2.1]",
]
LICENCE_ATTACK = "https://example.org/licence/<script>"
EMAIL_ATTACK = '"a>b"@example.org'
BASE_URL = "https://atlas.example.org"


@pytest.mark.parametrize(
    "value",
    [
        "https://creativecommons.org/licenses/by-nc/4.0/",
        "http://127.0.0.1:8042/dicom-web",
        "https://[2001:db8::1]:8042/dicom-web",
        "https://例え.jp/ライセンス?lang=ja#text",
        "https://example.org/licence%20text",
    ],
)
def test_it_accepts_urls_that_are_valid_iris(value):
    validate_public_url(value)


@pytest.mark.parametrize("value", BAD_URLS)
def test_it_refuses_urls_that_cannot_be_published(value):
    with pytest.raises(ValidationError):
        validate_public_url(value)


@pytest.mark.parametrize(
    "value", ["desk@example.org", "o'brien+imaging@example.org", "data.desk@hôpital.example.fr"]
)
def test_it_accepts_emails_that_make_a_valid_mailto_iri(value):
    validate_public_email(value)


@pytest.mark.parametrize("value", BAD_EMAILS)
def test_it_refuses_emails_that_cannot_be_published(value):
    with pytest.raises(ValidationError):
        validate_public_email(value)


# -- every write path --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [({"licence": url}, "licence") for url in BAD_URLS]
    + [({"contact_email": email}, "contact_email") for email in BAD_EMAILS],
)
def test_the_dataset_page_refuses_unpublishable_addresses(catalogue, client_for, change, field):
    client = client_for("node_operator")
    before = Dataset.objects.count(), AuditEvent.objects.count()
    url = reverse("catalogue:dataset_create", args=[catalogue.own_node.pk])

    response = client.post(url, {**FORM, **change})

    assert response.status_code == 200
    assert len(response.context["form"].errors[field]) == 1
    assert (Dataset.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(
    ("field", "value"), [("licence", LICENCE_ATTACK), ("contact_email", EMAIL_ATTACK)]
)
def test_the_dataset_edit_page_refuses_unpublishable_addresses(catalogue, client_for, field, value):
    client = client_for("node_operator")
    dataset = catalogue.published
    before = Dataset.objects.filter(pk=dataset.pk).values(field).get()

    response = client.post(
        reverse("catalogue:dataset_edit", args=[dataset.pk]), {**FORM, field: value}
    )

    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert Dataset.objects.filter(pk=dataset.pk).values(field).get() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("contact_email", email) for email in BAD_EMAILS]
    + [("dicomweb_base_url", url) for url in BAD_URLS],
)
def test_the_node_page_refuses_unpublishable_addresses(client_for, personas, field, value):
    client = client_for("node_operator")
    before = Node.objects.count(), AuditEvent.objects.count()
    data = {
        "name": "Lyon node",
        "slug": "lyon",
        "organisation": "Centre Léon Bérard",
        "country": "FR",
        "contact_email": "node@lyon.example.org",
        "dicomweb_base_url": "https://lyon.example.org/dicom-web",
        "audience": "urn:ecii:node:lyon",
    }

    response = client.post(reverse("catalogue:node_create"), {**data, field: value})

    assert response.status_code == 200
    assert len(response.context["form"].errors[field]) == 1
    assert (Node.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("licence", LICENCE_ATTACK),
        ("contact_email", EMAIL_ATTACK),
        ("applicable_legislation", ["http://data.europa.eu/eli/reg/2025/327/<oj>"]),
    ],
)
def test_the_dataset_services_refuse_unpublishable_addresses(catalogue, field, value):
    before = Dataset.objects.count(), AuditEvent.objects.count()
    with pytest.raises(ValidationError) as created:
        services.dataset_create(
            node=catalogue.own_node, actor=None, **dataset_fields(**{field: value})
        )
    assert field in created.value.message_dict

    with pytest.raises(ValidationError) as updated:
        services.dataset_update(dataset=catalogue.published, actor=None, **{field: value})
    assert field in updated.value.message_dict
    assert (Dataset.objects.count(), AuditEvent.objects.count()) == before
    catalogue.published.refresh_from_db()
    assert getattr(catalogue.published, field) != value


@pytest.mark.parametrize(
    ("field", "value"), [("contact_email", EMAIL_ATTACK), ("dicomweb_base_url", LICENCE_ATTACK)]
)
def test_the_node_service_refuses_unpublishable_addresses(db, field, value):
    fields = {
        "name": "Lyon node",
        "slug": "lyon",
        "organisation": "Centre Léon Bérard",
        "country": "FR",
        "contact_email": "node@lyon.example.org",
        "dicomweb_base_url": "https://lyon.example.org/dicom-web",
        "audience": "urn:ecii:node:lyon",
    }
    with pytest.raises(ValidationError) as refused:
        services.node_create(actor=None, **{**fields, field: value})
    assert field in refused.value.message_dict
    assert not Node.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"), [("licence", LICENCE_ATTACK), ("contact_email", EMAIL_ATTACK)]
)
def test_the_api_serializer_refuses_unpublishable_addresses(field, value):
    with pytest.raises(serializers.ValidationError):
        DatasetSerializer().fields[field].run_validation(value)


@pytest.mark.filterwarnings("ignore:Invalid value for VR CS")
def test_header_values_from_an_ingest_never_reach_the_export_as_iris(
    catalogue, client_for, tmp_path, settings
):
    """Ingest writes modalities and body parts from DICOM headers: whatever they hold, they are
    exported as text, and the catalogue stays valid Turtle."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.catalogue.dicom_factory import deidentified, write

    settings.SITE_URL = BASE_URL
    header = deidentified(body_part='A"B<C>', modality="C|T")
    upload = SimpleUploadedFile("x.dcm", write(header, tmp_path / "x.dcm").read_bytes())
    client = client_for("node_operator")
    url = reverse("catalogue_api:dataset_ingest", args=[catalogue.published.pk])
    assert client.post(url, {"files": [upload]}).json()["accepted"] == 1

    response = client.get(reverse("dcat_catalogue_ttl"))

    assert response.status_code == 200
    graph = Graph().parse(data=response.content.decode(), format="turtle")
    assert (dataset_ref(catalogue.published), None, None) in graph


# -- the exporter never fails the whole catalogue ------------------------------------------------


def dataset_ref(dataset) -> URIRef:
    return URIRef(f"{BASE_URL}/catalogue/datasets/{dataset.pk}")


def listed(graph: Graph) -> set:
    return set(graph.objects(URIRef(f"{BASE_URL}/catalogue/"), dcat.DCAT.dataset))


@pytest.fixture
def public_catalogue(catalogue, settings):
    """The two published datasets of ``catalogue``, both PUBLIC (one set of shapes to check)."""
    settings.SITE_URL = BASE_URL
    Dataset.objects.update(access_rights="PUBLIC")
    return catalogue


@pytest.mark.parametrize("fmt", ["dcat_catalogue_ttl", "dcat_catalogue_jsonld"])
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("licence", LICENCE_ATTACK),
        ("contact_email", EMAIL_ATTACK),
        ("applicable_legislation", ["http://data.europa.eu/eli/reg/2025/327/<oj>"]),
    ],
)
def test_a_bad_stored_dataset_is_left_out_and_logged(
    public_catalogue, client, caplog, field, value, fmt
):
    bad, good = public_catalogue.published, public_catalogue.other_published
    Dataset.objects.filter(pk=bad.pk).update(**{field: value})  # behind the validators' back

    with caplog.at_level(logging.WARNING, logger="catalogue.dcat"):
        response = client.get(reverse(fmt))

    assert response.status_code == 200
    graph = Graph().parse(
        data=response.content.decode(), format="turtle" if fmt.endswith("ttl") else "json-ld"
    )
    assert listed(graph) == {dataset_ref(good)}
    assert (dataset_ref(bad), None, None) not in graph
    left_out = [r for r in caplog.records if r.name == "catalogue.dcat"]
    assert len(left_out) == 1 and f"Dataset {bad.pk} " in left_out[0].getMessage()
    shapes.require_shapes()  # what remains needs the official shapes
    conforms, report = shapes.validate(graph, "PUBLIC")
    assert conforms, report


def test_a_bad_node_address_leaves_out_only_the_datasets_that_publish_it(
    public_catalogue, client, caplog
):
    """The DICOMweb URL is the access URL of a DOWNLOAD distribution: the Valencia dataset has
    one, the Oslo dataset has none."""
    oslo, valencia = public_catalogue.published, public_catalogue.other_published
    Node.objects.filter(pk=valencia.node_id).update(dicomweb_base_url=LICENCE_ATTACK)

    with caplog.at_level(logging.WARNING, logger="catalogue.dcat"):
        response = client.get(reverse("dcat_catalogue_ttl"))

    assert response.status_code == 200
    graph = Graph().parse(data=response.content.decode(), format="turtle")
    assert listed(graph) == {dataset_ref(oslo)}
    assert f"Dataset {valencia.pk} " in caplog.text


def test_a_bad_stored_dataset_has_no_export_of_its_own(public_catalogue, client, caplog):
    bad = public_catalogue.published
    Dataset.objects.filter(pk=bad.pk).update(contact_email=EMAIL_ATTACK)

    with caplog.at_level(logging.WARNING, logger="catalogue.dcat"):
        for name in ["dcat_dataset_ttl", "dcat_dataset_jsonld"]:
            assert client.get(reverse(name, args=[bad.pk])).status_code == 404

    assert caplog.text.count(f"Dataset {bad.pk} ") == 2
    other = public_catalogue.other_published
    assert client.get(reverse("dcat_dataset_ttl", args=[other.pk])).status_code == 200
