"""A real node: Orthanc with DICOMweb behind nginx and the gatekeeper, with studies of two
datasets, and a stand-in portal. A researcher's DICOMweb client (dicomweb-client) reaches the
studies its token covers and nothing else; node operators reach Orthanc with their own
credentials; Orthanc's own doors are closed; what the node served is reported to the portal.

The processes start once for the module (``harness.start_node``).
"""

import base64
import dataclasses
import http.client as http_client
import json
import socket
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from dicomweb_client.api import DICOMwebClient

from access.node import config as node_config
from access.node.decisions import Gatekeeper
from access.node.exclusion_store import ExclusionStore
from access.node.portal_link import AccessReporter, PortalError, StudyMapStore, basic_credentials
from access.node.reasons import Reason
from access.node.reports import AccessEvent
from access.node.statuslist import INVALID, SUSPENDED, VALID
from access.node.studies import StudyMap
from access.node.verifier import Verifier
from tests.node.harness import Nginx, free_port, http, start_node

# Orthanc's DICOMweb plugin 1.7 answers 400 to dicomweb-client's default Accept header for frames
# and bulk data (multipart/related; type="*/*"): ask for raw octets.
RAW_FRAMES = (("application/octet-stream", "1.2.840.10008.1.2.1"),)
RAW_BULK = (("application/octet-stream",),)
STATUS_TTL = 2  # seconds the node may cache the status list (the stand-in portal's ttl)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    # More studies the token may not see than it may: a search that pages before it filters
    # (whatever order Orthanc lists studies in) shows short pages.
    node = start_node(tmp_path_factory.mktemp("node"), permitted=3, other=2, unmapped=4)
    node.portal.ttl = STATUS_TTL
    yield node
    node.stop()


@pytest.fixture
def token(node):
    return node.portal.token(datasets=[node.permitted_dataset])


def researcher(node, token) -> DICOMwebClient:
    return DICOMwebClient(url=node.dicomweb, headers={"Authorization": f"Bearer {token}"})


def get(node, path, token=None, *, headers=None, method="GET", body=None):
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return http(method, node.nginx.url + path, headers=headers, body=body)


def challenge(headers) -> str:
    return headers.get("WWW-Authenticate", "")


def every_study(node) -> int:
    return len(node.permitted) + len(node.other) + len(node.unmapped)


def uids(results) -> set[str]:
    return {study["0020000D"]["Value"][0] for study in results}


def test_a_token_retrieves_the_permitted_studys_instances_and_metadata(node, token):
    client = researcher(node, token)
    study = node.permitted[0]
    instances = client.retrieve_study(study.uid)
    assert {i.SOPInstanceUID for i in instances} == {sop for _series, sop in study.instances}
    assert all(i.PatientID == study.subject for i in instances)

    metadata = client.retrieve_study_metadata(study.uid)
    assert {m["00080018"]["Value"][0] for m in metadata} == {s for _, s in study.instances}
    series, sop = study.instances[0]
    one = client.retrieve_instance(study.uid, series, sop)
    assert one.SOPInstanceUID == sop
    frames = client.retrieve_instance_frames(
        study.uid, series, sop, frame_numbers=[1], media_types=RAW_FRAMES
    )
    assert len(frames[0]) == 8 * 8 * 2

    # Orthanc's absolute URLs point at the public door (the host the client named: dicomweb-client
    # names it without its port), never at Orthanc's loopback port; the bulk data is there.
    bulk = urllib.parse.urlsplit(
        client.retrieve_instance_metadata(study.uid, series, sop)["7FE00010"]["BulkDataURI"]
    )
    assert bulk.hostname == "127.0.0.1" and bulk.port != node.orthanc.http_port
    assert bulk.path.startswith(f"/dicom-web/studies/{study.uid}/series/{series}/")
    pixels = client.retrieve_bulkdata(node.nginx.url + bulk.path, media_types=RAW_BULK)
    assert len(pixels[0]) == 8 * 8 * 2


