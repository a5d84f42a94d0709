"""Every error under ``/api/`` is answered in JSON, as RFC 9457 problem details; the pages keep
their HTML error pages.

One mapping from the services' refusals to HTTP, for every app's API (``exception_handler``,
DRF's ``EXCEPTION_HANDLER``), so the same refusal gets the same status everywhere:

============================== ====== ==================================================
refusal                        status extension members of the body
============================== ====== ==================================================
``portal.workflow.Incomplete`` 400    ``missing``: every item still needed
Django ``ValidationError``     400    ``errors``: field (or ``detail``) → messages
DRF input errors               400    ``errors``: field → messages
``NotPermitted``               403
not found / not yours          404
``InvalidTransition``          409
a body over the size limits    413
============================== ====== ==================================================

Every body has ``type`` (``about:blank``), ``title`` (the status phrase), ``status`` and
``detail`` (a sentence a person can read), and comes as ``application/problem+json``.

Outside the API views, so that no path through Django ends in an HTML page for an API client:

- ``bad_request``, ``permission_denied``, ``page_not_found`` and ``server_error`` (the URLconf's
  ``handler400/403/404/500``): outside the API views (an unknown path under ``/api/``, an
  exception before a view runs) they answer problem details; elsewhere they render the portal's
  HTML pages as before.
- ``ApiErrorsMiddleware``: with ``DEBUG`` on, Django answers 404 and 500 with its technical HTML
  pages without calling the handlers; this middleware turns any error response under ``/api/``
  that is not JSON (those pages, or a refusal by another middleware) into the same JSON.
  Under ``/fhir/`` (the FHIR API, whose views answer OperationOutcome themselves) it turns them
  into an OperationOutcome.
"""

import json
import logging
from http import HTTPStatus

from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from portal.workflow import Incomplete, InvalidTransition

API_PREFIX = "/api/"
PROBLEM_JSON = "application/problem+json"
FHIR_PREFIX = "/fhir/"
FHIR_JSON = "application/fhir+json; fhirVersion=5.0"
# OperationOutcome issue types for the errors that reach the middleware.
FHIR_ISSUE_TYPES = {400: "invalid", 403: "forbidden", 404: "not-found", 413: "too-long"}


def is_api(request: HttpRequest) -> bool:
    """True for a request to the JSON API (any path under ``/api/``)."""
    return request.path_info.startswith(API_PREFIX)


def is_fhir(request: HttpRequest) -> bool:
    """True for a request to the FHIR API (any path under ``/fhir/``)."""
    return request.path_info.startswith(FHIR_PREFIX)


