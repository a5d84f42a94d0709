"""What a node asks the portal as itself, with its credentials (HTTP Basic,
``client_secret_basic``): its study map, its consent exclusion list, a token's introspection
(RFC 7662), the Orthanc authorization plugin's validation call, and where it sends its access
reports.

These answer machines, in OAuth's terms: a request without valid node credentials gets 401
with ``{"error": "invalid_client"}`` (RFC 6749 5.2) and ``WWW-Authenticate: Basic``. No
cookie is read, so there is no CSRF token to send.
"""

import json
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from access import services
from access.node.exclusions import MEDIA_TYPE as EXCLUSIONS_MEDIA_TYPE
from access.node.headers import MAX_INSTANCES as MAX_INDEX_INSTANCES
from access.node.studies import MAP_TYPE
from catalogue.models import Node

REALM = "ECII portal"

NodeView = Callable[..., HttpResponse]


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def _error(status: int, error: str, description: str) -> HttpResponse:
    return _no_store(
        JsonResponse({"error": error, "error_description": description}, status=status)
    )


def _unavailable(error: services.SigningUnavailable) -> HttpResponse:
    response = _error(503, "temporarily_unavailable", str(error))
    response["Retry-After"] = "60"
    return response


def node_required(view: NodeView) -> NodeView:
    """Let through only a request carrying a node's credentials; the view gets the node."""

    def authenticated(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        node = services.node_authenticate(request.headers.get("Authorization"))
        if node is None:
            response = _error(401, "invalid_client", "Node credentials (HTTP Basic) are needed.")
            response["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
            return response
        return view(request, node, *args, **kwargs)

    authenticated.__name__ = view.__name__
    authenticated.__doc__ = view.__doc__
    return authenticated


@csrf_exempt
@require_POST
@node_required
def introspect(request: HttpRequest, node: Node) -> HttpResponse:
    """RFC 7662: form field ``token``; ``{"active": false}`` for anything that is not a valid
    token for the asking node now."""
    token = request.POST.get("token", "")
    if not token:
        return _error(400, "invalid_request", "The form field token is missing.")
    return _no_store(JsonResponse(services.introspection(token, node)))


@csrf_exempt
@require_POST
@node_required
def orthanc_validate(request: HttpRequest, node: Node) -> HttpResponse:
    """The Orthanc authorization plugin's validation call: ``{"granted", "validity"}``."""
    try:
        body = json.loads(request.body)
    except (UnicodeDecodeError, ValueError):
        body = None
    if not isinstance(body, dict):
        return _error(400, "invalid_request", "The body must be a JSON object.")
    return _no_store(JsonResponse(services.orthanc_validate(body, node).as_json()))


@require_GET
@node_required
def study_map(request: HttpRequest, node: Node, audience: str) -> HttpResponse:
    """The node's own signed study map (``studymap+jwt``); another node's answers 404."""
    if audience not in (node.audience, str(node.pk)):
        raise Http404
    try:
        document = services.study_map_document(node)
    except services.SigningUnavailable as error:
        return _unavailable(error)
    return _no_store(HttpResponse(document, content_type=f"application/{MAP_TYPE}"))


@require_GET
@node_required
def exclusions(request: HttpRequest, node: Node, audience: str) -> HttpResponse:
    """The node's own signed consent exclusion list (``exclusionlist+jwt``); another node's
    answers 404. ``?since=<version>`` asks for the changes since that version (a signed delta,
    or the whole list when they are no longer known); ``If-None-Match`` with the list's ETag
    is answered 304 while nothing changed. Cacheable by the node for the list's ttl."""
    if audience not in (node.audience, str(node.pk)):
        raise Http404
    raw = request.GET.get("since")
    since = None
    if raw is not None:
        if not raw.isdigit() or len(raw) > 18:
            return _error(400, "invalid_request", "since must be a list version (an integer).")
        since = int(raw)
    cache = f"private, max-age={settings.EXCLUSION_LIST_TTL}"
    etag = services.exclusion_list_etag(node)
    asked = [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]
    if etag in asked:
        response = HttpResponse(status=304)
    else:
        try:
            made = services.exclusion_list_document(node, since=since)
        except services.SigningUnavailable as error:
            return _unavailable(error)
        response = HttpResponse(made.document, content_type=EXCLUSIONS_MEDIA_TYPE)
        etag = made.etag
    response["ETag"] = etag
    response["Cache-Control"] = cache
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
@node_required
def dataset_index(request: HttpRequest, node: Node, pk: int) -> HttpResponse:
    """The header index of one of the node's own datasets, filled by the node's indexer.

    GET: what the indexer needs before it reads a file (the dataset, the gate the node chose,
    the largest batch). POST: a batch of header values (``access.node.headers``), indexed
    whole or not at all; 200 with the counts, 400 for a batch that will never be accepted,
    409 when it passed another gate than the node's. Another node's dataset answers 404."""
    dataset = services.node_dataset(node, pk)
    if dataset is None:
        raise Http404
    if request.method == "GET":
        answer = {
            "dataset": dataset.pk,
            "title": dataset.title,
            "gate_profile": node.gate_profile,
            "max_instances": MAX_INDEX_INSTANCES,
        }
        return _no_store(JsonResponse(answer))
    try:
        report = services.dataset_index_receive(node=node, dataset=dataset, body=request.body)
    except services.IndexRefused as refusal:
        return _error(409 if refusal.conflict else 400, "invalid_request", str(refusal))
    answer = {
        "dataset": dataset.pk,
        "new_instances": report.new_instances,
        "already_indexed": report.already_indexed,
        "refused": [{"instance": path, "reason": reason} for path, reason in report.refused],
    }
    return _no_store(JsonResponse(answer))


@csrf_exempt
@require_POST
@node_required
def access_reports(request: HttpRequest, node: Node) -> HttpResponse:
    """A batch of access reports, signed by the node (``accessreport+jwt``). 200 when stored
    or stored before; 400 for a batch that will never be accepted; 409 while the node has no
    registered key, or the batch is signed with another key than the registered one (a rotated
    key not registered yet): send it again later."""
    try:
        report, created = services.access_report_receive(node=node, document=request.body)
    except services.ReportRefused as refusal:
        return _error(409 if refusal.retry else 400, "invalid_request", str(refusal))
    answer = {"batch": report.jti, "events": report.event_count, "stored": created}
    return _no_store(JsonResponse(answer))