def _paths_below(study) -> list[str]:
    series, sop = study.instances[0]
    base = f"/dicom-web/studies/{study.uid}"
    instance = f"{base}/series/{series}/instances/{sop}"
    return [
        base,
        f"{base}/",
        f"{base}/metadata",
        f"{base}/rendered",
        f"{base}/series",
        f"{base}/instances",
        f"{base}/series/{series}",
        f"{base}/series/{series}/metadata",
        f"{base}/series/{series}/instances",
        instance,
        f"{instance}/metadata",
        f"{instance}/frames/1",
        f"{instance}/frames/1/rendered",
        f"{instance}/rendered",
        f"{instance}/bulk/7fe00010",
    ]


def test_the_other_datasets_study_is_refused_at_every_level(node, token):
    for study in (node.other[0], node.unmapped[0]):  # another dataset; a study the map lacks
        for path in _paths_below(study):
            status, headers, body = get(node, path, token)
            assert status == 403, (path, status, body[:200])
            assert 'error="insufficient_scope"' in challenge(headers)
            assert 'error_description="study_not_permitted"' in challenge(headers)
            assert b"study_not_permitted" in body and b"DICM" not in body
    with pytest.raises(requests.HTTPError) as refused:
        researcher(node, token).retrieve_study(node.other[0].uid)
    assert refused.value.response.status_code == 403


def test_search_lists_only_the_permitted_studies(node, token):
    client = researcher(node, token)
    permitted = {s.uid for s in node.permitted}
    assert uids(client.search_for_studies()) == permitted
    assert uids(client.search_for_studies(search_filters={"PatientID": "SUBJ-O0"})) == set()
    other = node.other[0].uid
    assert client.search_for_studies(search_filters={"StudyInstanceUID": other}) == []
    both = f"{node.permitted[0].uid},{other}"
    only = client.search_for_studies(search_filters={"StudyInstanceUID": both})
    assert uids(only) == {node.permitted[0].uid}
    # Orthanc's RetrieveURL points at the host the client asked for, not at Orthanc.
    status, _headers, body = get(
        node, "/dicom-web/studies", token, headers={"Host": "node.example.org:8443"}
    )
    assert status == 200
    for study in json.loads(body):
        uid = study["0020000D"]["Value"][0]
        assert study["00081190"]["Value"] == [
            f"http://node.example.org:8443/dicom-web/studies/{uid}"
        ]
    # Operators see every study.
    status, _headers, body = get(
        node, "/dicom-web/studies", headers={"Authorization": basic_credentials(*node.operator)}
    )
    assert status == 200 and len(uids(json.loads(body))) == every_study(node)


def test_search_pages_count_permitted_studies_only(node, token):
    client = researcher(node, token)
    pages = [client.search_for_studies(limit=1, offset=offset) for offset in range(4)]
    assert [len(page) for page in pages] == [1, 1, 1, 0]
    assert set().union(*(uids(page) for page in pages)) == {s.uid for s in node.permitted}
    assert uids(client.search_for_studies(limit=2, offset=1)) <= {s.uid for s in node.permitted}
    assert len(client.search_for_studies(limit=2, offset=1)) == 2


def test_search_beyond_the_uid_list_filters_and_pages_in_the_gatekeeper(node, token):
    """With more permitted studies than ``search_uid_list_max``, the gatekeeper asks the
    server for everything that matches, filters, and pages itself: same pages."""
    gatekeeper, store = _in_process(node, search_uid_list_max=0)
    store.sync()

    def page(query):
        answer = gatekeeper.search(
            query=query, authorization=f"Bearer {token}", accept=None, forwarded=None
        )
        assert answer.status == 200
        return uids(json.loads(answer.body))

    permitted = {s.uid for s in node.permitted}
    pages = [page(f"limit=1&offset={offset}") for offset in range(4)]
    assert [len(p) for p in pages] == [1, 1, 1, 0]
    assert set().union(*pages) == permitted
    assert page("") == permitted
    assert page(f"StudyInstanceUID={node.other[0].uid}") == set()
    assert page("PatientID=SUBJ-O0") == set()


