"""What every FHIR interaction shares: content negotiation, answers in FHIR JSON, refusals as
OperationOutcome, the session and its CSRF check, and reading a resource from the body.

Order of the checks, for every route: the method (405), the format the client accepts (406),
a session (403, as for the portal's JSON API: the API uses the session, so there is no
authentication scheme to name in a 401), the CSRF token for writes (403), then the
interaction itself (which checks the body's type, 415, and then the resource, 400).
"""

import json
from collections.abc import Callable, Mapping, Sequence
from email.utils import format_datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.cache import get_conditional_response
from django.views.decorators.csrf import csrf_exempt

from consent.fhir import Issue, operation_outcome
from consent.models import ConsentVersion
from portal.models import User
from portal.workflow import NotPermitted

FHIR_JSON = "application/fhir+json"
CONTENT_TYPE = "application/fhir+json; fhirVersion=5.0"
FHIR_VERSION = "5.0"
# Media types the API reads and writes (FHIR JSON, and plain JSON for simple clients).
JSON_TYPES = frozenset({FHIR_JSON, "application/json"})
# What ``_format`` may say (FHIR's short name, or a media type).
FORMATS = frozenset({"json", "fhir+json", *JSON_TYPES})
ACCEPT_ANY = frozenset({"*/*", "application/*"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# OperationOutcome issue type for a status without issues of its own.
ISSUE_TYPES = {
    400: "invalid",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-long",
    415: "not-supported",
}

Handler = Callable[..., HttpResponse]


class FhirError(Exception):
    """A refusal, answered with ``status`` and an OperationOutcome of ``issues``."""

    def __init__(
        self,
        status: int,
        issues: Sequence[Issue] | str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(issues, str):
            issues = [Issue("", issues, ISSUE_TYPES.get(status, "processing"))]
        super().__init__(issues[0].message if issues else str(status))
        self.status = status
        self.issues = list(issues)
        self.headers = dict(headers or {})


def fhir_response(
    body: Mapping[str, Any] | None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """FHIR JSON (``application/fhir+json; fhirVersion=5.0``); no body for ``None``."""
    content = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    response = HttpResponse(content, status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def outcome_response(error: FhirError) -> HttpResponse:
    response = fhir_response(
        operation_outcome(error.issues), status=error.status, headers=error.headers
    )
    response["Cache-Control"] = "no-store"
    return response


def etag(version: ConsentVersion) -> str:
    return f'W/"{version.version}"'


def conditional(
    request: HttpRequest, version: ConsentVersion, response: HttpResponse
) -> HttpResponse:
    """FHIR's conditional read: 304 Not Modified, without the resource, when ``If-None-Match``
    names this version's ETag or ``If-Modified-Since`` is not before its last update (RFC 9110
    13, as Django's conditional GET applies it); ``response`` otherwise."""
    answer = get_conditional_response(
        request,
        etag=etag(version),
        last_modified=int(version.last_updated.timestamp()),
        response=response,
    )
    return answer if answer is not None else response


def version_headers(version: ConsentVersion) -> dict[str, str]:
    """``ETag`` (the version, weak) and ``Last-Modified`` of a stored version."""
    return {
        "ETag": etag(version),
        "Last-Modified": format_datetime(version.last_updated, usegmt=True),
        "Cache-Control": "private, no-cache",
    }


# ---------------------------------------------------------------------------------------------
# Media types


def _media_ranges(header: str) -> list[tuple[str, dict[str, str]]]:
    ranges = []
    for item in header.split(","):
        kind, *params = item.split(";")
        parameters = {}
        for param in params:
            name, _, value = param.partition("=")
            parameters[name.strip().lower()] = value.strip().strip('"')
        if kind.strip():
            ranges.append((kind.strip().lower(), parameters))
    return ranges


def _fhir_version_ok(parameters: Mapping[str, str]) -> bool:
    version = parameters.get("fhirversion")
    return version is None or version in (FHIR_VERSION, "5.0.0")


def _acceptable(header: str) -> bool:
    for kind, parameters in _media_ranges(header):
        try:
            weight = float(parameters.get("q", "1"))
        except ValueError:
            weight = 1.0
        if weight > 0 and (kind in ACCEPT_ANY or kind in JSON_TYPES):
            if kind == FHIR_JSON and not _fhir_version_ok(parameters):
                continue
            return True
    return False


def negotiate(request: HttpRequest) -> None:
    """Refuse (406) a client that accepts nothing the API writes: FHIR JSON, R5. ``_format``
    overrides the ``Accept`` header, as FHIR has it."""
    formats = request.GET.getlist("_format")
    if formats:
        if any(f.strip().lower() not in FORMATS for f in formats):
            raise FhirError(406, "This server writes JSON only: _format=json.")
        return
    header = request.headers.get("Accept", "").strip()
    if header and not _acceptable(header):
        raise FhirError(406, f"This server answers {FHIR_JSON} (FHIR R5) or application/json only.")


def read_resource(request: HttpRequest) -> object:
    """The JSON body of a create or update: 415 unless FHIR JSON (or JSON) in UTF-8, 400 when
    it is not JSON. Duplicate names and NaN or Infinity are not JSON FHIR accepts."""
    ranges = _media_ranges(request.headers.get("Content-Type", ""))
    kind, parameters = ranges[0] if len(ranges) == 1 else ("", {})
    charset = parameters.get("charset", "utf-8").lower()
    if kind not in JSON_TYPES or charset != "utf-8" or not _fhir_version_ok(parameters):
        raise FhirError(415, f"Send the resource as {FHIR_JSON} (FHIR R5), in UTF-8.")
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise FhirError(400, "The body is not UTF-8 text.") from None
    if not text.strip():
        raise FhirError(400, "The body is empty: send a Consent resource.")
    try:
        return json.loads(text, object_pairs_hook=_unique_names, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise FhirError(
            400, f"The body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    except ValueError as exc:
        raise FhirError(400, f"The body is not JSON FHIR accepts: {exc}.") from None
    except RecursionError:
        raise FhirError(400, "The body is nested too deeply.") from None


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"the property {repeated[0]!r} appears twice in one object")
    return dict(pairs)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


# ---------------------------------------------------------------------------------------------
# Session and CSRF


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> str:
        return reason


def _csrf_refusal(request: HttpRequest) -> str | None:
    check = _CsrfCheck(lambda _request: HttpResponse())
    check.process_request(request)
    reason = check.process_view(request, lambda _request: HttpResponse(), (), {})
    return reason if isinstance(reason, str) else None


def signed_in(request: HttpRequest) -> User:
    """The person of the session; 403 without one, and for a write without its CSRF token."""
    user = request.user
    if not isinstance(user, User) or not user.is_active:
        raise FhirError(
            403,
            [Issue("", "Sign in first: the FHIR API uses the portal's session.", "login")],
        )
    if request.method not in SAFE_METHODS:
        reason = _csrf_refusal(request)
        if reason:
            raise FhirError(
                403, f"Send the CSRF token in the X-CSRFToken header ({reason.rstrip('.')})."
            )
    return user


# ---------------------------------------------------------------------------------------------
# Routes


def endpoint(handlers: Mapping[str, Handler], *, public: bool = False) -> Handler:
    """A view answering each method of ``handlers`` (``handler(request, user, **url_kwargs)``,
    ``user`` the signed-in person, or ``None`` on ``public`` routes, which need no session),
    the checks of the module's docstring first. Refusals come
    as OperationOutcome: ``FhirError`` as it says, 404 for what does not exist or is not the
    caller's, 403 for what they may see but not change."""

    @csrf_exempt  # checked in ``signed_in``, for signed-in callers, as the portal's API does
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        try:
            method = request.method or ""
            # HEAD answers as GET does, without the body (RFC 9110 9.3.2).
            handler = handlers.get("GET" if method == "HEAD" else method)
            if handler is None:
                allowed = [*handlers, *(["HEAD"] if "GET" in handlers else [])]
                raise FhirError(
                    405,
                    f"This address does not answer {request.method}.",
                    headers={"Allow": ", ".join(allowed)},
                )
            negotiate(request)
            user = None if public else signed_in(request)
            response = handler(request, user, **kwargs)
            if method == "HEAD":
                response.content = b""
            return response
        except FhirError as error:
            return outcome_response(error)
        except Http404:
            return outcome_response(FhirError(404, "No such resource, or not yours to see."))
        except NotPermitted as refusal:
            return outcome_response(FhirError(403, str(refusal)))

    return view
