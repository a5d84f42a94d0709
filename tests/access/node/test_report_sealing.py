"""Access reports are the node's access log (EHDS Art 73): an event that cannot be sealed into a
signed batch is kept, never dropped, and a key that cannot sign is refused at start."""

import base64
import json
import time

import pytest
from joserfc.jwk import ECKey

from access.node import config as node_config
from access.node.portal_link import AccessReporter, check_signing_key
from access.node.reports import AccessEvent, read_batch

BROKEN_KEY = {"kty": "EC", "d": "x", "kid": "k"}  # passes a look at its fields, cannot sign
STUDY = "1.2.826.0.1.3680043.8.498.7"


def good_key() -> dict:
    key = ECKey.generate_key("P-256", {"use": "sig", "alg": "ES256"}, private=True, auto_kid=True)
    return key.as_dict(private=True)


def reporter(tmp_path, key) -> AccessReporter:
    return AccessReporter(
        url="http://127.0.0.1:9/access/nodes/reports",  # nobody listens: batches stay spooled
        node="urn:ecii:node:n",
        authorization="Basic eDp5",
        signing_key=key,
        spool=tmp_path / "spool",
        timeout=0.5,
    )


def event(n: int) -> AccessEvent:
    return AccessEvent.recorded(jti=f"token-{n}", study=STUDY, time=time.time(), reason=None)


def spooled_events(tmp_path) -> list[str | None]:
    jtis = []
    for path in sorted((tmp_path / "spool").glob("*.jwt")):
        claims = json.loads(_payload(path.read_text()))
        jtis += [e.jti for e in read_batch(claims).events]
    return jtis


def _payload(token: str) -> bytes:
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_events_a_key_cannot_sign_are_kept_and_sealed_once_it_can(tmp_path):
    reports = reporter(tmp_path, BROKEN_KEY)
    reports.record(event(1))
    reports.record(event(2))
    with pytest.raises(Exception):  # noqa: B017 (joserfc's own error for the damaged key)
        reports.seal()
    assert reports.pending() == 2 and spooled_events(tmp_path) == []
    reports.flush()  # logs the failure, keeps the events
    reports.record(event(3))
    assert reports.pending() == 3
    reports.signing_key = good_key()
    assert reports.seal() == 1
    assert spooled_events(tmp_path) == ["token-1", "token-2", "token-3"]
    assert reports.pending() == 0


def test_a_key_that_cannot_sign_is_refused_when_the_configuration_is_read(tmp_path):
    with pytest.raises(Exception):  # noqa: B017
        check_signing_key(BROKEN_KEY)
    check_signing_key(good_key())
    secret, key = tmp_path / "client-secret", tmp_path / "report-key.jwk"
    node_config.write_secret_file(secret, "node-secret")
    node_config.write_secret_file(key, json.dumps(BROKEN_KEY))
    path = tmp_path / "gatekeeper.toml"
    path.write_text(
        f"""[gatekeeper]
state_dir = "{tmp_path / "state"}"
[portal]
issuer = "https://portal.example.org"
jwks_url = "https://portal.example.org/.well-known/jwks.json"
study_map_url = "https://portal.example.org/access/nodes/n/study-map"
reports_url = "https://portal.example.org/access/nodes/reports"
[node]
audience = "urn:ecii:node:n"
client_secret_file = "{secret}"
signing_key_file = "{key}"
[orthanc]
dicomweb_url = "http://127.0.0.1:8042/dicom-web"
"""
    )
    with pytest.raises(node_config.ConfigError, match="cannot sign"):
        node_config.load(path)