def _tampered(token: str) -> str:
    """The token with one more dataset in its payload and its original signature."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["datasets"].append("every-dataset")
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return ".".join([header, payload, signature])


def _refused_tokens(node):
    from joserfc.jwk import ECKey

    portal, permitted = node.portal, [node.permitted_dataset]
    now = int(time.time())
    return {
        "expired": (
            portal.token(datasets=permitted, iat=now - 900, nbf=now - 900, exp=now - 300),
            401,
            "expired",
        ),
        "another node": (
            portal.token(datasets=permitted, aud="urn:ecii:node:elsewhere"),
            401,
            "wrong_audience",
        ),
        "tampered": (_tampered(portal.token(datasets=permitted)), 401, "bad_signature"),
        "unknown key": (
            portal.token(
                datasets=permitted, key=ECKey.generate_key("P-256", private=True, auto_kid=True)
            ),
            401,
            "unknown_key",
        ),
        "not an access token": (portal.token(datasets=permitted, typ="JWT"), 401, "bad_type"),
        "garbage": ("not-a-token", 401, "malformed"),
    }


def test_no_token_is_refused_with_a_bare_challenge(node):
    study = node.permitted[0].uid
    for path in (f"/dicom-web/studies/{study}/metadata", "/dicom-web/studies"):
        status, headers, body = get(node, path)
        assert status == 401
        assert challenge(headers) == 'Bearer realm="dicomweb"'
        assert b"missing_token" in body


def test_expired_foreign_tampered_and_forged_tokens_are_refused(node):
    study = node.permitted[0].uid
    for name, (bad, status, reason) in _refused_tokens(node).items():
        for path in (f"/dicom-web/studies/{study}/metadata", "/dicom-web/studies"):
            got, headers, body = get(node, path, bad)
            assert got == status, (name, path, got, body[:200])
            assert 'error="invalid_token"' in challenge(headers), name
            assert f'error_description="{reason}"' in challenge(headers), name
            assert b"DICM" not in body and b"0020000D" not in body


def test_a_revoked_token_is_refused_within_the_status_lists_ttl(node, token):
    path = f"/dicom-web/studies/{node.permitted[0].uid}/metadata"
    assert get(node, path, token)[0] == 200
    node.portal.set_status(token, INVALID)
    revoked_at = time.monotonic()
    while get(node, path, token)[0] == 200:
        assert time.monotonic() - revoked_at <= STATUS_TTL + 1, "still served after the TTL"
        time.sleep(0.1)
    status, headers, _body = get(node, path, token)
    assert status == 401 and 'error_description="revoked"' in challenge(headers)
    assert get(node, "/dicom-web/studies", token)[0] == 401


def test_a_suspended_token_is_refused_and_served_again_once_reactivated(node, token):
    path = f"/dicom-web/studies/{node.permitted[0].uid}/metadata"
    node.portal.set_status(token, SUSPENDED)
    deadline = time.monotonic() + STATUS_TTL + 1
    while get(node, path, token)[0] == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    status, headers, _body = get(node, path, token)
    assert status == 401 and 'error_description="suspended"' in challenge(headers)
    node.portal.set_status(token, VALID)
    deadline = time.monotonic() + STATUS_TTL + 1
    while get(node, path, token)[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_orthancs_own_api_is_refused_to_a_token_and_open_to_operators(node, token):
    for path in (
        "/system",
        "/patients",
        "/studies",
        "/tools/find",
        "/app/explorer.html",
        "/dicom-web/series",
        "/dicom-web/instances",
        "/dicom-web/servers",
        "/wado?requestType=WADO",
    ):
        status, headers, _body = get(node, path, token)
        assert status == 403, path
        assert 'error_description="insufficient_scope"' in challenge(headers)
    name, secret = node.operator
    status, _headers, body = get(
        node, "/patients", headers={"Authorization": basic_credentials(name, secret)}
    )
    assert status == 200 and len(json.loads(body)) == every_study(node)
    for wrong in (
        basic_credentials(name, secret + "x"),
        basic_credentials("mallory", secret),
        "Basic !!!",
        None,
    ):
        status, headers, _body = get(
            node, "/patients", headers={"Authorization": wrong} if wrong else {}
        )
        assert status == 401
        assert challenge(headers).startswith('Basic realm="ECII node operators"')


def test_a_token_cannot_write_or_delete(node, token):
    study = node.permitted[0].uid
    status, headers, _body = get(
        node,
        "/dicom-web/studies",
        token,
        method="POST",
        body=b"--x--",
        headers={"Content-Type": 'multipart/related; type="application/dicom"; boundary=x'},
    )
    assert status == 403 and "insufficient_scope" in challenge(headers)
    for method in ("POST", "DELETE", "PUT"):
        status, _headers, _body = get(node, f"/dicom-web/studies/{study}", token, method=method)
        assert status == 403, method
    assert get(node, f"/studies/{study}", token, method="DELETE")[0] == 403


def test_paths_that_escape_the_study_do_not_reach_other_studies(node, token):
    permitted, other = node.permitted[0], node.other[0]
    other_series, other_sop = other.instances[0]
    tricks = [
        f"/dicom-web/studies/{permitted.uid}/../{other.uid}/metadata",
        f"/dicom-web/studies/{permitted.uid}/%2e%2e/{other.uid}/metadata",
        f"/dicom-web/studies/{permitted.uid}/..%2f{other.uid}/metadata",
        f"//dicom-web//studies//{other.uid}//metadata",
        f"/dicom-web/studies/{other.uid}%2fmetadata",
        f"/dicom-web/./studies/{other.uid}/metadata",
        f"/dicom-web/studies/{permitted.uid}/series?StudyInstanceUID={other.uid}",
        f"/dicom-web/studies/{permitted.uid}/instances?0020000D={other.uid}",
        f"/dicom-web/studies/{permitted.uid}/series?studyinstanceuid={other.uid}",
    ]
    for path in tricks:
        status, _headers, body = get(node, path, token)
        assert status == 403, (path, status, body[:200])
        assert other.subject.encode() not in body
    # A series of another study below a permitted one: Orthanc enforces the hierarchy.
    crossed = f"/dicom-web/studies/{permitted.uid}/series/{other_series}/instances/{other_sop}"
    status, _headers, body = get(node, crossed, token)
    assert status == 404 and other.subject.encode() not in body
    status, _headers, body = get(node, crossed.rsplit("/", 2)[0] + "/instances", token)
    assert other.subject.encode() not in body
    # A decoded CR LF in the path cannot add headers to the gatekeeper's subrequest.
    injected = (
        f"/dicom-web/studies/{other.uid}%0d%0aX-Original-URI:%20/dicom-web/studies/{permitted.uid}"
    )
    assert get(node, injected, token)[0] == 400


def test_orthanc_answers_nobody_but_loopback_and_its_dicom_port_is_closed(node):
    direct = node.orthanc.url + "/patients"
    assert http("GET", direct)[0] == 200  # loopback itself (the gatekeeper's search)
    assert http("GET", direct, source="127.0.0.2")[0] == 401  # another local address
    addresses = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    for address in addresses - {"127.0.0.1"}:
        if not address.startswith("127."):
            url = f"http://{address}:{node.orthanc.http_port}/patients"
            assert http("GET", url)[0] == 401
    with pytest.raises(ConnectionRefusedError), socket.socket() as dimse:
        dimse.settimeout(2)
        dimse.connect(("127.0.0.1", node.orthanc.dicom_port))  # no C-STORE possible


def test_access_reports_reach_the_portal_signed_by_the_node(node):
    token = node.portal.token(datasets=[node.permitted_dataset])
    jti = node.portal.claims_of(token)["jti"]
    permitted, other = node.permitted[1].uid, node.other[1].uid
    assert get(node, f"/dicom-web/studies/{permitted}/metadata", token)[0] == 200
    assert get(node, f"/dicom-web/studies/{other}/metadata", token)[0] == 403
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        events = [e for e in node.portal.events() if e["jti"] == jti]
        if len(events) >= 2:
            break
        time.sleep(0.1)
    by_study = {e["study"]: e for e in events}
    assert by_study[permitted]["decision"] == "allowed"
    assert by_study[permitted]["reason"] is None
    assert by_study[other]["decision"] == "refused"
    assert by_study[other]["reason"] == "study_not_permitted"
    assert abs(by_study[permitted]["time"] - time.time()) < 30
    assert node.portal.refused_report_posts == 0  # every batch came with the node's credentials
    report = next(r for r in node.portal.reports if any(e["jti"] == jti for e in r["events"]))
    assert report["iss"] == node.portal.audience


def test_the_node_refuses_everything_when_the_gatekeeper_is_down(node, tmp_path, token):
    nginx = Nginx(tmp_path, orthanc_port=node.orthanc.http_port, gatekeeper_port=free_port())
    nginx.start()
    try:
        path = f"/dicom-web/studies/{node.permitted[0].uid}/metadata"
        status, _headers, body = http(
            "GET", nginx.url + path, headers={"Authorization": f"Bearer {token}"}
        )
        assert status == 500 and b"0020000D" not in body
    finally:
        nginx.process.stop()


def test_a_token_without_the_read_scope_is_refused(node):
    token = node.portal.token(datasets=[node.permitted_dataset], scope="openid")
    for path in (f"/dicom-web/studies/{node.permitted[0].uid}/metadata", "/dicom-web/studies"):
        status, headers, body = get(node, path, token)
        assert status == 403, path
        assert 'error_description="insufficient_scope"' in challenge(headers)
        assert b"0020000D" not in body


def test_the_gatekeeper_refuses_repeated_headers(node, token):
    """Headers split off a path by CR LF would stand beside the real ones: refused."""
    connection = http_client.HTTPConnection("127.0.0.1", node.gatekeeper.port, timeout=5)
    connection.putrequest("GET", "/auth")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("X-Original-Method", "GET")
    connection.putheader("X-Original-URI", f"/dicom-web/studies/{node.other[0].uid}")
    connection.putheader("X-Original-URI", f"/dicom-web/studies/{node.permitted[0].uid}")
    connection.endheaders()
    assert connection.getresponse().status == 400
    connection.close()


class Recorder(BaseHTTPRequestHandler):
    """An image server that records what it is sent and answers with an empty DICOM JSON list."""

    seen: list[dict[str, str]] = []

    def do_GET(self):
        Recorder.seen.append({"path": self.path, **dict(self.headers.items())})
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/dicom+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_image_server_never_sees_the_token_and_writes_urls_for_the_public_door(
    node, tmp_path, token
):
    """Any DICOMweb server behind the node's nginx gets the authorised, normalised path, the
    public host in Forwarded, and no Authorization header."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    nginx = Nginx(tmp_path, orthanc_port=server.server_port, gatekeeper_port=node.gatekeeper.port)
    nginx.start()
    try:
        study = node.permitted[0].uid
        path = f"/dicom-web//studies/{study}/series/1.2.3/../metadata"
        headers = {"Authorization": f"Bearer {token}", "Host": "node.example.org:8443"}
        status, _headers, _body = http("GET", nginx.url + path, headers=headers)
        assert status == 200
        seen = Recorder.seen[-1]
        assert seen["path"] == f"/dicom-web/studies/{study}/series/metadata"
        assert "Authorization" not in seen
        assert seen["Forwarded"] == "proto=http;host=node.example.org:8443"
    finally:
        nginx.process.stop()
        server.shutdown()
        server.server_close()


