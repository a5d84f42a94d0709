"""The FHIR API on Consent: capabilities, create, read, vread, history and update, what each
answers, who may do what, and what an invalid resource leaves behind (nothing)."""

import copy
import json

import pytest
from django.test import Client
from django.urls import reverse
from fhir.resources.bundle import Bundle
from fhir.resources.capabilitystatement import CapabilityStatement
from fhir.resources.operationoutcome import OperationOutcome

from consent.models import ConsentRecord, ConsentVersion
from portal.models import AuditEvent, Role
from tests.consent.fhir_client import CONTENT_TYPE, issues, post, put, stored_nothing
from tests.consent.r5_examples import EXAMPLES, example
from tests.factories import UserFactory


def without_server_elements(resource):
    resource = copy.deepcopy(resource)
    meta = resource.pop("meta", {})
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    resource.pop("id", None)
    return resource, meta


@pytest.fixture
def created(donor, client_for):
    """The donor's research consent, created through the API."""
    client = client_for("citizen")
    response = post(client, example("research", patient=donor.citizen.pseudonym))
    assert response.status_code == 201
    return response.json()


# ---------------------------------------------------------------------------------------------
# Capabilities and formats


def test_metadata_is_a_capability_statement_anyone_may_read(client):
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE
    statement = CapabilityStatement.model_validate(response.json())
    assert statement.status == "active" and statement.kind == "instance"
    assert statement.fhirVersion == "5.0.0" and statement.format == ["json"]
    (rest,) = statement.rest
    assert rest.mode == "server"
    (consent,) = rest.resource
    assert consent.type == "Consent"
    assert {i.code for i in consent.interaction} == {
        "read",
        "vread",
        "history-instance",
        "search-type",
        "create",
        "update",
    }
    assert consent.versioning == "versioned-update"
    assert consent.readHistory is True and consent.updateCreate is False
    assert consent.conditionalCreate is False and consent.conditionalUpdate is False
    assert consent.conditionalRead == "full-support"  # If-None-Match and If-Modified-Since
    assert consent.conditionalDelete == "not-supported"
    assert {p.name for p in consent.searchParam} == {
        "patient",
        "status",
        "date",
        "_lastUpdated",
        "_count",
    }
    assert statement.implementation.url == "http://testserver/fhir"


@pytest.mark.parametrize(
    "accept",
    ["application/fhir+json", "application/json", "*/*", "application/fhir+json; fhirVersion=5.0"],
)
def test_it_answers_fhir_json_to_clients_that_accept_json(client, accept):
    response = client.get("/fhir/metadata", headers={"Accept": accept})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json; fhirVersion=5.0"


@pytest.mark.parametrize(
    ("accept", "query"),
    [
        ("application/fhir+xml", ""),
        ("text/html", ""),
        ("application/fhir+json; fhirVersion=4.0", ""),
        ("application/json", "?_format=xml"),
    ],
)
def test_it_refuses_with_406_a_client_that_accepts_nothing_it_writes(client, accept, query):
    response = client.get(f"/fhir/metadata{query}", headers={"Accept": accept})
    assert response.status_code == 406
    assert issues(response)[0]["code"] == "not-supported"


def test_format_overrides_the_accept_header(client):
    response = client.get("/fhir/metadata?_format=json", headers={"Accept": "text/html"})
    assert response.status_code == 200


def test_unknown_paths_and_methods_answer_an_operation_outcome(created, client_for):
    client = client_for("citizen")
    assert issues(client.get("/fhir/Patient/p-1"))[0]["code"] == "not-found"
    response = client.delete(f"/fhir/Consent/{created['id']}")
    assert response.status_code == 405
    assert response["Allow"] == "GET, PUT, HEAD"
    assert issues(response)[0]["code"] == "not-supported"
    assert ConsentVersion.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# Create and round trip


def test_create_stores_the_consent_and_says_where(donor, client_for):
    written = example("research", patient=donor.citizen.pseudonym)
    response = post(client_for("citizen"), written)
    assert response.status_code == 201
    body = response.json()
    record = ConsentRecord.objects.get()
    assert body["id"] == record.id != written["id"]  # the server names what it creates
    assert response["Location"] == f"http://testserver/fhir/Consent/{record.id}/_history/1"
    assert response["ETag"] == 'W/"1"'
    assert response["Last-Modified"].endswith(" GMT")
    assert body == ConsentVersion.objects.get().resource
    assert AuditEvent.objects.filter(action="consent.resource.created").count() == 1


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_consent_written_to_the_specification_round_trips(name, db):
    citizen = UserFactory(roles=[Role.CITIZEN])
    client = Client()
    client.force_login(citizen)
    written = example(name, patient=citizen.pseudonym)
    created = post(client, written)
    assert created.status_code == 201, created.content
    read = client.get(created["Location"])
    assert read.status_code == 200
    assert without_server_elements(read.json()) == without_server_elements(written)
    again = client.get(f"/fhir/Consent/{created.json()['id']}")
    assert again.json() == read.json() == created.json()


