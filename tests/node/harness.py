"""A real imaging node on loopback for the tests and the benchmark: Orthanc with DICOMweb, nginx
with the node's own configuration (``access/node/conf``), the gatekeeper as its own process, and
a stand-in portal (a tiny ``http.server``) serving a JWKS, a status list and a study map signed
with a test key through the wire formats of ``access.node``, and receiving access reports.
The same pieces serve the integration test with the real portal (``test_portal_to_image``):
there the gatekeeper is pointed at the portal's own endpoints (:class:`PortalLink`) and signs its
reports with a key made by its own ``new-key`` command (:func:`new_report_key`).

Every process gets free loopback ports and a config file written here, in a temporary
directory, and is stopped at the end. Without the Debian packages (orthanc, orthanc-dicomweb,
nginx) the tests are skipped, except in CI where they fail.
"""

import base64
import contextlib
import io
import json
import os
import pwd
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from pydicom import dcmread

from access.node import config as node_config
from access.node import exclusions as exclusion_list
from access.node.claims import MAX_LIFETIME, SCOPE_READ, TOKEN_TYPE
from access.node.reports import REPORT_TYPE, read_batch
from access.node.statuslist import LIST_TYPE, MEDIA_TYPE, StatusList, list_claims
from access.node.studies import MAP_TYPE, StudyEntry, StudyMap
from tests.catalogue.dicom_factory import deidentified, uid, write

REPOSITORY = Path(__file__).resolve().parents[2]
CONF = REPOSITORY / "access" / "node" / "conf"
ORTHANC = Path("/usr/sbin/Orthanc")
NGINX = Path("/usr/sbin/nginx")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def require_node_binaries() -> None:
    """Skip without Orthanc, its DICOMweb plugin or nginx; fail instead when CI is set."""
    missing = [str(p) for p in (ORTHANC, NGINX, DICOMWEB_PLUGIN) if not p.exists()]
    if missing:
        message = "the node tests need Debian's orthanc, orthanc-dicomweb and nginx: " + ", ".join(
            missing
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check, *, timeout: float = 15.0, what: str = "a process") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            if check():
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {timeout} s")


def http(method, url, *, headers=None, body=None, source=None, timeout=10):
    """One request with the standard library: (status, headers, body). ``source`` binds the
    client socket to a local address (to come from another loopback address). A header sent
    more than once is joined with ", ", as HTTP client libraries (requests) show it."""
    parts = urllib.parse.urlsplit(url)
    import http.client

    connection = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=timeout, source_address=(source, 0) if source else None
    )
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        headers: dict[str, str] = {}
        for name, value in answer.getheaders():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return answer.status, headers, answer.read()
    finally:
        connection.close()


class Process:
    """A child process with its log file, stopped by its own pid."""

    def __init__(self, args, log: Path, **popen):
        self.log = log
        self.handle = subprocess.Popen(
            args, stdout=log.open("wb"), stderr=subprocess.STDOUT, **popen
        )

    def alive(self) -> bool:
        return self.handle.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.handle.terminate()
            try:
                self.handle.wait(10)
            except subprocess.TimeoutExpired:
                self.handle.kill()
                self.handle.wait(5)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


class Orthanc:
    """Orthanc with DICOMweb on loopback, configured from ``access/node/conf/orthanc.json``."""

    def __init__(self, root: Path):
        self.root = root
        self.http_port, self.dicom_port = free_port(), free_port()
        settings = json.loads((CONF / "orthanc.json").read_text())
        storage = root / "storage"
        storage.mkdir(parents=True)
        settings.update(
            Name="ECII test node",
            StorageDirectory=str(storage),
            IndexDirectory=str(storage),
            HttpPort=self.http_port,
            DicomPort=self.dicom_port,
            Plugins=[str(DICOMWEB_PLUGIN)],
        )
        settings["DicomWeb"]["Ssl"] = False
        self.config = root / "orthanc.json"
        self.config.write_text(json.dumps(settings, indent=2))
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.process: Process | None = None

    def start(self) -> None:
        self.process = Process([str(ORTHANC), str(self.config)], self.root / "orthanc.log")
        wait_until(
            lambda: http("GET", self.url + "/system")[0] == 200, what=f"Orthanc ({self.root})"
        )

    def store(self, dataset) -> None:
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        status, _headers, body = http(
            "POST",
            self.url + "/instances",
            body=buffer.getvalue(),
            headers={"Content-Type": "application/dicom"},
        )
        assert status == 200, body


