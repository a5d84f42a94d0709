"""Caps on the size of request bodies, enforced before a byte of the body is read.

Every route accepts at most ``settings.REQUEST_BODY_MAX_BYTES``; the few routes that take
uploads (named in ``settings.REQUEST_BODY_UPLOAD_CAPS``) accept more. A request whose declared
``Content-Length`` is over the cap of its route is answered 413 at once, without reading the
body: problem details (RFC 9457) under ``/api/``, an OperationOutcome under the FHIR API, a
short page elsewhere.

Under WSGI the body is read only through Django's stream, which stops at ``Content-Length``, so
checking the declared length is enough. Under ASGI, Django reads the whole body before any
middleware runs, so ``portal/asgi.py`` wraps the application in ``BodyCapASGI``: it applies the
same check to the declared length and counts a streamed (chunked) body as it arrives, stopping
as soon as it passes the cap.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.handlers.asgi import get_script_prefix
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from django.utils.csp import build_policy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from portal.api_errors import API_PREFIX, FHIR_PREFIX, fhir_outcome, problem


def body_cap(path_info: str) -> int:
    """The largest body, in bytes, that the route at ``path_info`` accepts."""
    try:
        view_name = resolve(path_info).view_name
    except Resolver404:
        return settings.REQUEST_BODY_MAX_BYTES
    return settings.REQUEST_BODY_UPLOAD_CAPS.get(view_name, settings.REQUEST_BODY_MAX_BYTES)


def declared_length(value: str | bytes | None) -> int | None:
    """The body length a request declares, or None when it declares none (or nonsense)."""
    if value is None:
        return None
    try:
        length = int(value)
    except ValueError:
        return None
    return length if length >= 0 else None


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MB"


def too_large(path_info: str, cap: int) -> HttpResponse:
    """The 413 answer: problem details under /api/, a page elsewhere. It carries its own
    security headers because under ASGI it is sent without passing through the middleware."""
    message = _("The request is larger than this address accepts (at most %(limit)s).") % {
        "limit": _megabytes(cap)
    }
    if path_info.startswith("/api/"):
        response = problem(413, message)
    elif path_info.startswith(FHIR_PREFIX):
        response = fhir_outcome(413, message)
    else:
        response = HttpResponse(
            render_to_string("413.html", {"message": message}),
            status=413,
            content_type="text/html; charset=utf-8",
        )
        if settings.SECURE_CSP:
            response["Content-Security-Policy"] = build_policy(settings.SECURE_CSP)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


class RequestBodyCapMiddleware:
    """Refuses with 413, unread, a body declared larger than its route's cap."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = declared_length(request.META.get("CONTENT_LENGTH"))
        if length:
            cap = body_cap(request.path_info)
            if length > cap:
                return too_large(request.path_info, cap)
        return self.get_response(request)


class BodyCapASGI:
    """Wraps the ASGI application: the route's cap holds before Django reads the body.

    A declared ``Content-Length`` over the cap is answered 413 without receiving the body. A
    body without one is counted as it arrives; once past the cap, Django is told the client
    left (so it stops reading and answers nothing) and the 413 is sent instead.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path_info = _path_info(scope)
        headers = dict(scope.get("headers") or [])
        length = declared_length(headers.get(b"content-length"))
        cap = body_cap(path_info)
        if length is not None and length > cap:
            await _send(send, too_large(path_info, cap))
            return None
        received = 0
        refused = False

        async def capped_receive():
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, capped_receive, send)
        if refused:
            await _send(send, too_large(path_info, cap))
        return None


def _path_info(scope) -> str:
    path = scope["path"]
    prefix = get_script_prefix(scope).rstrip("/")
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        path = path[len(prefix) :]
    return path or "/"


async def _send(send, response: HttpResponse) -> None:
    body = response.content
    headers = [(b"content-length", str(len(body)).encode("latin1"))]
    headers += [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in response.items()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _way_back(request: HttpRequest) -> str:
    """The page to go back to: the referring page of this site, else the nearest address
    above this one that is a page (``/access/permits/4/tokens/`` → ``/access/permits/4/``)."""
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    parts = request.path_info.rstrip("/").split("/")
    while len(parts) > 1:
        parts.pop()
        candidate = "/".join(parts) + "/"
        try:
            resolve(candidate)
        except Resolver404:
            continue
        return request.path.removesuffix(request.path_info) + candidate
    return ""


class MethodNotAllowedPageMiddleware:
    """A page, not an empty 405, for an address that takes only a form's answer when it is
    opened on its own (a bookmark, the address bar after a form error was shown there): what
    it is, and a way back. The APIs keep their own 405 answers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 405
            and request.method in ("GET", "HEAD")
            and not response.content
            and not request.path_info.startswith((API_PREFIX, FHIR_PREFIX))
        ):
            page = render(request, "405.html", {"back": _way_back(request)}, status=405)
            page["Allow"] = response.get("Allow", "POST")
            return page
        return response
