"""Request bodies are capped per route and refused with 413 before they are read: under WSGI
by the declared Content-Length, under ASGI also while a streamed body arrives."""

import asyncio
import json
import re
import sys

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import ClientHandler
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from access.models import Application
from portal.api_errors import PROBLEM_JSON

BOUNDARY = "capboundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
MB = 1024 * 1024


class RecordingBody:
    """A request body made on demand (``head``, ``size`` filler bytes, ``tail``), recording how
    much of it the server read, so a test can send gigabytes without holding them."""

    def __init__(self, size: int, head: bytes = b"", tail: bytes = b""):
        self.parts = [(head, len(head)), (None, size), (tail, len(tail))]
        self.length = len(head) + size + len(tail)
        self.read_bytes = 0

    def _bytes(self, start: int, end: int) -> bytes:
        out, offset = [], 0
        for data, size in self.parts:
            lo, hi = max(start, offset), min(end, offset + size)
            if lo < hi:
                out.append(b"0" * (hi - lo) if data is None else data[lo - offset : hi - offset])
            offset += size
        return b"".join(out)

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            size = self.length - self.read_bytes
        end = min(self.length, self.read_bytes + size)
        data = self._bytes(self.read_bytes, end)
        self.read_bytes = end
        return data

    def readline(self, size: int = -1, /) -> bytes:
        end = self.length if size is None or size < 0 else min(self.length, self.read_bytes + size)
        data = self._bytes(self.read_bytes, end)
        line = data[: data.index(b"\n") + 1] if b"\n" in data else data
        self.read_bytes += len(line)
        return line


def _file_body(size: int, name: str = "file") -> RecordingBody:
    """A multipart body with one PDF of about ``size`` bytes in the field ``name``."""
    head = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name={name!r}; filename=a.pdf\r\n"
        "Content-Type: application/pdf\r\n\r\n%PDF-1.7\n"
    ).replace("'", '"')
    return RecordingBody(size, head.encode(), f"\r\n--{BOUNDARY}--\r\n".encode())


