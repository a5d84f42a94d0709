"""Helpers for the FHIR API's tests: requests with FHIR JSON bodies, and what the answers say."""

import json

from consent.models import ConsentRecord, ConsentVersion
from portal.models import AuditEvent

FHIR_JSON = "application/fhir+json"
CONTENT_TYPE = "application/fhir+json; fhirVersion=5.0"


def post(client, body, *, content_type=FHIR_JSON, path="/fhir/Consent", **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type, headers=headers)


def put(client, consent_id, body, *, content_type=FHIR_JSON, **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.put(
        f"/fhir/Consent/{consent_id}", data=data, content_type=content_type, headers=headers
    )


def issues(response):
    """The OperationOutcome's issues, after checking that the answer is one."""
    assert response["Content-Type"] == CONTENT_TYPE
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"]


def stored_nothing():
    return (
        not ConsentRecord.objects.exists()
        and not ConsentVersion.objects.exists()
        and not AuditEvent.objects.filter(action__startswith="consent.resource").exists()
    )
