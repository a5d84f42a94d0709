"""The portal's index endpoint for nodes (/access/nodes/datasets/<id>/index): the node's
indexer fills its own datasets with header values, authenticated as the node."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from access import services
from access.node.headers import MAX_INSTANCES
from access.node.portal_link import basic_credentials
from catalogue.models import Instance, Series, Study
from catalogue.services import dataset_create, node_create
from portal.models import AuditEvent
from tests.catalogue.dicom_factory import uid
from tests.conftest import dataset_fields

pytestmark = pytest.mark.django_db


def _node(slug):
    node = node_create(
        actor=None,
        name=f"Node {slug}",
        slug=slug,
        organisation="Hospital",
        country="NO",
        contact_email=f"{slug}@example.org",
        dicomweb_base_url=f"https://{slug}.example.org/dicom-web",
        audience=f"urn:ecii:node:{slug}",
    )
    return node, services.node_secret_issue(node=node)


@pytest.fixture
def setup():
    node, secret = _node("here")
    other, _other_secret = _node("there")
    dataset = dataset_create(node=node, actor=None, **dataset_fields(title="Ours"))
    theirs = dataset_create(node=other, actor=None, **dataset_fields(title="Theirs"))
    auth = basic_credentials(node.audience, secret)
    return node, dataset, theirs, auth


def _instances(count, *, subject="PSEUDO-1", study=None, series=None):
    study, series = study or uid(), series or uid()
    return [
        {
            "study": study,
            "series": series,
            "sop": uid(),
            "subject": subject,
            "modality": "CT",
            "body_part": "CHEST",
            "manufacturer": "Example Medical",
            "study_date": None,
        }
        for _ in range(count)
    ]


def _post(client, dataset, auth, body):
    return client.post(
        reverse("access:node_dataset_index", kwargs={"pk": dataset.pk}),
        data=json.dumps(body) if not isinstance(body, bytes) else body,
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )


def test_the_node_learns_its_gate_and_indexes_a_batch(client, setup):
    node, dataset, _theirs, auth = setup
    url = reverse("access:node_dataset_index", kwargs={"pk": dataset.pk})
    info = client.get(url, HTTP_AUTHORIZATION=auth).json()
    assert info == {
        "dataset": dataset.pk,
        "title": "Ours",
        "gate_profile": "strict",
        "max_instances": MAX_INSTANCES,
    }
    body = {"gate_profile": "strict", "refused": 2, "unreadable": 1, "instances": _instances(3)}
    response = _post(client, dataset, auth, body)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "dataset": dataset.pk,
        "new_instances": 3,
        "already_indexed": 0,
        "refused": [],
    }
    assert Instance.objects.filter(series__study__dataset=dataset).count() == 3
    series = Series.objects.get(study__dataset=dataset)
    assert (series.modality, series.body_part, series.manufacturer) == (
        "CT", "CHEST", "Example Medical"
    )  # fmt: skip
    dataset.refresh_from_db()
    assert (dataset.number_of_subjects, dataset.number_of_instances) == (1, 3)
    event = AuditEvent.objects.filter(action="catalogue.dataset.ingested").get()
    assert event.details["new_instances"] == 3
    assert event.details["refused"] == 2 and event.details["unreadable"] == 1
    assert event.details["source"] == f"node indexer ({node.audience})"


def test_what_feasibility_counts_by_arrives_with_the_batch(client, setup):
    _node, dataset, _theirs, auth = setup
    instances = _instances(2)
    for instance in instances:
        instance.update(model="Scanner X", field_strength=3, slice_thickness=1.25, age=64, sex="F")
    response = _post(client, dataset, auth, {"gate_profile": "strict", "instances": instances})
    assert response.status_code == 200, response.content
    series = Series.objects.get(study__dataset=dataset)
    assert (series.model, series.field_strength, series.slice_thickness) == ("Scanner X", 3.0, 1.25)
    study = series.study
    assert (study.age, study.sex) == (64, "F")


def test_a_batch_sent_again_changes_nothing(client, setup):
    _node, dataset, _theirs, auth = setup
    body = {"gate_profile": "strict", "instances": _instances(4)}
    assert _post(client, dataset, auth, body).json()["new_instances"] == 4
    events = AuditEvent.objects.count()
    again = _post(client, dataset, auth, body)
    assert again.status_code == 200
    assert again.json()["new_instances"] == 0 and again.json()["already_indexed"] == 4
    assert AuditEvent.objects.count() == events
    assert Instance.objects.filter(series__study__dataset=dataset).count() == 4


def test_another_nodes_dataset_is_not_found(client, setup):
    _node, _dataset, theirs, auth = setup
    url = reverse("access:node_dataset_index", kwargs={"pk": theirs.pk})
    assert client.get(url, HTTP_AUTHORIZATION=auth).status_code == 404
    body = {"gate_profile": "strict", "instances": _instances(1)}
    assert _post(client, theirs, auth, body).status_code == 404
    assert not Study.objects.filter(dataset=theirs).exists()


def test_it_needs_the_nodes_credentials(client, setup):
    node, dataset, _theirs, _auth = setup
    wrong = basic_credentials(node.audience, "not-the-secret")
    body = {"gate_profile": "strict", "instances": _instances(1)}
    for auth in (wrong, ""):
        response = _post(client, dataset, auth, body)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
    assert not Study.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda body: body["instances"][1].update(sop=""), "instance 2: sop is required"),
        (lambda body: body["instances"][2].update(subject="x" * 65), "instance 3: subject"),
        (lambda body: body["instances"][0].update(study_date="31/01/2020"), "study_date"),
        (lambda body: body["instances"][0].update(pixels="AAAA"), "unknown fields: pixels"),
        (lambda body: body.update(gate_profile="none"), "gate_profile is one of"),
        (lambda body: body.update(refused=-1), "refused is a count"),
        (lambda body: body.update(instances=body["instances"] * 400), "at most 1000"),
        (lambda body: body["instances"][0].update(age=-1), "age is whole years"),
        (lambda body: body["instances"][0].update(age="64Y"), "age is whole years"),
        (lambda body: body["instances"][0].update(sex="X"), "sex is F, M, O or empty"),
        (lambda body: body["instances"][0].update(field_strength="3T"), "field_strength is a"),
        (lambda body: body["instances"][0].update(slice_thickness=-1.0), "slice_thickness"),
    ],
)
def test_a_bad_batch_is_refused_whole(client, setup, change, message):
    _node, dataset, _theirs, auth = setup
    body = {"gate_profile": "strict", "instances": _instances(3)}
    change(body)
    response = _post(client, dataset, auth, body)
    assert response.status_code == 400
    assert message in response.json()["error_description"]
    assert not Study.objects.filter(dataset=dataset).exists()
    assert not AuditEvent.objects.filter(action="catalogue.dataset.ingested").exists()


def test_a_body_that_is_not_json_is_refused(client, setup):
    _node, dataset, _theirs, auth = setup
    response = _post(client, dataset, auth, b"\xff not json")
    assert response.status_code == 400
    assert response.json()["error_description"] == "The body is not JSON."


def test_a_batch_gated_under_another_profile_is_refused(client, setup):
    _node, dataset, _theirs, auth = setup
    response = _post(client, dataset, auth, {"gate_profile": "basic", "instances": _instances(1)})
    assert response.status_code == 409
    assert "strict" in response.json()["error_description"]
    assert not Study.objects.filter(dataset=dataset).exists()


def test_conflicting_values_are_refused_one_by_one(client, setup):
    _node, dataset, _theirs, auth = setup
    first = _instances(1, subject="PSEUDO-1")
    _post(client, dataset, auth, {"gate_profile": "strict", "instances": first})
    other_subject = dict(first[0], sop=uid(), subject="PSEUDO-2")
    fine = _instances(1, subject="PSEUDO-3")
    response = _post(
        client, dataset, auth, {"gate_profile": "strict", "instances": [other_subject, *fine]}
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["new_instances"] == 1
    assert len(answer["refused"]) == 1
    assert "PatientID 'PSEUDO-2' differs" in answer["refused"][0]["reason"]


def test_a_batch_costs_the_same_queries_whatever_its_size(client, setup):
    """After a first request (which fills the per-process caches)."""
    _node, dataset, _theirs, auth = setup
    _post(client, dataset, auth, {"gate_profile": "strict", "instances": _instances(1)})
    counts = []
    for size in (2, 200):
        body = {"gate_profile": "strict", "instances": _instances(size, subject=f"P-{size}")}
        with CaptureQueriesContext(connection) as queries:
            assert _post(client, dataset, auth, body).json()["new_instances"] == size
        counts.append(len(queries))
    assert counts[0] == counts[1]
