"""When the gatekeeper cannot read nginx's log of reused allows (its permissions, or a file
logrotate recreated for another group), no allow is reusable: nginx asks about every request and
each one is reported. It is said once in the journal, healthz shows it, and the pending access
reports are still sent when the gatekeeper stops.

The log is made unreadable by putting a directory where the file was (the tests may run as
root, whom permissions do not stop); nginx keeps writing to the file it has open.
"""

import json
import os
import time

import pytest

from tests.node.harness import http, reused_log, start_node


@pytest.fixture
def node(tmp_path):
    # Reports are sent only when the gatekeeper stops: what is pending then must not be lost.
    node = start_node(tmp_path, permitted=1, other=1, unmapped=0, report_interval=3600)
    node.portal.ttl = 60  # the status list is no bound on a reuse here
    yield node
    node.stop()


def ask(node, token, study):
    """The gatekeeper's own answer to nginx's question about a study read."""
    return http(
        "GET",
        node.gatekeeper.url + "/auth",
        headers={
            "Authorization": f"Bearer {token}",
            "X-Original-Method": "GET",
            "X-Original-URI": f"/dicom-web/studies/{study}/metadata",
            "X-Original-Args": "",
        },
    )


def health(node) -> dict:
    return json.loads(http("GET", node.gatekeeper.url + "/healthz")[2])


def make_unreadable(node) -> tuple:
    path = reused_log(node.gatekeeper.port)
    moved = path.with_name(path.name + ".moved")
    path.touch()
    os.rename(path, moved)
    path.mkdir()
    return path, moved


def wait_for(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)


def test_no_allow_is_reused_while_the_log_cannot_be_read(node):
    token = node.portal.token(datasets=[node.permitted_dataset])
    study = node.permitted[0].uid
    status, headers, _body = ask(node, token, study)
    assert status == 200 and "X-Accel-Expires" in headers
    assert health(node)["reused_log"] is True
    path, moved = make_unreadable(node)
    try:
        wait_for(lambda: health(node)["reused_log"] is False)
        status, headers, _body = ask(node, token, study)
        assert status == 200 and "X-Accel-Expires" not in headers
        assert headers["Cache-Control"] == "no-store"
        time.sleep(1)  # five reads fail meanwhile: the journal says it once, without a traceback
        journal = node.gatekeeper.process.tail()
        assert journal.count("cannot read nginx's log of reused allows") == 1
        assert "Traceback" not in journal
    finally:
        path.rmdir()
        os.rename(moved, path)
    wait_for(lambda: health(node)["reused_log"] is True)
    status, headers, _body = ask(node, token, study)
    assert status == 200 and "X-Accel-Expires" in headers


def test_pending_reports_are_sent_at_stop_though_the_log_cannot_be_read(node):
    token = node.portal.token(datasets=[node.permitted_dataset])
    jti = node.portal.claims_of(token)["jti"]
    assert ask(node, token, node.permitted[0].uid)[0] == 200
    assert ask(node, token, node.other[0].uid)[0] == 403
    make_unreadable(node)
    time.sleep(0.5)
    node.gatekeeper.process.stop()
    assert node.gatekeeper.process.handle.returncode == 0, node.gatekeeper.process.tail()
    events = [e for e in node.portal.events() if e["jti"] == jti]
    assert sorted(e["decision"] for e in events) == ["allowed", "refused"]
