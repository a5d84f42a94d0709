"""What nodes ask the portal with their own credentials: introspection (RFC 7662), the Orthanc
authorization plugin's validation call, the study map, and access reports; and the metadata
that tells them where these are."""

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from joserfc import jws
from joserfc.jwk import ECKey

from access import services
from access.models import AccessToken, NodeAccessEvent, NodeAccessReport
from access.node.studies import MAP_TYPE, StudyMap
from catalogue.models import Instance, Series, Study
from catalogue.services import dataset_create
from portal.models import AuditEvent
from tests.access.conftest import basic, verify_published
from tests.conftest import dataset_fields

STUDY = "1.2.826.0.1.3680043.8.498.1"  # in Oslo's published dataset
SERIES = "1.2.826.0.1.3680043.8.498.1.1"
INSTANCE = "1.2.826.0.1.3680043.8.498.1.1.1"
DRAFT_STUDY = "1.2.826.0.1.3680043.8.498.2"  # in Oslo's draft dataset
VALENCIA_STUDY = "1.2.826.0.1.3680043.8.498.3"


@pytest.fixture
def studies(catalogue):
    study = Study.objects.create(
        dataset=catalogue.published, study_instance_uid=STUDY, subject="SUBJ-0001"
    )
    series = Series.objects.create(study=study, series_instance_uid=SERIES, modality="MR")
    Instance.objects.create(series=series, sop_instance_uid=INSTANCE)
    Study.objects.create(dataset=catalogue.draft, study_instance_uid=DRAFT_STUDY, subject="S2")
    Study.objects.create(
        dataset=catalogue.other_published, study_instance_uid=VALENCIA_STUDY, subject="S3"
    )


@pytest.fixture
def token(permit, catalogue, personas):
    return services.token_issue(
        permit=permit, node=catalogue.own_node, actor=personas["researcher"]
    ).token


def _introspect(client, token, authorization=None):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    return client.post("/oauth/introspect", {"token": token}, **headers)


# --- Credentials ------------------------------------------------------------------------------


def test_every_node_endpoint_refuses_without_the_nodes_credentials(client, nodes, token, catalogue):
    wrong = basic(catalogue.own_node.audience, "not-the-secret")
    for authorization in [None, wrong, "Bearer " + token, "Basic !!!", nodes.oslo[:-4]]:
        headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
        for method, path, body in [
            ("post", "/oauth/introspect", {"token": token}),
            ("post", "/access/orthanc/validate", {}),
            ("get", f"/access/nodes/{catalogue.own_node.audience}/study-map", None),
            ("post", "/access/nodes/reports", {}),
        ]:
            answer = getattr(client, method)(path, body, **headers)
            assert answer.status_code == 401, (path, authorization)
            assert answer.json()["error"] == "invalid_client"
            assert answer["WWW-Authenticate"].startswith("Basic realm=")
            assert answer["Cache-Control"] == "no-store"


def test_a_new_secret_replaces_the_old_one_and_is_kept_only_hashed(client, nodes, catalogue, token):
    assert _introspect(client, token, nodes.oslo).status_code == 200
    secret = services.node_secret_issue(node=catalogue.own_node)
    stored = catalogue.own_node.credential
    stored.refresh_from_db()
    assert secret not in stored.secret_hash and stored.secret_hash.startswith("sha256$")
    assert _introspect(client, token, nodes.oslo).status_code == 401
    assert _introspect(client, token, basic(catalogue.own_node.audience, secret)).status_code == 200
    assert AuditEvent.objects.filter(action="access.node.secret_issued").count() == 3


def test_a_client_id_sent_without_form_encoding_is_read_too(client, catalogue, token):
    import base64

    secret = services.node_secret_issue(node=catalogue.own_node)
    raw = base64.b64encode(f"{catalogue.own_node.audience}:{secret}".encode()).decode()
    assert _introspect(client, token, "Basic " + raw).json()["active"] is True


# --- Introspection ----------------------------------------------------------------------------