def reused_log(gatekeeper_port: int) -> Path:
    """Where nginx logs the requests it allowed by reusing an allow of the gatekeeper on that
    port (known to both before either starts; this test run's own)."""
    return Path(tempfile.gettempdir()) / f"ecii-reused-{os.getpid()}-{gatekeeper_port}.log"


class Nginx:
    """nginx with the node's configuration, on a free loopback port."""

    def __init__(
        self, root: Path, *, orthanc_port: int, gatekeeper_port: int, locations: str | None = None
    ):
        """``locations`` replaces the node's server-level configuration (for a reference proxy
        without the gatekeeper in the benchmark)."""
        self.root = root
        self.port = free_port()
        (root / "logs").mkdir(parents=True)
        upstreams = (CONF / "nginx-http.conf").read_text()
        upstreams = upstreams.replace("127.0.0.1:8042", f"127.0.0.1:{orthanc_port}")
        upstreams = upstreams.replace("127.0.0.1:8090", f"127.0.0.1:{gatekeeper_port}")
        upstreams = upstreams.replace("/var/cache/nginx/ecii-decisions", str(root / "decisions"))
        (root / "ecii-node-http.conf").write_text(upstreams)
        if locations is None:
            node_locations = (CONF / "nginx-locations.conf").read_text()
            node_locations = node_locations.replace(
                "/var/log/nginx/ecii-reused.log", str(reused_log(gatekeeper_port))
            )
            (root / "ecii-node-locations.conf").write_text(node_locations)
        else:
            (root / "ecii-node-locations.conf").write_text(locations)
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
        temp = "\n".join(
            f"    {kind}_temp_path {root / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        self.config = root / "nginx.conf"
        self.config.write_text(
            f"""{user}
worker_processes 1;
pid {root / "nginx.pid"};
error_log {root / "logs" / "error.log"} warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    server_tokens off;
{temp}
    include {root / "ecii-node-http.conf"};
    server {{
        listen 127.0.0.1:{self.port};
        server_name localhost;
        include {root / "ecii-node-locations.conf"};
    }}
}}
"""
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: Process | None = None

    def start(self) -> None:
        args = [str(NGINX), "-p", str(self.root), "-c", str(self.config)]
        args += ["-e", str(self.root / "logs" / "error.log"), "-g", "daemon off;"]
        self.process = Process(args, self.root / "nginx.out")

        def listening():
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True

        wait_until(listening, what="nginx")


@dataclass
class StandInPortal:
    """The portal's side of the node's conversation, signed with a test key."""

    audience: str
    client_secret: str
    ttl: int = 2
    key: ECKey = field(
        default_factory=lambda: ECKey.generate_key("P-256", private=True, auto_kid=True)
    )
    status_list: StatusList = field(default_factory=lambda: StatusList(bits=2))
    studies: dict[str, StudyEntry] = field(default_factory=dict)
    node_key: dict | None = None  # the node's public JWK, registered with its credentials
    reports: list[dict] = field(default_factory=list)
    report_posts: int = 0
    refused_report_posts: int = 0
    study_map_fetches: int = 0
    study_map_override: str | None = None  # served instead of the signed map when set
    # The consent exclusion list, served whole at every request: the permit of this portal's
    # tokens, and the subjects the test excludes under it.
    permit: str = "PERMIT-2026-0001"
    excluded_subjects: set[str] = field(default_factory=set)
    exclusions_version: int = 1

    def __post_init__(self):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.status_uri = f"{self.issuer}/access/status-lists/1"
        self.jwks_url = f"{self.issuer}/.well-known/jwks.json"
        self.study_map_url = f"{self.issuer}/access/nodes/{self.audience}/study-map"
        self.reports_url = f"{self.issuer}/access/nodes/reports"
        self.exclusions_url = f"{self.issuer}/access/nodes/{self.audience}/exclusions"
        self._next_idx = 0
        self.lock = threading.Lock()
        self.status_list.set(4095, 0)  # a list of fixed size, as the portal allocates it

    def sign(self, claims: dict, typ: str, *, key: ECKey | None = None) -> str:
        key = key or self.key
        header = {"alg": "ES256", "typ": typ, "kid": key.kid}
        return jwt.encode(header, claims, key, algorithms=["ES256"])

    def token(self, *, datasets, lifetime=600, key=None, typ=TOKEN_TYPE, **overrides) -> str:
        """An access token as the portal issues it, with a fresh status list entry."""
        now = int(time.time())
        with self.lock:
            idx, self._next_idx = self._next_idx, self._next_idx + 1
            self.status_list.set(idx, 0)
        claims = {
            "iss": self.issuer,
            "sub": "researcher-pseudonym-1",
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + min(lifetime, MAX_LIFETIME),
            "jti": str(uuid.uuid4()),
            "client_id": "ecii-portal",
            "permit": self.permit,
            "purpose": "scientific_research",
            "scope": SCOPE_READ,
            "datasets": list(datasets),
            "status": {"status_list": {"idx": idx, "uri": self.status_uri}},
        }
        claims.update(overrides)
        return self.sign(claims, typ, key=key)

    @staticmethod
    def claims_of(token: str) -> dict:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))

    def set_status(self, token: str, value: int) -> None:
        with self.lock:
            self.status_list.set(self.claims_of(token)["status"]["status_list"]["idx"], value)

    def study_map(self, *, key: ECKey | None = None, typ: str = MAP_TYPE, **overrides) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": self.study_map_url,
            "aud": self.audience,
            "iat": now,
            "exp": now + 3600,
            "ttl": 300,
            "studies": StudyMap(self.audience, self.studies).to_claims(),
            **overrides,
        }
        return self.sign(claims, typ, key=key)

    def exclude(self, subject: str) -> None:
        """The subject withdraws: from the next version of the exclusion list on."""
        with self.lock:
            self.excluded_subjects.add(subject)
            self.exclusions_version += 1

    def exclusions(self) -> str:
        now = int(time.time())
        with self.lock:
            entries = exclusion_list.entries_of(
                permits=[self.permit],
                excluded=[],
                subjects={s: (now, True) for s in self.excluded_subjects},
            )
            version = self.exclusions_version
        claims = {
            "iss": self.issuer,
            "sub": self.exclusions_url,
            "aud": self.audience,
            "iat": now,
            "exp": now + 3600,
            "ttl": self.ttl,
            "version": version,
            **entries.to_claims(),
        }
        return self.sign(claims, exclusion_list.LIST_TYPE)

    def status_list_token(self) -> str:
        now = int(time.time())
        with self.lock:
            claims = list_claims(
                uri=self.status_uri,
                status_list=self.status_list,
                iat=now,
                ttl=self.ttl,
                exp=now + self.ttl * 2,
            )
        claims["iss"] = self.issuer
        return self.sign(claims, LIST_TYPE)

    def node_authenticated(self, header: str | None) -> bool:
        expected = node_config_basic(self.audience, self.client_secret)
        return header == expected

    def receive_report(self, body: bytes) -> int:
        decoded = jwt.decode(
            body.decode(), KeySet.import_key_set({"keys": [self.node_key]}), algorithms=["ES256"]
        )
        if decoded.header.get("typ") != REPORT_TYPE or decoded.claims.get("iss") != self.audience:
            return 400
        read_batch(decoded.claims)  # the shape the portal accepts
        with self.lock:
            if all(r["jti"] != decoded.claims["jti"] for r in self.reports):
                self.reports.append(dict(decoded.claims))
        return 201

    def events(self) -> list[dict]:
        with self.lock:
            return [event for report in self.reports for event in report["events"]]

    def start(self) -> None:
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status, body=b"", kind="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/.well-known/jwks.json":
                    keys = {"keys": [portal.key.as_dict(private=False)]}
                    return self._answer(200, json.dumps(keys).encode())
                if self.path == "/access/status-lists/1":
                    return self._answer(200, portal.status_list_token().encode(), MEDIA_TYPE)
                if self.path == f"/access/nodes/{portal.audience}/study-map":
                    if not portal.node_authenticated(self.headers.get("Authorization")):
                        return self._answer(401)
                    portal.study_map_fetches += 1
                    document = portal.study_map_override or portal.study_map()
                    return self._answer(200, document.encode(), "application/jwt")
                path = self.path.partition("?")[0]
                if path == f"/access/nodes/{portal.audience}/exclusions":
                    if not portal.node_authenticated(self.headers.get("Authorization")):
                        return self._answer(401)
                    document = portal.exclusions().encode()
                    return self._answer(200, document, exclusion_list.MEDIA_TYPE)
                return self._answer(404)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/access/nodes/reports":
                    return self._answer(404)
                portal.report_posts += 1
                if not portal.node_authenticated(self.headers.get("Authorization")):
                    portal.refused_report_posts += 1
                    return self._answer(401)
                return self._answer(portal.receive_report(body))

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def node_config_basic(client_id: str, secret: str) -> str:
    """client_secret_basic as RFC 6749 section 2.3.1 writes it (computed here independently)."""
    pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