def _is_json(response: HttpResponse) -> bool:
    content_type = response.get("Content-Type", "").split(";", 1)[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


def _too_large_detail(exc: SuspiciousOperation) -> str:
    if isinstance(exc, TooManyFilesSent):
        return _("The request has too many files.")
    if isinstance(exc, TooManyFieldsSent):
        return _("The request has too many fields.")
    return _("The request body is too large.")


CONTENT_TOO_LARGE = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


def _title(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:  # a status code without a standard phrase
        return "Error"


def problem_body(status_code: int, detail: str | None = None, **extensions) -> dict:
    """RFC 9457 members ``type``, ``title``, ``status``, ``detail``, and extension members."""
    title = _title(status_code)
    return {
        "type": "about:blank",
        "title": title,
        "status": status_code,
        "detail": detail or title,
        **extensions,
    }


def problem(status_code: int, detail: str | None = None) -> JsonResponse:
    """A problem-details answer outside DRF."""
    return JsonResponse(
        problem_body(status_code, detail), status=status_code, content_type=PROBLEM_JSON
    )


# --- Inside the API views -------------------------------------------------------------------


class ContentTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "content_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The workflow does not allow this now."
    default_code = "conflict"


class IncompleteSubmission(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "incomplete"

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__(_("Something is missing: %s.") % "; ".join(missing))


def _as_api_exception(exc: Exception) -> Exception:
    """The DRF exception answering a service's refusal (others unchanged)."""
    if isinstance(exc, CONTENT_TOO_LARGE):
        return ContentTooLarge(_too_large_detail(exc))
    if isinstance(exc, Incomplete):
        return IncompleteSubmission(exc.messages)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(exc.message_dict)
        return exceptions.ValidationError({"detail": exc.messages})
    if isinstance(exc, InvalidTransition):
        return Conflict(str(exc))
    return exc


def _path(field: str, key) -> str:
    """Where a nested error is: ``datasets[0]`` for an item of a list, ``team.email`` for a
    member of an object; ``detail`` and ``non_field_errors`` name no place of their own."""
    key = str(key)
    if key in ("detail", "non_field_errors"):
        return field
    if key.isdigit():
        return f"{field}[{key}]"
    return f"{field}.{key}" if field else key


def _sentences(errors, field: str = "") -> list[str]:
    """The messages of DRF's error structure (nested for lists and objects) as sentences, each
    naming the place of its input (``datasets[0]: …``)."""
    if isinstance(errors, dict):
        return [m for key, value in errors.items() for m in _sentences(value, _path(field, key))]
    if isinstance(errors, list):
        return [
            m
            for index, value in enumerate(errors)
            # A list of objects' errors (a nested many=True) has one entry per item.
            for m in _sentences(value, _path(field, index) if isinstance(value, dict) else field)
        ]
    return [f"{field}: {errors}" if field else str(errors)]


def _detail_and_extensions(exc: Exception, data) -> tuple[str, dict]:
    if isinstance(exc, IncompleteSubmission):
        return str(exc.detail), {"missing": [str(m) for m in exc.missing]}
    if isinstance(data, dict) and set(data) == {"detail"} and not isinstance(data["detail"], list):
        return str(data["detail"]), {}
    if isinstance(data, list):
        data = {"detail": data}
    if isinstance(data, dict):
        errors = {k: v if isinstance(v, list | dict) else [v] for k, v in data.items()}
        return " ".join(_sentences(errors)), {"errors": errors}
    return str(data), {}


def exception_handler(exc, context):
    """Every refusal inside the API views, as problem details (see the module's table). A
    request body over Django's upload limits is also logged, as Django logs any suspicious
    operation. Anything else DRF does not know stays a server error."""
    if isinstance(exc, CONTENT_TOO_LARGE):
        request = getattr(context.get("request"), "_request", None)
        if request is not None:
            # The body cannot be read again; reading it would raise the same error.
            request._mark_post_parse_error()
        logging.getLogger(f"django.security.{exc.__class__.__name__}").error(str(exc))
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail, extensions = _detail_and_extensions(exc, response.data)
    response.data = problem_body(response.status_code, detail, **extensions)
    response.content_type = PROBLEM_JSON
    return response


# --- Outside the API views: the URLconf's error handlers ------------------------------------


def bad_request(request, exception, template_name=defaults.ERROR_400_TEMPLATE_NAME):
    """400, or 413 for a body over Django's upload limits: JSON under /api/, a page that says
    what happened elsewhere."""
    if is_api(request):
        if isinstance(exception, CONTENT_TOO_LARGE):
            return problem(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, _too_large_detail(exception))
        return problem(status.HTTP_400_BAD_REQUEST, _("The request could not be read."))
    if isinstance(exception, CONTENT_TOO_LARGE):
        # A form too large to read: say so (nothing was saved), rather than "Bad Request".
        return HttpResponse(
            render_to_string("413.html", {"message": _too_large_detail(exception)}),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    return defaults.bad_request(request, exception, template_name)


def permission_denied(request, exception, template_name=defaults.ERROR_403_TEMPLATE_NAME):
    if is_api(request):
        return problem(
            status.HTTP_403_FORBIDDEN, _("You do not have permission to perform this action.")
        )
    return defaults.permission_denied(request, exception, template_name)


def page_not_found(request, exception, template_name=defaults.ERROR_404_TEMPLATE_NAME):
    if is_api(request):
        return problem(status.HTTP_404_NOT_FOUND, _("Not found."))
    return defaults.page_not_found(request, exception, template_name)


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    """500 without any detail of the failure (it is logged)."""
    if is_api(request):
        return problem(
            status.HTTP_500_INTERNAL_SERVER_ERROR,
            _("Something went wrong. The error was recorded."),
        )
    return defaults.server_error(request, template_name)


def fhir_outcome(status_code: int, diagnostics: str = "") -> HttpResponse:
    """A FHIR OperationOutcome saying what ``status_code`` means (outside the FHIR views)."""
    server_fault = status_code >= 500
    if server_fault:
        diagnostics = _("Something went wrong. The error was recorded.")
    issue = {
        "severity": "fatal" if server_fault else "error",
        "code": FHIR_ISSUE_TYPES.get(status_code, "exception" if server_fault else "processing"),
        "diagnostics": diagnostics or f"{_title(status_code)}.",
    }
    return HttpResponse(
        json.dumps({"resourceType": "OperationOutcome", "issue": [issue]}),
        status=status_code,
        content_type=FHIR_JSON,
    )


# --- Whatever else answers: DEBUG pages, other middleware -----------------------------------


class ApiErrorsMiddleware:
    """Turns an error response under /api/ that is not JSON into a problem-details body with the
    same status (keeping ``Allow`` and ``Retry-After``). First in ``MIDDLEWARE``, so that it sees
    the answers of all the others."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400 or _is_json(response):
            return response
        if is_fhir(request):
            answer = fhir_outcome(response.status_code)
        elif is_api(request):
            answer = problem(response.status_code)
        else:
            return response
        for header in ("Allow", "Retry-After"):
            if response.has_header(header):
                answer[header] = response[header]
        return answer
