"""The portal's documents at well-known addresses (RFC 8615) and its OAuth endpoints, at the
root of the site (included from ``portal/urls.py``)."""

from django.urls import path

from access.views import documents, nodes

urlpatterns = [
    path(".well-known/jwks.json", documents.jwks, name="jwks"),
    path(
        ".well-known/oauth-authorization-server",
        documents.oauth_metadata,
        name="oauth_metadata",
    ),
    path("oauth/introspect", nodes.introspect, name="oauth_introspect"),
]
