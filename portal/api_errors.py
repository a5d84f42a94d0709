"""Every error under ``/api/`` is answered in JSON; the pages keep their HTML error pages.

Three layers, so that no path through Django ends in an HTML page for an API client:

- ``exception_handler`` (DRF's ``EXCEPTION_HANDLER``): inside an API view, the limits Django
  enforces while reading the body (``DATA_UPLOAD_MAX_MEMORY_SIZE``,
  ``DATA_UPLOAD_MAX_NUMBER_FILES``, ``DATA_UPLOAD_MAX_NUMBER_FIELDS``) become 413 with the API's
  usual ``{"detail": ...}`` body.
- ``bad_request``, ``permission_denied``, ``page_not_found`` and ``server_error`` (the URLconf's
  ``handler400/403/404/500``): outside the API views (an unknown path under ``/api/``, an
  exception before a view runs) they answer ``application/problem+json``; elsewhere they render
  the portal's HTML pages as before.
- ``ApiErrorsMiddleware``: with ``DEBUG`` on, Django answers 404 and 500 with its technical HTML
  pages without calling the handlers; this middleware turns any error response under ``/api/``
  that is not JSON (those pages, or a refusal by another middleware) into the same JSON.

The bodies keep a ``detail`` member, like the API views' own errors.
"""

import logging
from http import HTTPStatus

from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

API_PREFIX = "/api/"
PROBLEM_JSON = "application/problem+json"


def is_api(request: HttpRequest) -> bool:
    """True for a request to the JSON API (any path under ``/api/``)."""
    return request.path_info.startswith(API_PREFIX)


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


def problem(status_code: int, detail: str | None = None) -> JsonResponse:
    """A problem-details body (RFC 9457 members ``type``, ``title``, ``status``, ``detail``)."""
    try:
        title = HTTPStatus(status_code).phrase
    except ValueError:  # a status code without a standard phrase
        title = "Error"
    return JsonResponse(
        {"type": "about:blank", "title": title, "status": status_code, "detail": detail or title},
        status=status_code,
        content_type=PROBLEM_JSON,
    )


# --- Inside the API views -------------------------------------------------------------------


class ContentTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "content_too_large"


def exception_handler(exc, context):
    """DRF's handler, and 413 for a request body over Django's upload limits (logged as Django
    logs any suspicious operation). Anything else it does not know stays a server error."""
    if isinstance(exc, CONTENT_TOO_LARGE):
        request = getattr(context.get("request"), "_request", None)
        if request is not None:
            # The body cannot be read again; reading it would raise the same error.
            request._mark_post_parse_error()
        logging.getLogger(f"django.security.{exc.__class__.__name__}").error(str(exc))
        exc = ContentTooLarge(_too_large_detail(exc))
    return drf_exception_handler(exc, context)


# --- Outside the API views: the URLconf's error handlers ------------------------------------


def bad_request(request, exception, template_name=defaults.ERROR_400_TEMPLATE_NAME):
    """400, or 413 for a body over Django's upload limits: JSON under /api/."""
    if is_api(request):
        if isinstance(exception, CONTENT_TOO_LARGE):
            return problem(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, _too_large_detail(exception))
        return problem(status.HTTP_400_BAD_REQUEST, _("The request could not be read."))
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


# --- Whatever else answers: DEBUG pages, other middleware -----------------------------------


class ApiErrorsMiddleware:
    """Turns an error response under /api/ that is not JSON into a problem-details body with the
    same status (keeping ``Allow`` and ``Retry-After``). First in ``MIDDLEWARE``, so that it sees
    the answers of all the others."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400 or not is_api(request) or _is_json(response):
            return response
        answer = problem(response.status_code)
        for header in ("Allow", "Retry-After"):
            if response.has_header(header):
                answer[header] = response[header]
        return answer