def test_introspection_describes_an_active_token_to_its_node(
    client, nodes, token, permit, settings
):
    answer = _introspect(client, token, nodes.oslo)
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    body = answer.json()
    assert body["active"] is True
    assert body["aud"] == "urn:ecii:node:oslo" and body["iss"] == settings.SITE_URL
    assert body["permit"] == permit.number and body["scope"] == "dicomweb.read"
    assert body["client_id"] == "ecii-portal" and body["exp"] > time.time()
    assert {"sub", "iat", "nbf", "jti", "datasets"} <= set(body)


def test_introspection_answers_inactive_for_another_nodes_token(client, nodes, token):
    assert _introspect(client, token, nodes.valencia).json() == {"active": False}


@pytest.mark.parametrize(
    "spoil",
    [
        lambda t: t[:-6] + ("AAAAAA" if not t.endswith("AAAAAA") else "BBBBBB"),  # signature
        lambda t: "not a token",
        lambda t: t.split(".")[0] + ".e30." + t.split(".")[2],  # another payload
    ],
)
def test_introspection_answers_inactive_for_a_tampered_token(client, nodes, token, spoil):
    assert _introspect(client, spoil(token), nodes.oslo).json() == {"active": False}


def test_introspection_answers_inactive_while_suspended_and_once_revoked(
    client, nodes, token, permit, personas
):
    chair = personas["committee_chair"]
    services.permit_change(permit=permit, actor=chair, change="suspend", reason="Audit")
    assert _introspect(client, token, nodes.oslo).json() == {"active": False}
    services.permit_change(permit=permit, actor=chair, change="reactivate")
    assert _introspect(client, token, nodes.oslo).json()["active"] is True
    services.token_revoke(token=AccessToken.objects.get(), actor=chair)
    assert _introspect(client, token, nodes.oslo).json() == {"active": False}


def test_introspection_answers_inactive_for_an_expired_token(client, nodes, permit, catalogue,
                                                             personas, monkeypatch):  # fmt: skip
    issued = services.token_issue(
        permit=permit, node=catalogue.own_node, actor=personas["researcher"], lifetime=60
    )
    later = timezone.now() + timedelta(seconds=61)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert _introspect(client, issued.token, nodes.oslo).json() == {"active": False}


def test_introspection_needs_the_token_field(client, nodes):
    answer = client.post("/oauth/introspect", {}, HTTP_AUTHORIZATION=nodes.oslo)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


# --- The Orthanc authorization plugin's validation call ---------------------------------------


def _validate(client, authorization, token, **body):
    request = {
        "method": "get",
        "level": "study",
        "dicom-uid": STUDY,
        "orthanc-id": "6e2c0ec2-5d99c8ca-c1c21cee-79a09605-68391d12",
        "token-key": "authorization",
        "token-value": f"Bearer {token}",
        **body,
    }
    return client.post(
        "/access/orthanc/validate",
        json.dumps(request),
        content_type="application/json",
        HTTP_AUTHORIZATION=authorization,
    )


def test_it_grants_the_permitted_study_for_no_longer_than_the_token_and_the_list_allow(
    client, nodes, token, studies, settings
):
    for level, uid in [("study", STUDY), ("series", SERIES), ("instance", INSTANCE)]:
        answer = _validate(client, nodes.oslo, token, level=level, **{"dicom-uid": uid})
        assert answer.status_code == 200
        assert answer.json() == {"granted": True, "validity": settings.STATUS_LIST_TTL}