def _in_process(node, **changes):
    """A gatekeeper in this process, on the node's configuration, Orthanc and portal."""
    config = dataclasses.replace(node_config.load(node.gatekeeper.config), **changes)
    verifier = Verifier(issuer=config.issuer, audience=config.audience, jwks_url=config.jwks_url)
    store = StudyMapStore(
        url=config.study_map_url,
        audience=config.audience,
        authorization=basic_credentials(config.audience, config.client_secret),
        reader=verifier,
    )
    exclusions = ExclusionStore(
        url=config.exclusions_url,
        audience=config.audience,
        authorization=basic_credentials(config.audience, config.client_secret),
        reader=verifier,
    )
    gatekeeper = Gatekeeper(
        config, verifier=verifier, study_maps=store, exclusions=exclusions, reporter=None
    )
    return gatekeeper, store


def test_without_a_study_map_no_study_is_served(node, token):
    gatekeeper, _store = _in_process(node)  # never synced
    study = node.permitted[0].uid
    answer = gatekeeper.authorise(
        method="GET", uri=f"/dicom-web/studies/{study}", args="", authorization=f"Bearer {token}"
    )
    assert answer.status == 401 and answer.reason == "study_map_unavailable"
    searched = gatekeeper.search(
        query="", authorization=f"Bearer {token}", accept=None, forwarded=None
    )
    assert searched.status == 401 and searched.reason == "study_map_unavailable"