@dataclass
class PortalLink:
    """What a node operator writes into ``gatekeeper.toml`` about the portal (docs/node.md):
    its issuer, its endpoints, and the node's audience and client secret there. The stand-in
    portal has the same attributes."""

    issuer: str
    audience: str
    client_secret: str
    jwks_url: str
    study_map_url: str
    reports_url: str


def new_report_key(path: Path) -> dict:
    """The node's report-signing key made as docs/node.md says (``python3 -m
    access.node.gatekeeper new-key PATH``): the private JWK is written to ``path``, and the
    public JWK it prints (to register at the portal) is returned."""
    done = subprocess.run(
        [sys.executable, "-m", "access.node.gatekeeper", "new-key", str(path)],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout)


class GatekeeperProcess:
    """The gatekeeper with a configuration file, secret files and a node key written here.

    ``portal`` is the stand-in portal (which then gets the node's public key as ``node_key``)
    or a :class:`PortalLink` to the real one; ``key_file`` is a report-signing key made
    beforehand (:func:`new_report_key`) instead of a new one; ``port`` a port chosen
    beforehand (nginx started with it)."""

    def __init__(
        self,
        root: Path,
        portal: "StandInPortal | PortalLink",
        *,
        operators: dict[str, str],
        port: int | None = None,
        key_file: Path | None = None,
        **settings,
    ):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        secret_file = root / "client-secret"
        node_config.write_secret_file(secret_file, portal.client_secret)
        if key_file is None:
            key = ECKey.generate_key(
                "P-256", {"use": "sig", "alg": "ES256"}, private=True, auto_kid=True
            )
            key_file = root / "report-key.jwk"
            node_config.write_secret_file(key_file, json.dumps(key.as_dict(private=True)))
            if isinstance(portal, StandInPortal):
                portal.node_key = key.as_dict(private=False)
        self.orthanc_url = settings.pop("orthanc_url")
        timing = {
            "study_map_refresh": 60,
            "report_interval": 0.3,
            "leeway": 5,
            "jwks_refresh_floor": 1,
            **settings,
        }
        lines = [
            "[gatekeeper]",
            f'listen = "127.0.0.1:{self.port}"',
            f'state_dir = "{root / "state"}"',
            f'reused_log = "{reused_log(self.port)}"',
            *(f"{name} = {value}" for name, value in timing.items()),
            "[portal]",
            f'issuer = "{portal.issuer}"',
            f'jwks_url = "{portal.jwks_url}"',
            f'study_map_url = "{portal.study_map_url}"',
            f'reports_url = "{portal.reports_url}"',
            "[node]",
            f'audience = "{portal.audience}"',
            f'client_secret_file = "{secret_file}"',
            f'signing_key_file = "{key_file}"',
            "[orthanc]",
            f'dicomweb_url = "{self.orthanc_url}/dicom-web"',
            "[operators]",
            *(f'{name} = "{node_config.hash_secret(s)}"' for name, s in operators.items()),
        ]
        self.config = root / "gatekeeper.toml"
        self.config.write_text("\n".join(lines) + "\n")
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: Process | None = None

    def start(self) -> None:
        self.process = Process(
            [sys.executable, "-m", "access.node.gatekeeper", "--config", str(self.config)],
            self.root / "gatekeeper.log",
            cwd=REPOSITORY,
            env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
        )

        def ready():
            if not self.process.alive():
                raise RuntimeError("the gatekeeper exited:\n" + self.process.tail())
            status, _headers, body = http("GET", self.url + "/healthz", timeout=1)
            return status == 200 and json.loads(body)["study_map"]

        wait_until(ready, what="the gatekeeper")


