"""Access tokens through the API: issuing with every refusal as problem details, the lists, and
revoking."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access import services
from access.models import AccessToken, Permit
from portal.api_errors import PROBLEM_JSON
from tests.access.conftest import token_claims


def _post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def _issue(client, permit, **body):
    return _post(client, f"/api/access/permits/{permit.pk}/tokens/", {"node": "oslo", **body})


def _problem(answer, status: int) -> dict:
    assert answer.status_code == status, answer.content
    assert answer["Content-Type"] == PROBLEM_JSON
    return answer.json()


def test_it_issues_a_token_for_a_node_named_by_slug_or_audience(permit, client_for, catalogue):
    researcher = client_for("researcher")
    answer = _issue(researcher, permit)
    assert answer.status_code == 201 and answer["Cache-Control"] == "no-store"
    body = answer.json()
    claims = token_claims(body["token"])
    assert body["token_type"] == "Bearer" and 3590 <= body["expires_in"] <= 3600
    assert body["jti"] == claims.jti and body["permit"] == permit.number
    assert body["node"]["audience"] == claims.aud == "urn:ecii:node:oslo"
    assert body["node"]["dicomweb_base_url"] == catalogue.own_node.dicomweb_base_url
    assert body["datasets"] == [str(catalogue.published.identifier)]
    assert body["status"] == "valid" and body["revoked_at"] is None
    by_audience = _issue(researcher, permit, node="urn:ecii:node:oslo", lifetime=300)
    assert by_audience.status_code == 201 and by_audience.json()["expires_in"] <= 300


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"node": "nowhere"}, "node"),
        ({"lifetime": 10}, "lifetime"),
        ({"lifetime": 3601}, "lifetime"),
        ({"lifetim": 60}, "lifetim"),  # misspelt: not the longest token by default
    ],
)
def test_it_refuses_bad_input(permit, client_for, body, field):
    problem = _problem(_issue(client_for("researcher"), permit, **body), 400)
    assert field in problem["errors"]
    assert not AccessToken.objects.exists()


def test_it_says_why_a_token_is_refused(permit, client_for, personas):
    researcher = client_for("researcher")
    problem = _problem(_issue(researcher, permit, node="valencia"), 400)
    assert problem["errors"]["node"] == [
        f"Permit {permit.number} grants no dataset at Valencia imaging node."
    ]
    problem = _problem(_issue(client_for("committee_chair"), permit), 403)
    assert "issued only to the people it authorises" in problem["detail"]
    services.permit_change(
        permit=permit, actor=personas["committee_chair"], change="suspend", reason="Audit"
    )
    problem = _problem(_issue(researcher, permit), 409)
    assert f"Permit {permit.number} is suspended" in problem["detail"]
    services.permit_change(permit=permit, actor=personas["committee_chair"], change="reactivate")
    Permit.objects.filter(pk=permit.pk).update(ends_on=timezone.localdate() - timedelta(days=1))
    problem = _problem(_issue(researcher, permit), 409)
    assert "ended on" in problem["detail"]
    assert _issue(client_for("outsider"), permit).status_code == 404
    assert _issue(client_for("anonymous"), permit).status_code == 403
    assert not AccessToken.objects.exists()


def test_it_answers_503_while_the_portal_has_no_signing_key(permit, client_for, settings):
    settings.SIGNING_KEYS_AUTO_CREATE = False
    problem = _problem(_issue(client_for("researcher"), permit), 503)
    assert "signing_keys create" in problem["detail"]


def test_it_lists_a_permits_tokens_to_who_may_see_them(permit, client_for, personas):
    member = personas["other_researcher"]
    permit.authorised_persons.add(member)
    _issue(client_for("researcher"), permit)
    _issue(client_for("other_researcher"), permit)

    def holders(persona):
        answer = client_for(persona).get(f"/api/access/permits/{permit.pk}/tokens/")
        assert answer.status_code == 200
        return sorted(t["holder"]["pseudonym"] for t in answer.json()["results"])

    both = sorted([personas["researcher"].pseudonym, member.pseudonym])
    assert holders("researcher") == both  # the permit's holder
    assert holders("committee_member") == both  # the issuing committee
    assert holders("hdab_admin") == both
    assert holders("other_researcher") == [member.pseudonym]  # their own


def test_it_lists_tokens_in_a_bounded_number_of_queries(permit, client_for, catalogue, personas):
    client = client_for("committee_chair")
    url = f"/api/access/permits/{permit.pk}/tokens/"

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    services.token_issue(permit=permit, node=catalogue.own_node, actor=personas["researcher"])
    few = count()
    for _ in range(20):
        services.token_issue(permit=permit, node=catalogue.own_node, actor=personas["researcher"])
    assert count() == few


def test_one_token_is_read_in_one_query_after_the_session(permit, client_for, personas):
    client = client_for("researcher")
    issued = _issue(client, permit).json()
    url = f"/api/access/tokens/{issued['id']}/"
    client.get(url)  # the session and the user are read as on any signed-in request

    with CaptureQueriesContext(connection) as queries:
        answer = client.get(url)
    assert answer.status_code == 200
    assert answer.json()["jti"] == issued["jti"] and answer.json()["permit"] == permit.number
    token_queries = [q for q in queries if "access_accesstoken" in q["sql"]]
    assert len(token_queries) == 1, [q["sql"][:80] for q in queries]


def test_it_revokes_a_token_and_shows_what_became_of_it(permit, client_for, personas):
    researcher = client_for("researcher")
    token_id = _issue(researcher, permit).json()["id"]
    path = f"/api/access/tokens/{token_id}/"
    assert researcher.get(path).json()["status"] == "valid"
    services.permit_change(
        permit=permit, actor=personas["committee_chair"], change="suspend", reason="Audit"
    )
    assert researcher.get(path).json()["status"] == "suspended"
    assert _post(client_for("committee_member"), path + "revoke/", {}).status_code == 404
    answer = _post(client_for("committee_chair"), path + "revoke/", {"reason": "Leaked"})
    assert answer.status_code == 200
    assert answer.json()["status"] == "revoked" and answer.json()["revoke_reason"] == "Leaked"
    problem = _problem(_post(researcher, path + "revoke/", {}), 409)
    assert "revoked already" in problem["detail"]
    AccessToken.objects.filter(pk=token_id).update(
        revoked_at=None, expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert researcher.get(path).json()["status"] == "expired"
    assert client_for("outsider").get(path).status_code == 404
