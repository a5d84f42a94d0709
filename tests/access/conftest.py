"""What the access token tests share: a permit to issue tokens under, the portal's published keys
read as a node reads them, and a node's credentials."""

import base64
import json
from types import SimpleNamespace

import pytest
from django.test import Client
from joserfc import jws
from joserfc.jwk import ECKey, KeySet

from access import services
from access.models import Permit
from access.node.claims import ALGORITHMS, TOKEN_TYPE, AccessClaims


@pytest.fixture
def permit(access, personas):
    """An active Oslo permit held by ``researcher`` (its only authorised person) for the Oslo
    node's published dataset; the same application's Valencia permit is ``permit.other``."""
    application = access.new_application("Token study", submit=True)
    for review in application.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    oslo = Permit.objects.get(application=application, review__committee=access.oslo)
    oslo.other = Permit.objects.get(application=application, review__committee=access.valencia)
    return oslo


def header_of(token: str) -> dict:
    segment = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def published_keys(client: Client | None = None) -> KeySet:
    """The portal's JWKS, fetched from /.well-known/jwks.json as a node fetches it."""
    answer = (client or Client()).get("/.well-known/jwks.json")
    assert answer.status_code == 200
    return KeySet.import_key_set(answer.json())


def verify_published(token: str, typ: str = TOKEN_TYPE, client: Client | None = None) -> dict:
    """The claims of ``token`` checked with joserfc against the published JWKS: its header is
    exactly ``alg``, ``kid`` and ``typ``, the algorithm is on the node's allow-list and the
    signature checks out with the key its ``kid`` names."""
    header = header_of(token)
    assert set(header) == {"alg", "kid", "typ"} and header["typ"] == typ
    assert header["alg"] in ALGORITHMS
    key = published_keys(client).get_by_kid(header["kid"])
    signed = jws.deserialize_compact(token, key, algorithms=[header["alg"]])
    return json.loads(signed.payload)


def token_claims(token: str, client: Client | None = None) -> AccessClaims:
    """An access token read with access.node's wire format, after :func:`verify_published`."""
    return AccessClaims.from_claims(verify_published(token, TOKEN_TYPE, client))


def basic(client_id: str, secret: str) -> str:
    from urllib.parse import quote

    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


@pytest.fixture
def nodes(catalogue):
    """Credentials of both nodes (``oslo``, ``valencia``: the Authorization header values),
    and a report-signing key registered for Oslo (``oslo_key``, the private JWK)."""
    oslo, valencia = catalogue.own_node, catalogue.other_node
    key = ECKey.generate_key("P-256", private=True)
    private = {**key.as_dict(private=True), "kid": "oslo-report-key"}
    services.node_key_register(
        node=oslo, jwk={**key.as_dict(private=False), "kid": "oslo-report-key"}
    )
    return SimpleNamespace(
        oslo=basic(oslo.audience, services.node_secret_issue(node=oslo)),
        valencia=basic(valencia.audience, services.node_secret_issue(node=valencia)),
        oslo_key=private,
    )
