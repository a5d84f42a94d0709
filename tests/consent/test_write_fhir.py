"""Consents written by clients (what the FHIR API's create and update call): consents written
to the R5 specification are kept as written and read back unchanged; anything invalid is
refused with its issues and leaves no record, no version and no audit event behind."""

import copy

import pytest
from fhir.resources.consent import Consent

from consent import fhir, services
from consent.models import ConsentRecord, ConsentVersion
from consent.terms import NODE_SYSTEM
from portal.models import AuditEvent, Role
from portal.workflow import NotPermitted
from tests.consent.r5_examples import EXAMPLES, example
from tests.factories import UserFactory

SERVER_SET = {"id", "meta"}


@pytest.fixture
def citizen(db):
    return UserFactory(roles=[Role.CITIZEN])


def stored_nothing():
    return (
        not ConsentRecord.objects.exists()
        and not ConsentVersion.objects.exists()
        and not AuditEvent.objects.filter(action__startswith="consent.").exists()
    )


def without_server_elements(resource):
    resource = copy.deepcopy(resource)
    meta = resource.pop("meta", {})
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    resource.pop("id", None)
    return resource, meta


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_consent_written_to_the_specification_round_trips(citizen, name):
    written = example(name, patient=citizen.pseudonym)
    version = services.consent_write_fhir(resource=written, actor=citizen)
    stored = ConsentVersion.objects.get(pk=version.pk).resource
    assert stored["id"] == version.record_id  # the server names what it creates
    assert stored["meta"]["versionId"] == "1"
    assert without_server_elements(stored) == without_server_elements(written)
    assert Consent.model_validate(stored).id == version.record_id
    assert version.record.kind == ("donation" if written["decision"] == "permit" else "opt_out")
    event = AuditEvent.objects.get(action="consent.resource.created")
    assert event.object_id == version.record_id


def test_an_update_is_a_new_version_kept_as_written(citizen):
    created = services.consent_write_fhir(
        resource=example("research", patient=citizen.pseudonym), actor=citizen
    )
    changed = copy.deepcopy(created.resource)
    changed["provision"][0]["provision"].pop()
    changed["meta"] = {"tag": changed["meta"]["tag"], "versionId": "1"}
    updated = services.consent_write_fhir(
        resource=changed, actor=citizen, record=created.record, if_match=1
    )
    assert updated.version == 2
    assert len(updated.resource["provision"][0]["provision"]) == 1
    assert updated.resource["meta"]["tag"] == created.resource["meta"]["tag"]
    assert ConsentVersion.objects.get(record=created.record, version=1).resource == (
        created.resource
    )
    assert AuditEvent.objects.filter(action="consent.resource.updated").count() == 1


def test_an_update_against_an_older_version_or_changing_the_decision_is_refused(citizen):
    created = services.consent_write_fhir(
        resource=example("research", patient=citizen.pseudonym), actor=citizen
    )
    resource = created.resource
    services.consent_write_fhir(resource=resource, actor=citizen, record=created.record)
    with pytest.raises(services.ConsentConflict) as stale:
        services.consent_write_fhir(
            resource=resource, actor=citizen, record=created.record, if_match=1
        )
    assert stale.value.code == "version"
    with pytest.raises(services.ConsentConflict):
        services.consent_write_fhir(
            resource={**resource, "decision": "permit"}, actor=citizen, record=created.record
        )
    with pytest.raises(services.InvalidConsent) as other_id:
        services.consent_write_fhir(
            resource={**resource, "id": "another"}, actor=citizen, record=created.record
        )
    assert [i.expression for i in other_id.value.issues] == ["Consent.id"]
    assert ConsentVersion.objects.filter(record=created.record).count() == 2


def test_a_second_consent_of_a_kind_is_refused(citizen):
    services.consent_write_fhir(
        resource=example("opt-out", patient=citizen.pseudonym), actor=citizen
    )
    with pytest.raises(services.ConsentConflict) as refused:
        services.consent_write_fhir(
            resource=example("grantor", patient=citizen.pseudonym), actor=citizen
        )
    assert refused.value.code == "duplicate"
    assert ConsentRecord.objects.count() == 1


def _broken(citizen, change):
    resource = example("not-this", patient=citizen.pseudonym)
    change(resource)
    return resource


INVALID = {
    "R4 status": lambda r: r.update(status="proposed"),
    "no decision": lambda r: r.pop("decision"),
    "period ends first": lambda r: r.update(period={"start": "2026", "end": "2025"}),
    "unknown element": lambda r: r.update(scope={"text": "R4's scope"}),
    "empty array": lambda r: r.update(category=[]),
    "unknown purpose": lambda r: r["provision"][0].update(
        purpose=[{"system": "urn:ecii:codesystem:ehds-purpose", "code": "marketing"}]
    ),
    # Valid FHIR, but naming a node the portal does not have: only the database can tell.
    "unknown node": lambda r: r["provision"][0].update(
        actor=[
            {
                "role": {"text": "custodian"},
                "reference": {"identifier": {"system": NODE_SYSTEM, "value": "urn:nowhere"}},
            }
        ]
    ),
}


@pytest.mark.parametrize("problem", sorted(INVALID))
def test_an_invalid_consent_stores_nothing(citizen, catalogue, problem):
    with pytest.raises(services.InvalidConsent) as refused:
        services.consent_write_fhir(resource=_broken(citizen, INVALID[problem]), actor=citizen)
    assert refused.value.issues
    outcome = fhir.operation_outcome(refused.value.issues)
    assert all(issue["expression"][0].startswith("Consent") for issue in outcome["issue"])
    assert stored_nothing()


def test_an_invalid_update_stores_nothing(citizen):
    created = services.consent_write_fhir(
        resource=example("not-this", patient=citizen.pseudonym), actor=citizen
    )
    events = AuditEvent.objects.count()
    with pytest.raises(services.InvalidConsent):
        services.consent_write_fhir(
            resource={**created.resource, "status": "rejected"},
            actor=citizen,
            record=created.record,
        )
    record = ConsentRecord.objects.get(pk=created.record_id)
    assert record.current_version == 1
    assert ConsentVersion.objects.filter(record=record).count() == 1
    assert AuditEvent.objects.count() == events


def test_nobody_writes_a_consent_for_someone_else(citizen, personas):
    other = personas["citizen"]
    with pytest.raises(NotPermitted):
        services.consent_write_fhir(
            resource=example("opt-out", patient=other.pseudonym), actor=citizen
        )
    with pytest.raises(NotPermitted):  # nor for themselves without being a citizen
        services.consent_write_fhir(
            resource=example("opt-out", patient=personas["researcher"].pseudonym),
            actor=personas["researcher"],
        )
    created = services.consent_write_fhir(
        resource=example("opt-out", patient=other.pseudonym), actor=other
    )
    with pytest.raises(NotPermitted):
        services.consent_write_fhir(resource=created.resource, actor=citizen, record=created.record)
    moved = {**created.resource, "subject": {"reference": f"Patient/{citizen.pseudonym}"}}
    with pytest.raises(NotPermitted):
        services.consent_write_fhir(resource=moved, actor=citizen, record=created.record)
    assert ConsentVersion.objects.count() == 1