def test_a_study_in_two_datasets_is_served_and_listed_to_a_token_for_either(node, token):
    """A node may publish one study in two datasets: the map has a row for each, and a token
    for either dataset reads it and finds it in search."""
    gatekeeper, store = _in_process(node)
    portal, shared = node.portal, node.other[0]
    rows = StudyMap(portal.audience, portal.studies).to_claims()
    rows.append([shared.uid, node.permitted_dataset, shared.subject])
    portal.study_map_override = portal.study_map(studies=rows)
    try:
        store.sync()
        for holder in (token, node.portal.token(datasets=[node.other_dataset])):
            answer = gatekeeper.authorise(
                method="GET",
                uri=f"/dicom-web/studies/{shared.uid}/metadata",
                args="",
                authorization=f"Bearer {holder}",
            )
            assert answer.status == 200, answer.reason
        found = gatekeeper.search(
            query="", authorization=f"Bearer {token}", accept=None, forwarded=None
        )
        assert uids(json.loads(found.body)) == {s.uid for s in node.permitted} | {shared.uid}
    finally:
        portal.study_map_override = None


def test_a_study_map_that_is_not_the_portals_for_this_node_is_refused(node):
    from joserfc.jwk import ECKey

    _gatekeeper, store = _in_process(node)
    good = store.sync()
    portal = node.portal
    now = int(time.time())
    bad_maps = {
        "signed by another key": portal.study_map(
            key=ECKey.generate_key("P-256", private=True, auto_kid=True)
        ),
        "for another node": portal.study_map(aud="urn:ecii:node:elsewhere"),
        "not a study map": portal.study_map(typ="statuslist+jwt"),
        "expired": portal.study_map(iat=now - 7200, exp=now - 3600),
        "another issuer": portal.study_map(iss="https://elsewhere.example.org"),
        "a row without its subject": portal.study_map(studies=[["1.2", "d"]]),
    }
    try:
        for name, document in bad_maps.items():
            portal.study_map_override = document
            with pytest.raises(PortalError):
                store.sync()
            assert store.current() is good, name  # the last good map still serves
    finally:
        portal.study_map_override = None