def test_it_refuses_a_withdrawn_subjects_study_at_every_level(
    client, nodes, token, studies, catalogue, personas, settings
):
    from catalogue import duo
    from consent import services as consent_services
    from portal.models import Role
    from tests.factories import UserFactory

    citizen = UserFactory(username="donor", roles=[Role.CITIZEN])
    _link, code = consent_services.link_code_issue(
        node=catalogue.own_node, subject="SUBJ-0001", actor=personas["node_operator"]
    )
    consent_services.link_code_redeem(citizen=citizen, code=code)
    donation = consent_services.donation_create(
        citizen=citizen,
        nodes=[catalogue.own_node],
        categories=["imaging"],
        purposes=["research"],
        duo_codes=[duo.HMB],
    )
    assert _validate(client, nodes.oslo, token).json()["granted"] is True
    consent_services.donation_withdraw(record=donation.record, citizen=citizen)
    for level, uid in [("study", STUDY), ("series", SERIES), ("instance", INSTANCE)]:
        answer = _validate(client, nodes.oslo, token, level=level, **{"dicom-uid": uid})
        assert answer.json() == {"granted": False, "validity": settings.STATUS_LIST_TTL}


def test_validity_is_what_is_left_of_the_token_when_that_is_shorter(
    client, nodes, permit, catalogue, personas, studies, settings, monkeypatch
):
    issued = services.token_issue(
        permit=permit, node=catalogue.own_node, actor=personas["researcher"], lifetime=60
    )
    for left, expected in [(45.5, 45), (1.5, 1)]:
        moment = issued.claims.exp - left
        monkeypatch.setattr(timezone, "now", lambda m=moment: datetime.fromtimestamp(m, tz=UTC))
        settings.STATUS_LIST_TTL = 60
        assert _validate(client, nodes.oslo, issued.token).json() == {
            "granted": True, "validity": expected
        }  # fmt: skip
    # Less than a second left: refused, never "validity": 0 (which the plugin keeps for ever).
    moment = issued.claims.exp - 0.5
    monkeypatch.setattr(timezone, "now", lambda: datetime.fromtimestamp(moment, tz=UTC))
    answer = _validate(client, nodes.oslo, issued.token).json()
    assert answer["granted"] is False and answer["validity"] >= 1


@pytest.mark.parametrize(
    "body",
    [
        {"dicom-uid": VALENCIA_STUDY},  # another dataset's study (at another node)
        {"dicom-uid": DRAFT_STUDY},  # a dataset the permit does not grant
        {"dicom-uid": "1.2.3.4.5"},  # unknown
        {"level": "patient", "dicom-uid": "SUBJ-0001"},
        {"level": "system", "uri": "/dicom-web/studies", "dicom-uid": None},  # a search
        {"method": "delete"},
        {"method": "post"},
        {"token-value": "Bearer not-a-token"},
        {"token-value": ""},
    ],
)
def test_it_refuses_everything_else_for_a_while_but_never_for_ever(
    client, nodes, token, studies, settings, body
):
    answer = _validate(client, nodes.oslo, token, **body)
    assert answer.status_code == 200
    assert answer.json() == {"granted": False, "validity": settings.STATUS_LIST_TTL}


def test_it_refuses_another_nodes_token_and_a_revoked_one(
    client, nodes, token, studies, personas, permit
):
    assert _validate(client, nodes.valencia, token).json()["granted"] is False
    assert _validate(client, nodes.oslo, token).json()["granted"] is True
    services.token_revoke(token=permit.tokens.get(), actor=personas["researcher"])
    assert _validate(client, nodes.oslo, token).json()["granted"] is False


def test_it_answers_400_to_a_body_that_is_not_json(client, nodes):
    answer = client.post(
        "/access/orthanc/validate", "{", content_type="application/json",
        HTTP_AUTHORIZATION=nodes.oslo,
    )  # fmt: skip
    assert answer.status_code == 400


# --- The study map ----------------------------------------------------------------------------


