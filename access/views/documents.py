"""What the portal publishes to anyone, for nodes and clients to fetch and cache: its keys
(JWKS), its authorization-server metadata (RFC 8414) and the token status lists."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from access import selectors, services, signing
from access.node.claims import SCOPE_READ
from access.node.statuslist import MEDIA_TYPE as STATUS_LIST_MEDIA_TYPE

JWKS_MAX_AGE = 300  # seconds: nodes fetch the keys again at least this often
METADATA_MAX_AGE = 3600


def _cacheable(response: HttpResponse, seconds: int) -> HttpResponse:
    response["Cache-Control"] = f"public, max-age={seconds}"
    return response


def _unavailable(error: services.SigningUnavailable) -> HttpResponse:
    response = HttpResponse(str(error), status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = "60"
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    """The public keys that verify what the portal signs: the active key, the next key and the
    recently retired keys (each with ``kid``, ``alg`` and ``use: sig``)."""
    keys = [
        signing.published_jwk(key.kid, key.alg, key.public_jwk)
        for key in selectors.published_signing_keys()
    ]
    response = JsonResponse(signing.jwks(keys), content_type="application/jwk-set+json")
    return _cacheable(response, JWKS_MAX_AGE)


@require_GET
def oauth_metadata(request: HttpRequest) -> HttpResponse:
    """Authorization-server metadata (RFC 8414). Tokens are issued on the portal's pages and
    API, to signed-in people, so there is no authorization or token endpoint."""
    base = settings.SITE_URL
    metadata = {
        "issuer": base,
        "jwks_uri": base + reverse("jwks"),
        "introspection_endpoint": base + reverse("oauth_introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "response_types_supported": [],
        "grant_types_supported": [],
        "scopes_supported": [SCOPE_READ],
    }
    return _cacheable(JsonResponse(metadata), METADATA_MAX_AGE)


@require_GET
def status_list(request: HttpRequest, list_id: int) -> HttpResponse:
    """A Token Status List as a signed ``statuslist+jwt``, cacheable for its ``ttl``."""
    try:
        document = services.status_list_document(list_id)
    except services.SigningUnavailable as error:
        return _unavailable(error)
    if document is None:
        raise Http404
    response = HttpResponse(document, content_type=STATUS_LIST_MEDIA_TYPE)
    return _cacheable(response, settings.STATUS_LIST_TTL)