def test_access_reports_wait_in_the_spool_while_the_portal_is_down(node, tmp_path):
    config = node_config.load(node.gatekeeper.config)
    reporter = AccessReporter(
        url=f"http://127.0.0.1:{free_port()}/access/nodes/reports",  # nobody listens
        node=config.audience,
        authorization=basic_credentials(config.audience, config.client_secret),
        signing_key=config.signing_key,
        spool=tmp_path / "spool",
        batch_max=2,
    )
    study = node.permitted[0].uid
    for _ in range(3):
        reporter.record(
            AccessEvent.recorded(jti="token-1", study=study, time=time.time(), reason=None)
        )
    reporter.flush()
    waiting = sorted((tmp_path / "spool").glob("*.jwt"))
    assert len(waiting) == 2  # batches of at most two events, signed and kept
    reporter.url = node.portal.reports_url
    assert reporter.send() == 2
    assert list((tmp_path / "spool").glob("*.jwt")) == []
    sent = [e for e in node.portal.events() if e["jti"] == "token-1"]
    assert len(sent) == 3 and all(e["study"] == study for e in sent)


def test_a_large_batch_is_split_into_reports_the_portal_can_read(node, tmp_path):
    """joserfc (the portal's JOSE library) reads JWS payloads of up to 128,000 bytes by
    default: however many events wait, each signed batch stays under that."""
    config = node_config.load(node.gatekeeper.config)
    reporter = AccessReporter(
        url=node.portal.reports_url,
        node=config.audience,
        authorization=basic_credentials(config.audience, config.client_secret),
        signing_key=config.signing_key,
        spool=tmp_path / "spool",
        batch_max=5000,
    )
    jti, study = str(uuid.uuid4()), node.other[0].uid
    for _ in range(1200):
        reporter.record(
            AccessEvent.recorded(
                jti=jti, study=study, time=time.time(), reason=Reason.STUDY_NOT_PERMITTED
            )
        )
    assert reporter.seal() >= 3
    assert all(p.stat().st_size < 128_000 for p in (tmp_path / "spool").glob("*.jwt"))
    assert reporter.send() >= 3
    assert len([e for e in node.portal.events() if e["jti"] == jti]) == 1200
