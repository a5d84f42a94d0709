"""Connecting a node on the portal's pages: its operators (and the access body) make the node's
secret, shown once, register its report-signing key, and copy its gatekeeper's configuration;
nobody else reaches the page."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from joserfc.jwk import ECKey

from access.models import NodeCredential
from portal.models import AuditEvent
from tests.access.conftest import basic


@pytest.fixture
def page(catalogue):
    return f"/access/node-connections/{catalogue.own_node.pk}/"


def _introspect(client, secret, node):
    return client.post(
        "/oauth/introspect", {"token": "x"}, HTTP_AUTHORIZATION=basic(node.audience, secret)
    )


def test_an_operator_makes_the_nodes_secret_shown_once_and_the_old_one_stops(
    catalogue, client_for, client, page
):
    operator = client_for("node_operator")
    node = catalogue.own_node
    refused = operator.post(page, {"action": "secret"})  # the box is not ticked
    assert refused.status_code == 200 and b"Tick the box" in refused.content
    assert not NodeCredential.objects.filter(node=node, secret_hash__gt="").exists()
    made = operator.post(page, {"action": "secret", "confirm": "on"})
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    first = made.context["new_secret"]
    assert first in made.content.decode()
    assert _introspect(client, first, node).status_code == 200
    again = operator.get(page)
    assert first not in again.content.decode()  # shown only once
    second = operator.post(page, {"action": "secret", "confirm": "on"}).context["new_secret"]
    assert second != first
    assert _introspect(client, first, node).status_code == 401
    assert _introspect(client, second, node).status_code == 200
    events = AuditEvent.objects.filter(action="access.node.secret_issued")
    assert events.count() == 2 and {e.actor.username for e in events} == {"node_operator"}
    assert first not in str(list(events.values_list("details", flat=True)))


def test_an_operator_registers_the_nodes_public_key_and_a_private_one_is_refused(
    catalogue, client_for, page
):
    operator = client_for("node_operator")
    key = ECKey.generate_key("P-256", private=True)
    for wrong, says in (
        ("not json", "This is not JSON"),
        ("[1, 2]", "A key is a JSON object"),
        (json.dumps({**key.as_dict(private=True), "kid": "k"}), "without its private part"),
        (json.dumps({"kty": "RSA", "n": "AQAB", "e": "AQAB"}), "P-256"),
    ):
        answer = operator.post(page, {"action": "key", "jwk": wrong})
        assert answer.status_code == 200 and says in answer.content.decode(), wrong
    assert not NodeCredential.objects.filter(
        node=catalogue.own_node, public_jwk__isnull=False
    ).exists()
    public = json.dumps({**key.as_dict(private=False), "kid": "oslo-report-2026"})
    done = operator.post(page, {"action": "key", "jwk": public}, follow=True)
    assert done.status_code == 200 and b"oslo-report-2026" in done.content
    credential = NodeCredential.objects.get(node=catalogue.own_node)
    assert credential.public_jwk["kid"] == "oslo-report-2026" and "d" not in credential.public_jwk
    assert AuditEvent.objects.filter(action="access.node.key_registered").count() == 1


def test_the_page_fills_in_the_gatekeepers_portal_and_node_sections(
    catalogue, client_for, page, settings
):
    text = client_for("node_operator").get(page).content.decode()
    node = catalogue.own_node
    assert f"issuer = &quot;{settings.SITE_URL}&quot;" in text
    assert f"{settings.SITE_URL}/.well-known/jwks.json" in text
    assert f"{settings.SITE_URL}/access/nodes/{node.audience}/study-map" in text
    assert f"{settings.SITE_URL}/access/nodes/reports" in text
    assert f"audience = &quot;{node.audience}&quot;" in text


def test_only_the_nodes_operators_and_the_access_body_reach_it(catalogue, client_for, page):
    other = f"/access/node-connections/{catalogue.other_node.pk}/"
    assert client_for("node_operator").get(other).status_code == 404  # not their node
    assert (
        client_for("node_operator").post(other, {"action": "secret", "confirm": "on"}).status_code
        == 404
    )
    assert client_for("hdab_admin").get(other).status_code == 200
    for persona in ("researcher", "citizen", "committee_chair"):
        assert client_for(persona).get(page).status_code == 404, persona
    assert client_for("anonymous").get(page).status_code == 302  # to the login page
    assert not NodeCredential.objects.filter(node=catalogue.other_node).exists()


def test_the_list_shows_each_nodes_state_in_bounded_queries(catalogue, client_for, nodes):
    admin = client_for("hdab_admin")
    with CaptureQueriesContext(connection) as queries:
        answer = admin.get("/access/node-connections/")
    assert answer.status_code == 200
    assert len(queries) <= 6  # session, user, roles, the nodes with their credentials
    text = answer.content.decode()
    assert "oslo-report-key" in text and catalogue.other_node.audience in text
    mine = client_for("node_operator").get("/access/node-connections/").content.decode()
    assert catalogue.own_node.name in mine and catalogue.other_node.name not in mine
