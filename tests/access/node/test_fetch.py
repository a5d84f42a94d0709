"""How the node fetches the portal's documents: over a real HTTP server on loopback, HTTPS only
elsewhere, no redirects, a timeout and a size cap; and which status list URIs lie under the
issuer."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from access.node.fetch import FetchError, HttpFetcher, check_url, is_under
from access.node.reasons import Reason

from .stand_in import Clock, portal_over_http


class Handler(BaseHTTPRequestHandler):
    """Answers by path: what each test needs a server to do wrong."""

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers)))  # type: ignore[attr-defined]
        if self.path == "/ok":
            self.answer(200, b'{"keys": []}')
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/missing":
            self.answer(404, b"not found")
        elif self.path == "/error":
            self.answer(500, b"oops")
        elif self.path == "/large":
            self.answer(200, b"x" * 2048)
        elif self.path == "/large-unannounced":
            self.send_response(200)
            self.end_headers()  # no Content-Length: read until the connection closes
            self.wfile.write(b"x" * 2048)
            self.close_connection = True
        elif self.path == "/slow":
            time.sleep(2)
            self.answer(200, b"late")
        elif self.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(100):  # ten bytes every 50 ms, each read within the timeout
                self.wfile.write(b"x" * 10)
                self.wfile.flush()
                time.sleep(0.05)
        elif self.path == "/no-content":
            self.answer(204, b"")

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url(server, path):
    return f"http://127.0.0.1:{server.server_port}{path}"


def test_it_fetches_a_document_with_its_accept_and_headers(server):
    fetch = HttpFetcher(headers={"Authorization": "Basic bm9kZTpzZWNyZXQ="})
    assert fetch(url(server, "/ok"), accept="application/jwk-set+json") == b'{"keys": []}'
    path, headers = server.requests[-1]
    assert path == "/ok"
    assert headers["Accept"] == "application/jwk-set+json"
    assert headers["Authorization"] == "Basic bm9kZTpzZWNyZXQ="


@pytest.mark.parametrize("path", ["/missing", "/error", "/no-content"])
def test_anything_but_200_is_a_failure(server, path):
    with pytest.raises(FetchError):
        HttpFetcher()(url(server, path), accept="*/*")


def test_it_follows_no_redirect(server):
    before = len(server.requests)
    with pytest.raises(FetchError, match="302"):
        HttpFetcher()(url(server, "/redirect"), accept="*/*")
    assert [path for path, _ in server.requests[before:]] == ["/redirect"]


@pytest.mark.parametrize("path", ["/large", "/large-unannounced"])
def test_a_document_over_the_cap_is_refused(server, path):
    with pytest.raises(FetchError, match="larger than 1024 bytes"):
        HttpFetcher(max_bytes=1024)(url(server, path), accept="*/*")
    assert HttpFetcher(max_bytes=4096)(url(server, path), accept="*/*") == b"x" * 2048


def test_a_slow_portal_times_out(server):
    started = time.monotonic()
    with pytest.raises(FetchError):
        HttpFetcher(timeout=0.3)(url(server, "/slow"), accept="*/*")
    assert time.monotonic() - started < 1.5


def test_a_portal_trickling_its_answer_is_cut_off_at_the_deadline(server):
    started = time.monotonic()
    with pytest.raises(FetchError, match="took longer"):
        HttpFetcher(timeout=1, deadline=0.5)(url(server, "/trickle"), accept="*/*")
    assert time.monotonic() - started < 1.5


def test_a_closed_port_is_a_failure():
    closed = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = closed.server_port
    closed.server_close()
    with pytest.raises(FetchError):
        HttpFetcher(timeout=1)(f"http://127.0.0.1:{port}/ok", accept="*/*")


@pytest.mark.parametrize(
    "address",
    [
        "http://portal.example.org/.well-known/jwks.json",  # plain HTTP off this machine
        "http://10.0.0.1/jwks.json",
        "file:///etc/passwd",
        "ftp://portal.example.org/jwks.json",
        "data:,{}",
        "https://user:secret@portal.example.org/jwks.json",
        "https:///jwks.json",
        "https://portal.example.org:99999/jwks.json",
        "jwks.json",
        "",
    ],
)
def test_it_refuses_urls_it_may_not_fetch(address):
    with pytest.raises(FetchError):
        check_url(address)
    with pytest.raises(FetchError):
        HttpFetcher()(address, accept="*/*")


@pytest.mark.parametrize(
    "address",
    [
        "https://portal.example.org/.well-known/jwks.json",
        "http://127.0.0.1:8000/.well-known/jwks.json",
        "http://localhost/.well-known/jwks.json",
        "http://[::1]:8000/.well-known/jwks.json",
    ],
)
def test_https_or_loopback_may_be_fetched(address):
    check_url(address)


@pytest.mark.parametrize(
    ("uri", "under"),
    [
        ("https://portal.example.org/access/status-lists/1", True),
        ("https://PORTAL.example.org/access/status-lists/1", True),
        ("https://portal.example.org/", False),
        ("https://portal.example.org.evil.example/access/status-lists/1", False),
        ("https://portal.example.org@evil.example/1", False),
        ("https://evil.example/?https://portal.example.org/1", False),
        ("https://portal.example.org/a/%2E%2E/b", False),
        ("https://portal.example.org/a\\..\\b", False),
        ("https://portal.example.org/a\tb", False),
    ],
)
def test_a_status_list_lies_under_the_issuer_or_not(uri, under):
    assert is_under(uri, "https://portal.example.org") is under


def test_an_issuer_with_a_path_holds_only_what_is_below_it():
    issuer = "https://example.org/portal"
    assert is_under("https://example.org/portal/access/status-lists/1", issuer)
    assert not is_under("https://example.org/portal-evil/access/status-lists/1", issuer)
    assert not is_under("https://example.org/other/access/status-lists/1", issuer)


def test_a_verifier_over_http_fetches_keys_and_lists_from_the_portal():
    with portal_over_http(Clock(time.time())) as portal:
        verifier = portal.verifier()
        token = portal.token()
        assert verifier.verify(token).allowed
        assert verifier.stats.jwks_fetches == 1 and verifier.stats.status_fetches == 1
        portal.down = True  # answers 404 from now on
        assert portal.verifier().verify(portal.token()).reason is Reason.KEYS_UNAVAILABLE
    assert portal.fetched == [portal.jwks_url, portal.list_uri, portal.jwks_url]