def _post(path: str, body: RecordingBody, *, content_type: str = MULTIPART, cookie: str = ""):
    """POST ``body`` through Django's WSGI handler, as a server would hand it over."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "HTTP_COOKIE": cookie,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(body.length),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    return ClientHandler(enforce_csrf_checks=False)(environ)


def _session(client) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_it_refuses_a_40_mb_ethics_upload_without_reading_it(access, client_for, tmp_path):
    before = Application.objects.filter(pk=access.draft.pk).values().get()
    cookie = _session(client_for("researcher"))
    api = reverse("access_api:application_ethics", kwargs={"pk": access.draft.pk})
    body = _file_body(40 * MB)
    response = _post(api, body, cookie=cookie)
    assert response.status_code == 413
    assert response["Content-Type"] == PROBLEM_JSON
    assert json.loads(response.content)["status"] == 413
    assert "at most 12.5 MB" in json.loads(response.content)["detail"]
    assert body.read_bytes == 0

    page = reverse("access:application_edit", args=[access.draft.pk])
    body = _file_body(40 * MB, name="ethics_approval")
    response = _post(page, body, cookie=cookie)
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert b"Request too large" in response.content and b"Nothing was saved" in response.content
    assert body.read_bytes == 0
    assert Application.objects.filter(pk=access.draft.pk).values().get() == before
    assert not any(tmp_path.iterdir())


def _routes(patterns, prefix=""):
    """(path, view name) of every route, with sample values for its parameters."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            if "^" in route or "(?P" in route:
                continue  # a regular expression (the admin's catch-all), reached by others
            path = re.sub(r"<(?:int|id):\w+>", "1", route)
            path = re.sub(r"<(?:\w+:)?\w+>", "x", path)
            yield "/" + path, resolve("/" + path).view_name


ROUTES = sorted(set(_routes(get_resolver().url_patterns)))


def test_it_knows_every_upload_route():
    names = {name for _, name in ROUTES}
    assert set(settings.REQUEST_BODY_UPLOAD_CAPS) <= names
    assert len(ROUTES) > 70


@pytest.mark.parametrize(("path", "name"), ROUTES, ids=[name for _, name in ROUTES])
def test_it_caps_the_body_of_every_route(db, client_for, path, name):
    cap = settings.REQUEST_BODY_UPLOAD_CAPS.get(name, settings.REQUEST_BODY_MAX_BYTES)
    body = RecordingBody(cap + 1)
    response = _post(
        path, body, content_type="application/json", cookie=_session(client_for("researcher"))
    )
    assert response.status_code == 413
    assert body.read_bytes == 0
    if path.startswith("/api/"):
        assert response["Content-Type"] == PROBLEM_JSON
        assert json.loads(response.content)["status"] == 413
        assert json.loads(response.content)["detail"].startswith("The request is larger")
    elif path.startswith("/fhir/"):  # FHIR's error resource
        assert response["Content-Type"] == "application/fhir+json; fhirVersion=5.0"
        (issue,) = json.loads(response.content)["issue"]
        assert issue["code"] == "too-long"
        assert issue["diagnostics"].startswith("The request is larger")
    else:
        assert response["Content-Type"].startswith("text/html")


def test_it_allows_a_larger_body_only_where_uploads_are_expected(access, client_for):
    researcher = client_for("researcher")
    size = settings.REQUEST_BODY_MAX_BYTES + MB  # over the cap of other routes
    pdf = SimpleUploadedFile("a.pdf", b"%PDF-1.7\n" + b"0" * size)
    url = reverse("access_api:application_ethics", kwargs={"pk": access.draft.pk})
    assert researcher.post(url, {"file": pdf}).status_code == 200
    url = reverse("access_api:application", kwargs={"pk": access.draft.pk})
    patch = {"tools": "x" * size}
    response = researcher.patch(url, json.dumps(patch), content_type="application/json")
    assert response.status_code == 413
    assert Application.objects.get(pk=access.draft.pk).tools != patch["tools"]


# --- ASGI -----------------------------------------------------------------------------------


def _asgi(path: str, chunks: int, *, declared: int | None = None, chunk: int = 64 * 1024):
    """Run ``portal.asgi.application`` on a POST streamed in ``chunks`` messages; return the
    status, headers and body sent, and how many body bytes the application received."""
    from portal.asgi import application

    received = {"bytes": 0, "messages": 0}
    sent = []
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if declared is not None:
        headers.append((b"content-length", str(declared).encode()))

    async def receive():
        if received["messages"] >= chunks:
            await asyncio.sleep(3600)  # the client waits for the answer
        received["messages"] += 1
        received["bytes"] += chunk
        return {"type": "http.request", "body": b"0" * chunk,
                "more_body": received["messages"] < chunks}  # fmt: skip

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(asyncio.wait_for(application(scope, receive, send), timeout=60))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body, received["bytes"]


def test_it_stops_reading_a_streamed_body_past_the_cap_under_asgi():
    # 40 MB sent without a Content-Length (chunked): reading stops at the cap.
    status, headers, body, received = _asgi("/api/access/applications/", chunks=640)
    assert status == 413
    assert headers[b"content-type"] == PROBLEM_JSON.encode()
    assert json.loads(body)["detail"].startswith("The request is larger")
    assert received <= settings.REQUEST_BODY_MAX_BYTES + 64 * 1024


def test_it_refuses_a_declared_length_under_asgi_without_receiving_the_body():
    cap = settings.REQUEST_BODY_UPLOAD_CAPS["access_api:application_ethics"]
    status, headers, _, received = _asgi(
        "/api/access/applications/1/ethics-approval/", chunks=1000, declared=40 * MB
    )
    assert (status, received) == (413, 0)
    assert cap < 40 * MB and headers[b"x-content-type-options"] == b"nosniff"