def test_prefer_return_minimal_answers_without_a_body(donor, client_for):
    response = post(
        client_for("citizen"),
        example("opt-out", patient=donor.citizen.pseudonym),
        Prefer="return=minimal",
    )
    assert response.status_code == 201
    assert response.content == b""
    assert response["ETag"] == 'W/"1"'


# ---------------------------------------------------------------------------------------------
# Invalid resources leave nothing behind


def _research(pseudonym, change):
    resource = example("research", patient=pseudonym)
    change(resource)
    return json.dumps(resource)


INVALID = {
    "not JSON": (lambda p: '{"resourceType": "Consent",', None),
    "a repeated property": (
        lambda p: '{"resourceType": "Consent", "status": "active", "status": "draft"}',
        None,
    ),
    "NaN": (lambda p: '{"resourceType": "Consent", "x": NaN}', None),
    "a list": (lambda p: "[]", None),
    "another resource type": (
        lambda p: json.dumps({"resourceType": "Patient", "id": "x"}),
        "resourceType",
    ),
    "an element R5 does not have": (
        lambda p: _research(p, lambda r: r.update(scope={"text": "research"})),
        "Consent.scope",
    ),
    "a status outside its required binding": (
        lambda p: _research(p, lambda r: r.update(status="agreed")),
        "Consent.status",
    ),
    "a boolean as text": (
        lambda p: _research(p, lambda r: r["provision"][0].update(period={"start": True})),
        "Consent.provision[0].period.start",
    ),
    "a null": (
        lambda p: _research(p, lambda r: r.update(date=None)),
        "Consent.date",
    ),
    "a period ending before it starts": (
        lambda p: _research(
            p, lambda r: r.update(period={"start": "2030-01-01", "end": "2029-01-01"})
        ),
        "Consent.period",
    ),
    "an unknown DUO code": (
        lambda p: _research(
            p,
            lambda r: r["provision"][0]["purpose"].append(
                {"system": "http://purl.obolibrary.org/obo/duo.owl", "code": "DUO:9999999"}
            ),
        ),
        "Consent.provision[0].purpose[1]",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_an_invalid_consent_is_refused_with_where_and_what(case, donor, client_for):
    body, where = INVALID[case]
    response = post(client_for("citizen"), body(donor.citizen.pseudonym))
    assert response.status_code == 400
    found = issues(response)
    OperationOutcome.model_validate(response.json())
    assert all(i["severity"] == "error" and i["diagnostics"] for i in found)
    if where is not None:
        assert any(e.startswith(where) for i in found for e in i.get("expression", [])), found
    assert stored_nothing()


def test_a_consent_of_someone_else_is_refused(donor, another_citizen, client_for):
    response = post(client_for("citizen"), example("research", patient=another_citizen.pseudonym))
    assert response.status_code == 403
    assert issues(response)[0]["code"] == "forbidden"
    assert stored_nothing()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/json; charset=latin-1"]
)
def test_a_body_that_is_not_fhir_json_is_refused_with_415(donor, client_for, content_type):
    body = example("research", patient=donor.citizen.pseudonym)
    response = post(client_for("citizen"), body, content_type=content_type)
    assert response.status_code == 415
    assert issues(response)[0]["code"] == "not-supported"
    assert stored_nothing()


def test_plain_json_is_accepted(donor, client_for):
    body = example("research", patient=donor.citizen.pseudonym)
    response = post(client_for("citizen"), body, content_type="application/json")
    assert response.status_code == 201


def test_a_second_consent_of_a_kind_is_a_conflict(created, donor, client_for):
    response = post(client_for("citizen"), example("grantor", patient=donor.citizen.pseudonym))
    assert response.status_code == 409
    assert created["id"] in issues(response)[0]["diagnostics"]
    assert ConsentVersion.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# Sessions


def test_writes_need_the_csrf_token(donor):
    donor.citizen.set_password("a long test passphrase")
    donor.citizen.save(update_fields=["password"])
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("login"))
    signed_in = client.post(
        reverse("login"),
        {
            "username": donor.citizen.username,
            "password": "a long test passphrase",
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    assert signed_in.status_code == 302
    body = example("research", patient=donor.citizen.pseudonym)
    refused = post(client, body)
    assert refused.status_code == 403
    assert "CSRF" in issues(refused)[0]["diagnostics"]
    assert stored_nothing()
    token = client.cookies["csrftoken"].value  # rotated when signing in
    accepted = post(client, body, **{"X-CSRFToken": token})
    assert accepted.status_code == 201


def test_without_a_session_only_the_capabilities_answer(created, client):
    assert client.get("/fhir/metadata").status_code == 200
    for response in (
        client.get("/fhir/Consent"),
        client.get(f"/fhir/Consent/{created['id']}"),
        post(client, created),
    ):
        assert response.status_code == 403
        assert issues(response)[0]["code"] == "login"


def test_only_citizens_create(donor, client_for):
    body = example("research", patient=donor.citizen.pseudonym)
    for persona in ("researcher", "committee_chair", "node_operator", "hdab_admin"):
        response = post(client_for(persona), body)
        assert response.status_code == 403, persona
    assert stored_nothing()


# ---------------------------------------------------------------------------------------------
# Read, vread, history, update


def test_read_gives_the_current_version_with_its_etag(created, client_for):
    response = client_for("citizen").get(f"/fhir/Consent/{created['id']}")
    assert response.status_code == 200
    assert response["ETag"] == 'W/"1"'
    assert response.json() == created


def test_a_conditional_read_answers_304_until_the_consent_changes(created, client_for):
    client = client_for("citizen")
    path = f"/fhir/Consent/{created['id']}"
    first = client.get(path)
    unchanged = client.get(path, headers={"If-None-Match": first["ETag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged["ETag"] == 'W/"1"'
    since = client.get(path, headers={"If-Modified-Since": first["Last-Modified"]})
    assert since.status_code == 304
    version = client.get(f"{path}/_history/1", headers={"If-None-Match": 'W/"1"'})
    assert version.status_code == 304
    assert put(client, created["id"], _changed(created)).status_code == 200
    changed = client.get(path, headers={"If-None-Match": first["ETag"]})
    assert changed.status_code == 200 and changed["ETag"] == 'W/"2"'
    assert changed.json()["status"] == "inactive"


def test_head_answers_as_get_without_the_body_and_only_to_those_who_may_read(
    created, client_for, another_citizen
):
    path = f"/fhir/Consent/{created['id']}"
    head = client_for("citizen").head(path)
    assert head.status_code == 200 and head.content == b""
    assert head["ETag"] == 'W/"1"' and head["Content-Type"].startswith("application/fhir+json")
    other = Client()
    other.force_login(another_citizen)
    assert other.head(path).status_code == 404
    assert client_for("citizen").head("/fhir/metadata").status_code == 200
    refused = client_for("citizen").delete(path)
    assert refused.status_code == 405 and "HEAD" in refused["Allow"]


def _changed(resource):
    changed = copy.deepcopy(resource)
    changed["status"] = "inactive"
    return changed


def test_update_makes_a_new_version_and_keeps_the_old(created, client_for):
    client = client_for("citizen")
    response = put(client, created["id"], _changed(created), **{"If-Match": 'W/"1"'})
    assert response.status_code == 200, response.content
    assert response["ETag"] == 'W/"2"'
    assert response.json()["status"] == "inactive"
    assert response.json()["meta"]["versionId"] == "2"
    assert client.get(f"/fhir/Consent/{created['id']}").json()["status"] == "inactive"
    old = client.get(f"/fhir/Consent/{created['id']}/_history/1")
    assert old.status_code == 200 and old.json() == created and old["ETag"] == 'W/"1"'
    assert client.get(f"/fhir/Consent/{created['id']}/_history/3").status_code == 404
    assert AuditEvent.objects.filter(action="consent.resource.updated").count() == 1


def test_update_against_a_stale_version_is_refused_with_412(created, client_for):
    client = client_for("citizen")
    assert put(client, created["id"], _changed(created)).status_code == 200  # without If-Match
    response = put(client, created["id"], _changed(created), **{"If-Match": 'W/"1"'})
    assert response.status_code == 412
    assert issues(response)[0]["code"] == "conflict"
    assert ConsentVersion.objects.count() == 2


@pytest.mark.parametrize(
    ("change", "status", "where"),
    [
        (lambda r: r.update(id="another-id"), 400, "Consent.id"),
        (lambda r: r.pop("id"), 400, "Consent.id"),
        (lambda r: r.update(decision="permit"), 409, None),
        (lambda r: r.update(status="agreed"), 400, "Consent.status"),
    ],
)
def test_an_update_that_cannot_be_stored_leaves_the_consent_as_it_was(
    created, client_for, change, status, where
):
    body = copy.deepcopy(created)
    change(body)
    response = put(client_for("citizen"), created["id"], body)
    assert response.status_code == status
    if where:
        assert issues(response)[0]["expression"] == [where] or any(
            e.startswith(where) for i in issues(response) for e in i.get("expression", [])
        )
    assert ConsentVersion.objects.count() == 1
    assert not AuditEvent.objects.filter(action="consent.resource.updated").exists()


def test_update_does_not_create(donor, client_for):
    body = example("research", patient=donor.citizen.pseudonym)
    body["id"] = "no-such-consent"
    response = put(client_for("citizen"), "no-such-consent", body)
    assert response.status_code == 404
    assert stored_nothing()


def test_history_lists_the_versions_newest_first(created, client_for):
    client = client_for("citizen")
    put(client, created["id"], _changed(created))
    response = client.get(f"/fhir/Consent/{created['id']}/_history")
    assert response.status_code == 200
    bundle = response.json()
    Bundle.model_validate(bundle)
    assert bundle["type"] == "history" and bundle["total"] == 2
    assert [e["resource"]["meta"]["versionId"] for e in bundle["entry"]] == ["2", "1"]
    assert [e["request"]["method"] for e in bundle["entry"]] == ["PUT", "POST"]
    assert [e["response"]["etag"] for e in bundle["entry"]] == ['W/"2"', 'W/"1"']
    paged = client.get(f"/fhir/Consent/{created['id']}/_history?_count=1&_page=2").json()
    assert [e["resource"]["meta"]["versionId"] for e in paged["entry"]] == ["1"]
    assert {link["relation"] for link in paged["link"]} == {"self", "first", "previous", "last"}
    since = client.get(f"/fhir/Consent/{created['id']}/_history?_since=2999").json()
    assert since["total"] == 0 and "entry" not in since
    assert client.get(f"/fhir/Consent/{created['id']}/_history?_since=x").status_code == 400


# ---------------------------------------------------------------------------------------------
# Who sees what


ROUTES = ("", "/_history", "/_history/1")


@pytest.mark.parametrize("route", ROUTES)
def test_the_owner_the_access_body_and_the_linked_nodes_operators_read(created, client_for, route):
    for persona in ("citizen", "hdab_admin", "node_operator"):
        response = client_for(persona).get(f"/fhir/Consent/{created['id']}{route}")
        assert response.status_code == 200, persona
    for persona in ("outsider", "researcher", "committee_member", "committee_chair"):
        response = client_for(persona).get(f"/fhir/Consent/{created['id']}{route}")
        assert response.status_code == 404, persona
        assert issues(response)[0]["code"] == "not-found"


def test_an_operator_of_a_node_where_the_owner_linked_nothing_reads_nothing(
    created, donor, client_for
):
    donor.citizen.donor_links.all().delete()
    response = client_for("node_operator").get(f"/fhir/Consent/{created['id']}")
    assert response.status_code == 404


def test_another_citizen_neither_reads_nor_writes_it(created, another_citizen):
    client = Client()
    client.force_login(another_citizen)
    assert client.get(f"/fhir/Consent/{created['id']}").status_code == 404
    assert put(client, created["id"], _changed(created)).status_code == 404
    assert ConsentVersion.objects.count() == 1


def test_readers_who_are_not_the_owner_may_not_write(created, client_for):
    for persona in ("hdab_admin", "node_operator"):
        response = put(client_for(persona), created["id"], _changed(created))
        assert response.status_code == 403, persona
    assert ConsentVersion.objects.count() == 1


def test_reads_by_others_than_the_owner_are_in_the_audit_chain(created, client_for, personas):
    client_for("citizen").get(f"/fhir/Consent/{created['id']}")
    client_for("citizen").get("/fhir/Consent")
    assert not AuditEvent.objects.filter(action="consent.resource.read").exists()
    client_for("hdab_admin").get(f"/fhir/Consent/{created['id']}/_history/1")
    client_for("node_operator").get("/fhir/Consent?_count=5")
    events = AuditEvent.objects.filter(action="consent.resource.read").order_by("seq")
    assert [(e.actor_id, e.details["interaction"]) for e in events] == [
        (personas["hdab_admin"].pk, "vread"),
        (personas["node_operator"].pk, "search-type"),
    ]
    assert events[0].object_id == created["id"]
    assert events[1].details["consents"] == [created["id"]]


def test_a_body_over_the_size_limit_is_refused_unread_with_an_operation_outcome(
    donor, client_for, settings
):
    settings.REQUEST_BODY_MAX_BYTES = 1000
    body = example("research", patient=donor.citizen.pseudonym)
    body["text"] = {"status": "generated", "div": f"<div>{'x' * 2000}</div>"}
    response = post(client_for("citizen"), body)
    assert response.status_code == 413
    assert issues(response)[0]["code"] == "too-long"
    assert stored_nothing()