def test_a_node_gets_its_signed_study_map(client, nodes, studies, catalogue, settings):
    node = catalogue.own_node
    answer = client.get(f"/access/nodes/{node.audience}/study-map", HTTP_AUTHORIZATION=nodes.oslo)
    assert answer.status_code == 200 and answer["Content-Type"] == f"application/{MAP_TYPE}"
    claims = verify_published(answer.content.decode(), MAP_TYPE, client)
    assert claims["aud"] == node.audience and claims["iss"] == settings.SITE_URL
    assert claims["sub"] == f"{settings.SITE_URL}/access/nodes/{node.audience}/study-map"
    assert claims["ttl"] == settings.STUDY_MAP_TTL
    assert claims["exp"] == claims["iat"] + settings.STUDY_MAP_LIFETIME
    study_map = StudyMap.from_claims(claims)
    assert study_map.node == node.audience
    assert [e.dataset for e in study_map.entries(STUDY)] == [str(catalogue.published.identifier)]
    assert study_map.studies[STUDY].subject == "SUBJ-0001"
    assert study_map.entries(DRAFT_STUDY) == ()  # not published
    assert study_map.entries(VALENCIA_STUDY) == ()  # another node's
    by_id = client.get(f"/access/nodes/{node.pk}/study-map", HTTP_AUTHORIZATION=nodes.oslo)
    assert by_id.status_code == 200


def test_a_study_in_two_published_datasets_of_a_node_keeps_both_in_its_map(
    client, nodes, studies, catalogue
):
    node = catalogue.own_node
    second = dataset_create(node=node, actor=None, status="published", **dataset_fields())
    Study.objects.create(dataset=second, study_instance_uid=STUDY, subject="SUBJ-0001")
    answer = client.get(f"/access/nodes/{node.audience}/study-map", HTTP_AUTHORIZATION=nodes.oslo)
    study_map = StudyMap.from_claims(verify_published(answer.content.decode(), MAP_TYPE, client))
    assert {e.dataset for e in study_map.entries(STUDY)} == {
        str(catalogue.published.identifier),
        str(second.identifier),
    }


def test_a_node_cannot_read_another_nodes_study_map(client, nodes, studies, catalogue):
    other = catalogue.other_node
    answer = client.get(f"/access/nodes/{other.audience}/study-map", HTTP_AUTHORIZATION=nodes.oslo)
    assert answer.status_code == 404


# --- Access reports ---------------------------------------------------------------------------


def _batch(key, *, node="urn:ecii:node:oslo", events=None, jti=None, typ="accessreport+jwt"):
    claims = {
        "iss": node,
        "iat": int(time.time()),
        "jti": jti or uuid.uuid4().hex,
        "events": events
        if events is not None
        else [
            {
                "jti": None,
                "study": STUDY,
                "time": int(time.time()),
                "decision": "refused",
                "reason": "missing_token",
            },
        ],
    }
    header = {"alg": "ES256", "kid": key["kid"], "typ": typ}
    private = ECKey.import_key({k: v for k, v in key.items() if k != "kid"})
    return jws.serialize_compact(header, json.dumps(claims).encode(), private, ["ES256"]), claims


def _send(client, authorization, document):
    return client.post(
        "/access/nodes/reports", document, content_type="application/accessreport+jwt",
        HTTP_AUTHORIZATION=authorization,
    )  # fmt: skip


def test_a_node_reports_what_it_served_once_per_batch(client, nodes, token, permit):
    jti = permit.tokens.get().jti
    now = int(time.time())
    events = [
        {"jti": jti, "study": STUDY, "time": now, "decision": "allowed", "reason": None},
        {"jti": jti, "study": VALENCIA_STUDY, "time": now, "decision": "refused",
         "reason": "study_not_permitted"},
        {"jti": None, "study": None, "time": now, "decision": "refused", "reason": "malformed"},
    ]  # fmt: skip
    document, claims = _batch(nodes.oslo_key, events=events)
    answer = _send(client, nodes.oslo, document)
    assert answer.status_code == 200
    assert answer.json() == {"batch": claims["jti"], "events": 3, "stored": True}
    stored = list(NodeAccessEvent.objects.order_by("pk"))
    assert [(e.decision, e.reason, e.study_instance_uid) for e in stored] == [
        ("allowed", "", STUDY),
        ("refused", "study_not_permitted", VALENCIA_STUDY),
        ("refused", "malformed", ""),
    ]
    assert stored[0].token == permit.tokens.get() and stored[2].token is None
    assert AuditEvent.objects.filter(action="access.node.report_received").count() == 1
    # Sent again (the node retries): stored once.
    again = _send(client, nodes.oslo, document)
    assert again.status_code == 200 and again.json()["stored"] is False
    assert NodeAccessEvent.objects.count() == 3 and NodeAccessReport.objects.count() == 1
    assert AuditEvent.objects.filter(action="access.node.report_received").count() == 1


