"""The strict de-identification profile (catalogue.gate_strict) and the node's choice of gate."""

import pytest
from django.urls import reverse
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from catalogue.dicom import Status, read_header
from catalogue.ingest import ingest_paths
from catalogue.models import Node, Study
from catalogue.services import node_set_gate_profile
from portal.models import AuditEvent
from tests.catalogue.dicom_factory import deidentified, write

BASIC_ONLY = ("113100",)

# The gate tests need no database; the ingest, page and migration tests do.
pytestmark = pytest.mark.django_db


def _item(**attributes) -> Dataset:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def _gate(tmp_path, profile, options=BASIC_ONLY, **attributes):
    path = write(deidentified(options=options, **attributes), tmp_path / f"{profile}.dcm")
    return read_header(path, profile)


# (attributes, the attribute the refusal names, the retain option that lifts it or None)
CASES = {
    "institution name": (
        {"InstitutionName": "Haukeland University Hospital"},
        "(0008,0080) InstitutionName",
        "113112",
    ),
    "station name": ({"StationName": "CT-ROOM-2"}, "(0008,1010) StationName", "113109"),
    "device serial number": (
        {"DeviceSerialNumber": "SN-48213"},
        "(0018,1000) DeviceSerialNumber",
        "113109",
    ),
    "operator's name": ({"OperatorsName": "Riesmeier^Jörg"}, "(0008,1070) OperatorsName", None),
    "verifying observer at depth": (
        {"VerifyingObserverSequence": Sequence([_item(VerifyingObserverName="Doe^Jane")])},
        "(0040,A073) VerifyingObserverSequence[1] > (0040,A075) VerifyingObserverName",
        None,
    ),
    "content date": ({"ContentDate": "20190314"}, "(0008,0023) ContentDate", "113106"),
    "acquisition date-time": (
        {"AcquisitionDateTime": "20190314101500"},
        "(0008,002A) AcquisitionDateTime",
        "113107",
    ),
    "content time": ({"ContentTime": "101500"}, "(0008,0033) ContentTime", "113106"),
    "burned-in annotation": (
        {"BurnedInAnnotation": "YES"},
        "(0028,0301) BurnedInAnnotation is YES",
        "113101",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_strict_refuses_what_basic_accepts_and_names_the_attribute(tmp_path, name):
    attributes, named, _ = CASES[name]

    strict = _gate(tmp_path, "strict", **attributes)
    basic = _gate(tmp_path, "basic", **attributes)

    assert strict.status == Status.REFUSED
    assert named in strict.reason
    assert "strict profile" in strict.reason
    assert basic.status == Status.ACCEPTED, basic.reason


@pytest.mark.parametrize("name", [n for n, case in CASES.items() if case[2]])
def test_the_matching_retain_option_lifts_the_refusal(tmp_path, name):
    attributes, named, option = CASES[name]

    lifted = _gate(tmp_path, "strict", options=("113100", option), **attributes)
    other = "113109" if option != "113109" else "113112"
    not_lifted = _gate(tmp_path, "strict", options=("113100", other), **attributes)

    assert lifted.status == Status.ACCEPTED, lifted.reason
    assert not_lifted.status == Status.REFUSED and named in not_lifted.reason


def test_riesmeier_is_refused_even_with_every_retain_option(tmp_path):
    every = ("113100", "113101", "113105", "113106", "113107", "113108", "113109", "113112")
    result = _gate(tmp_path, "strict", options=every, OperatorsName="Riesmeier^Jörg")
    assert result.status == Status.REFUSED
    assert "(0008,1070) OperatorsName holds a person's name" in result.reason


def test_a_name_that_is_the_pseudonym_or_empty_passes(tmp_path):
    result = _gate(
        tmp_path,
        "strict",
        PatientName="SUBJ-0001",
        OperatorsName="",
        ReferringPhysicianName="",
        VerifyingObserverSequence=Sequence([_item(VerifyingObserverName="SUBJ-0001")]),
    )
    assert result.status == Status.ACCEPTED, result.reason


def test_burned_in_annotation_no_passes_and_yes_is_refused_unless_clean_pixel_data(tmp_path):
    assert _gate(tmp_path, "strict", BurnedInAnnotation="NO").status == Status.ACCEPTED
    refused = _gate(tmp_path, "strict", BurnedInAnnotation="YES")
    assert "text is burned into the pixels" in refused.reason
    cleaned = _gate(tmp_path, "strict", options=("113100", "113101"), BurnedInAnnotation="YES")
    assert cleaned.status == Status.ACCEPTED, cleaned.reason


def test_every_refusal_of_a_file_is_reported(tmp_path):
    result = _gate(
        tmp_path,
        "strict",
        InstitutionName="Haukeland University Hospital",
        StationName="CT-ROOM-2",
        OperatorsName="Riesmeier^Jörg",
    )
    for named in ("InstitutionName", "StationName", "OperatorsName"):
        assert named in result.reason


def test_a_new_node_gets_the_strict_gate_and_ingest_applies_it(tmp_path, ingest_dataset):
    assert ingest_dataset.node.gate_profile == Node.GateProfile.STRICT
    ok = write(deidentified(), tmp_path / "ok.dcm")
    named = write(deidentified(InstitutionName="Haukeland University Hospital"), tmp_path / "n.dcm")

    report = ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)

    assert report.accepted == [str(ok)]
    assert [path for path, _ in report.refused] == [str(named)]
    assert "(0008,0080) InstitutionName still has a value" in report.refused[0][1]
    assert Study.objects.filter(dataset=ingest_dataset).count() == 1


def test_a_node_on_the_basic_gate_accepts_the_same_file(tmp_path, ingest_dataset, personas):
    node_set_gate_profile(
        node=ingest_dataset.node, profile="basic", actor=personas["node_operator"]
    )
    ingest_dataset.node.refresh_from_db()
    write(deidentified(InstitutionName="Haukeland University Hospital"), tmp_path / "n.dcm")

    report = ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)

    assert (len(report.accepted), report.refused) == (1, [])
    event = AuditEvent.objects.get(action="catalogue.dataset.ingested")
    assert event.details["gate_profile"] == "basic"