@dataclass
class Study:
    uid: str
    series: list[str]
    instances: list[tuple[str, str]]  # (series, SOP instance)
    subject: str


def load_studies(
    orthanc: Orthanc,
    root: Path,
    *,
    subjects: list[str],
    series: int = 1,
    instances: int = 2,
    size: int = 8,
    folder: str = "dicom",
) -> list[Study]:
    """De-identified studies, one per subject, stored through Orthanc's loopback REST API; the
    DICOM files stay in ``root / folder`` (for the portal's catalogue to index the same ones)."""
    studies = []
    for subject in subjects:
        study_uid, series_uids, sops = uid(), [], []
        for _ in range(series):
            series_uid = uid()
            series_uids.append(series_uid)
            for _ in range(instances):
                dataset = deidentified(
                    patient_id=subject,
                    study_uid=study_uid,
                    series_uid=series_uid,
                    Rows=size,
                    Columns=size,
                    PixelData=os.urandom(size * size * 2),
                )
                path = write(dataset, root / folder / f"{dataset.SOPInstanceUID}.dcm")
                orthanc.store(dcmread(path))
                sops.append((series_uid, dataset.SOPInstanceUID))
        studies.append(Study(study_uid, series_uids, sops, subject))
    return studies


@dataclass
class Node:
    orthanc: Orthanc
    nginx: Nginx
    gatekeeper: GatekeeperProcess
    portal: StandInPortal
    permitted_dataset: str
    other_dataset: str
    permitted: list[Study]
    other: list[Study]
    unmapped: list[Study]
    operator: tuple[str, str]

    @property
    def dicomweb(self) -> str:
        return self.nginx.url + "/dicom-web"

    def stop(self) -> None:
        for process in (self.nginx.process, self.gatekeeper.process, self.orthanc.process):
            if process is not None:
                process.stop()
        self.portal.stop()

    def logs(self) -> str:
        parts = []
        for name, process in (
            ("gatekeeper", self.gatekeeper.process),
            ("nginx", self.nginx.process),
            ("orthanc", self.orthanc.process),
        ):
            if process is not None:
                parts.append(f"--- {name}\n{process.tail()}")
        errors = self.nginx.root / "logs" / "error.log"
        if errors.exists():
            parts.append("--- nginx error.log\n" + errors.read_text()[-2000:])
        return "\n".join(parts)


