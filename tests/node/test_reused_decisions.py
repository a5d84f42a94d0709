"""Reused allows through the real nginx: a viewer fetching many frames with one token is
answered from nginx's cache of the gatekeeper's allow, every such request still reaches the
access reports, and no reuse outlives the token's ``exp`` or its status list's ``ttl``."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from access.node.statuslist import INVALID
from tests.node.harness import http, start_node

STATUS_TTL = 2  # seconds the node may cache the status list (the stand-in portal's ttl)
LEEWAY = 1  # seconds of clock skew the gatekeeper allows on token times


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = start_node(tmp_path_factory.mktemp("reuse"), permitted=2, other=1, leeway=LEEWAY)
    node.portal.ttl = STATUS_TTL
    yield node
    node.stop()


def get(node, path, token):
    return http("GET", node.nginx.url + path, headers={"Authorization": f"Bearer {token}"})


def stored_allows(node) -> int:
    return sum(1 for entry in (node.nginx.root / "decisions").rglob("*") if entry.is_file())


def events_of(node, jti, count, timeout=10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = [e for e in node.portal.events() if e["jti"] == jti]
        if len(events) >= count:
            return events
        time.sleep(0.1)
    return [e for e in node.portal.events() if e["jti"] == jti]


def test_repeated_reads_reuse_one_allow_and_every_read_is_reported(node):
    token = node.portal.token(datasets=[node.permitted_dataset])
    jti = node.portal.claims_of(token)["jti"]
    study = node.permitted[0].uid
    before = stored_allows(node)
    for _ in range(5):
        assert get(node, f"/dicom-web/studies/{study}/metadata", token)[0] == 200
        assert get(node, f"/dicom-web/studies/{study}/series", token)[0] == 200
    assert stored_allows(node) == before + 1  # one allow, for this token and study
    other = node.other[0].uid
    for _ in range(3):
        assert get(node, f"/dicom-web/studies/{other}/metadata", token)[0] == 403
    assert stored_allows(node) == before + 1  # refusals are never stored
    events = events_of(node, jti, 13)
    allowed = [e for e in events if e["decision"] == "allowed"]
    refused = [e for e in events if e["decision"] == "refused"]
    assert len(allowed) == 10 and {e["study"] for e in allowed} == {study}
    assert len(refused) == 3 and {e["reason"] for e in refused} == {"study_not_permitted"}


def test_a_viewers_parallel_requests_are_all_reported(node):
    token = node.portal.token(datasets=[node.permitted_dataset])
    jti = node.portal.claims_of(token)["jti"]
    study = node.permitted[1]
    paths = [f"/dicom-web/studies/{study.uid}/series/{s}/instances/{i}" for s, i in study.instances]
    requests = [paths[n % len(paths)] for n in range(120)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda path: get(node, path, token)[0], requests))
    assert statuses == [200] * len(requests)
    events = events_of(node, jti, len(requests))
    assert len(events) == len(requests)
    assert all(e["decision"] == "allowed" and e["study"] == study.uid for e in events)


def test_a_reused_allow_ends_with_the_status_lists_ttl(node):
    token = node.portal.token(datasets=[node.permitted_dataset])
    path = f"/dicom-web/studies/{node.permitted[1].uid}/metadata"
    for _ in range(3):
        assert get(node, path, token)[0] == 200
    node.portal.set_status(token, INVALID)
    revoked_at = time.monotonic()
    while get(node, path, token)[0] == 200:
        assert time.monotonic() - revoked_at <= STATUS_TTL + 1, "still served after the TTL"
        time.sleep(0.1)
    status, headers, _body = get(node, path, token)
    assert status == 401 and 'error_description="revoked"' in headers["WWW-Authenticate"]


def test_a_reused_allow_ends_when_the_token_expires(node):
    node.portal.ttl = 600  # the status list is no bound here: only the token's exp is
    try:
        token = node.portal.token(datasets=[node.permitted_dataset], lifetime=3)
        exp = node.portal.claims_of(token)["exp"]
        path = f"/dicom-web/studies/{node.permitted[0].uid}/metadata"
        while time.time() < exp - 0.5:
            assert get(node, path, token)[0] == 200
            time.sleep(0.2)
        while get(node, path, token)[0] == 200:
            assert time.time() <= exp + LEEWAY + 1, "still served after the token expired"
            time.sleep(0.1)
        status, headers, _body = get(node, path, token)
        assert status == 401 and 'error_description="expired"' in headers["WWW-Authenticate"]
    finally:
        node.portal.ttl = STATUS_TTL