def test_the_operator_chooses_the_gate_on_the_node_page(catalogue, client_for):
    client = client_for("node_operator")
    node = catalogue.own_node
    page = client.get(reverse("catalogue:node_detail", args=[node.pk])).content.decode()
    assert "De-identification gate" in page and 'name="gate_profile"' in page

    response = client.post(
        reverse("catalogue:node_gate_profile", args=[node.pk]), {"gate_profile": "basic"}
    )

    assert response.status_code == 302
    node.refresh_from_db()
    assert node.gate_profile == "basic"
    event = AuditEvent.objects.get(action="catalogue.node.gate_profile_changed")
    assert event.details == {"from": "strict", "to": "basic"}
    assert event.object_id == str(node.pk)


def test_the_ingest_page_says_which_gate_applies(catalogue, client_for):
    client = client_for("node_operator")
    page = client.get(reverse("catalogue:dataset_ingest", args=[catalogue.published.pk]))
    assert "This node's de-identification gate: Strict" in page.content.decode()


def test_a_visitor_does_not_see_the_gate_form(catalogue, client_for):
    page = client_for("researcher").get(
        reverse("catalogue:node_detail", args=[catalogue.own_node.pk])
    )
    assert 'name="gate_profile"' not in page.content.decode()


def test_an_unknown_profile_changes_nothing(catalogue, client_for):
    client = client_for("node_operator")
    node = catalogue.own_node
    client.post(reverse("catalogue:node_gate_profile", args=[node.pk]), {"gate_profile": "none"})
    node.refresh_from_db()
    assert node.gate_profile == "strict"
    assert not AuditEvent.objects.filter(action="catalogue.node.gate_profile_changed").exists()


def test_the_registration_form_offers_the_gate_and_records_it(client_for):
    client = client_for("node_operator")
    response = client.post(
        reverse("catalogue:node_create"),
        {
            "name": "Bergen imaging",
            "slug": "bergen-imaging",
            "organisation": "Bergen Hospital",
            "country": "NO",
            "contact_email": "imaging@example.org",
            "dicomweb_base_url": "https://bergen.example.org/dicom-web",
            "audience": "https://bergen.example.org",
            "gate_profile": "basic",
        },
    )
    assert response.status_code == 302
    node = Node.objects.get(slug="bergen-imaging")
    assert node.gate_profile == "basic"
    event = AuditEvent.objects.get(action="catalogue.node.created", object_id=str(node.pk))
    assert event.details["gate_profile"] == "basic"


@pytest.mark.django_db(transaction=True)
def test_nodes_registered_before_the_migration_keep_the_basic_gate():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("catalogue", "0005_public_address_validators")]
    after = [("catalogue", "0006_node_gate_profile")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_node = executor.loader.project_state(before).apps.get_model("catalogue", "Node")
    running = old_node.objects.create(
        name="Running node", slug="running", organisation="Hospital", country="NO",
        contact_email="node@example.org", dicomweb_base_url="https://node.example.org/dicom-web",
        audience="https://node.example.org",
    )  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert Node.objects.get(pk=running.pk).gate_profile == "basic"
    new = Node.objects.create(
        name="New node", slug="new", organisation="Hospital", country="NO",
        contact_email="new@example.org", dicomweb_base_url="https://new.example.org/dicom-web",
        audience="https://new.example.org",
    )  # fmt: skip
    assert Node.objects.get(pk=new.pk).gate_profile == "strict"