def start_orthanc(
    root: Path, groups: dict[str, list[str]], **shape
) -> tuple[Orthanc, dict[str, list[Study]]]:
    """Orthanc on loopback with a de-identified study per subject of each group, stored in the
    order given; the files of group ``g`` stay in ``root / "dicom" / g``. Skips (fails in CI)
    without the Debian packages."""
    require_node_binaries()
    orthanc = Orthanc(root / "orthanc")
    orthanc.start()
    try:
        loaded = {
            group: load_studies(orthanc, root, subjects=subjects, folder=f"dicom/{group}", **shape)
            for group, subjects in groups.items()
        }
    except BaseException:
        orthanc.process.stop()
        raise
    return orthanc, loaded


def start_node(
    root: Path,
    *,
    permitted=2,
    other=1,
    unmapped=1,
    series=1,
    instances=2,
    size=8,
    **gatekeeper_settings,
) -> Node:
    """Start a whole node with studies of two datasets (and one study the map does not know)."""
    # The other dataset's studies first: a search that pages before it filters shows it.
    orthanc, loaded = start_orthanc(
        root,
        {
            "other": [f"SUBJ-O{i}" for i in range(other)],
            "permitted": [f"SUBJ-P{i}" for i in range(permitted)],
            "unmapped": [f"SUBJ-U{i}" for i in range(unmapped)],
        },
        series=series,
        instances=instances,
        size=size,
    )
    other_studies, permitted_studies = loaded["other"], loaded["permitted"]
    unmapped_studies = loaded["unmapped"]
    try:
        portal = StandInPortal(audience="urn:ecii:node:test-node", client_secret=uuid.uuid4().hex)
        permitted_dataset, other_dataset = str(uuid.uuid4()), str(uuid.uuid4())
        for dataset, studies in (
            (permitted_dataset, permitted_studies),
            (other_dataset, other_studies),
        ):
            for study in studies:
                portal.studies[study.uid] = StudyEntry(dataset=dataset, subject=study.subject)
        portal.start()
        operator = ("alice", node_config.new_operator_secret())
        gatekeeper = GatekeeperProcess(
            root / "gatekeeper",
            portal,
            operators=dict([operator]),
            orthanc_url=orthanc.url,
            **gatekeeper_settings,
        )
        nginx = Nginx(
            root / "nginx", orthanc_port=orthanc.http_port, gatekeeper_port=gatekeeper.port
        )
        node = Node(
            orthanc,
            nginx,
            gatekeeper,
            portal,
            permitted_dataset,
            other_dataset,
            permitted_studies,
            other_studies,
            unmapped_studies,
            operator,
        )
    except BaseException:
        orthanc.process.stop()
        raise
    try:
        gatekeeper.start()
        nginx.start()
    except BaseException:
        logs = node.logs()
        node.stop()
        raise RuntimeError("the node did not start:\n" + logs) from None
    return node