def test_it_refuses_a_batch_not_signed_by_the_node_or_not_from_it(client, nodes, catalogue):
    stranger = {**ECKey.generate_key("P-256", private=True).as_dict(private=True),
                "kid": "oslo-report-key"}  # fmt: skip
    refused = [
        _batch(stranger)[0],  # the node's kid, another key
        _batch(nodes.oslo_key, node="urn:ecii:node:valencia")[0],  # claims to be another node
        _batch(nodes.oslo_key, typ="at+jwt")[0],
        _batch(nodes.oslo_key, events=[])[0],
        _batch(
            nodes.oslo_key,
            events=[
                {
                    "jti": None,
                    "study": "not a uid",
                    "time": 1,
                    "decision": "allowed",
                    "reason": None,
                }
            ],
        )[0],
        "not a jwt",
    ]
    for document in refused:
        answer = _send(client, nodes.oslo, document)
        assert answer.status_code == 400, document
        assert answer.json()["error"] == "invalid_request"
    assert not NodeAccessReport.objects.exists()


def test_a_batch_waits_while_the_node_has_no_registered_key(client, nodes, catalogue):
    document, _claims = _batch(nodes.oslo_key, node="urn:ecii:node:valencia")
    answer = _send(client, nodes.valencia, document)
    assert answer.status_code == 409  # the node keeps it and sends it again later
    assert not NodeAccessReport.objects.exists()


def test_a_batch_signed_with_a_rotated_key_waits_until_that_key_is_registered(
    client, nodes, catalogue
):
    rotated = ECKey.generate_key("P-256", private=True, auto_kid=True).as_dict(private=True)
    document, claims = _batch(rotated)
    answer = _send(client, nodes.oslo, document)
    assert answer.status_code == 409  # not 400: the node keeps it and sends it again
    assert rotated["kid"] in answer.json()["error_description"]
    assert not NodeAccessReport.objects.exists()
    public = {k: v for k, v in rotated.items() if k != "d"}
    services.node_key_register(node=catalogue.own_node, jwk=public)
    again = _send(client, nodes.oslo, document)
    assert again.status_code == 200 and again.json()["batch"] == claims["jti"]
    old = _send(client, nodes.oslo, _batch(nodes.oslo_key)[0])
    assert old.status_code == 409  # a batch of the old key, once the new one is registered


def test_a_private_key_is_never_registered(catalogue):
    private = ECKey.generate_key("P-256", private=True).as_dict(private=True)
    with pytest.raises(services.InvalidTransition, match="without its private part"):
        services.node_key_register(node=catalogue.own_node, jwk=private)
    with pytest.raises(services.InvalidTransition, match="P-256"):
        services.node_key_register(
            node=catalogue.own_node, jwk={"kty": "RSA", "n": "x", "e": "AQAB"}
        )


# --- Metadata ---------------------------------------------------------------------------------


def test_the_metadata_says_where_everything_is(client, db, settings):
    answer = client.get("/.well-known/oauth-authorization-server")
    assert answer.status_code == 200 and answer["Cache-Control"].startswith("public")
    metadata = answer.json()
    assert metadata["issuer"] == settings.SITE_URL
    assert metadata["jwks_uri"] == settings.SITE_URL + "/.well-known/jwks.json"
    assert metadata["introspection_endpoint"] == settings.SITE_URL + "/oauth/introspect"
    assert metadata["introspection_endpoint_auth_methods_supported"] == ["client_secret_basic"]
    assert metadata["scopes_supported"] == ["dicomweb.read"]
