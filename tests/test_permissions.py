"""Every URL of the project, requested by every persona, with the status each must get.

Adding a route without adding it here fails ``test_it_covers_every_route``: the matrix grows
with the project. Outsiders get 404 for objects that are not theirs, never 403.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

PERSONAS = [
    "anonymous",
    "outsider",
    "citizen",
    "researcher",
    "committee_member",
    "committee_chair",
    "node_operator",
    "hdab_admin",
]
LOGIN = 302  # anonymous visitors are sent to the login page


def everyone(status):
    return dict.fromkeys(PERSONAS, status)


def signed_in(status, **overrides):
    return {**everyone(status), "anonymous": LOGIN, **overrides}


def only(*personas, ok=200, others=404):
    return {**signed_in(others), **dict.fromkeys(personas, ok)}


def api_only(*personas, ok=200):
    return {**only(*personas, ok=ok), "anonymous": 403}


# A node's operators and the access body see the node's drafts.
OPERATOR_OK = {"node_operator": 200, "hdab_admin": 200}


# Routes Django or a library owns and that are tested on their own.
SKIP_NAMESPACES = {"admin"}
SKIP_NAMES = {"set_language"}

# (route name, kwargs key, method, {persona: status})
CASES = [
    ("home", None, "get", everyone(200)),
    ("login", None, "get", {**everyone(302), "anonymous": 200}),  # signed in → redirected on
    ("logout", None, "post", everyone(302)),
    ("password_reset", None, "get", everyone(200)),
    ("password_reset_done", None, "get", everyone(200)),
    ("password_reset_confirm", "reset", "get", everyone(200)),
    ("password_reset_complete", None, "get", everyone(200)),
    ("dashboard", None, "get", signed_in(302, outsider=200)),
    ("role_dashboard", "citizen", "get", only("citizen")),
    ("role_dashboard", "researcher", "get", only("researcher")),
    ("role_dashboard", "committee", "get", only("committee_member", "committee_chair")),
    ("role_dashboard", "node", "get", only("node_operator")),
    ("role_dashboard", "hdab", "get", only("hdab_admin")),
    ("role_dashboard", "nonexistent", "get", signed_in(404)),
    ("audit_log", None, "get", only("hdab_admin")),
    ("oidc_login", None, "get", everyone(404)),  # OpenID Connect is off in this matrix
    ("oidc_callback", None, "get", everyone(404)),
    ("oidc_link", None, "get", everyone(404)),
    # Catalogue pages
    ("catalogue:search", None, "get", everyone(200)),
    ("catalogue:dataset_detail", "published", "get", everyone(200)),
    ("catalogue:dataset_detail", "draft", "get", {**everyone(404), **OPERATOR_OK}),
    ("catalogue:dataset_detail", "other_draft", "get", {**everyone(404), "hdab_admin": 200}),
    ("catalogue:dataset_edit", "published", "get", only("node_operator")),
    ("catalogue:dataset_edit", "other_published", "get", only()),
    ("catalogue:dataset_status", "draft", "post", only("node_operator", ok=302)),
    ("catalogue:dataset_status", "other_draft", "post", only()),
    ("catalogue:dataset_ingest", "published", "get", only("node_operator")),
    ("catalogue:dataset_ingest", "other_published", "get", only()),
    ("catalogue:dataset_reviewed", "published", "post", only("node_operator", ok=302)),
    ("catalogue:dataset_reviewed", "other_published", "post", only()),
    ("catalogue:node_create", None, "get", only("node_operator")),
    ("catalogue:node_detail", "own_node", "get", everyone(200)),
    ("catalogue:node_gate_profile", "own_node", "post", only("node_operator", ok=302)),
    ("catalogue:node_gate_profile", "other_node", "post", only()),
    ("catalogue:dataset_create", "own_node_pk", "get", only("node_operator")),
    ("catalogue:dataset_create", "other_node_pk", "get", only()),
    ("catalogue:feasibility", None, "get", only("researcher", "hdab_admin")),
    ("catalogue:basket", None, "get", only("researcher")),
    ("catalogue:basket_add", "published", "post", only("researcher", ok=302)),
    ("catalogue:basket_add", "draft", "post", only()),
    ("catalogue:basket_remove", "published", "post", only("researcher", ok=302)),
    # Catalogue API (anonymous callers get 403 from the API, not a login redirect)
    ("catalogue_api:datasets", None, "get", everyone(200)),
    ("catalogue_api:dataset", "published", "get", everyone(200)),
    ("catalogue_api:dataset", "draft", "get", {**everyone(404), **OPERATOR_OK}),
    ("catalogue_api:dataset", "published", "patch", api_only("node_operator")),
    ("catalogue_api:dataset", "other_published", "patch", api_only()),
    ("catalogue_api:dataset_ingest", "published", "post", api_only("node_operator", ok=400)),
    ("catalogue_api:dataset_ingest", "other_published", "post", api_only()),
    ("catalogue_api:feasibility", None, "get", api_only("researcher", "hdab_admin")),
    ("catalogue_api:basket", None, "get", api_only("researcher")),
    ("catalogue_api:basket_item", "published", "delete", api_only()),  # not in the basket
    ("api_schema", None, "get", everyone(200)),
    # HealthDCAT-AP export
    ("dcat_catalogue_ttl", None, "get", everyone(200)),
    ("dcat_catalogue_jsonld", None, "get", everyone(200)),
    ("dcat_dataset_ttl", "published", "get", everyone(200)),
    ("dcat_dataset_ttl", "draft", "get", {**everyone(404), **OPERATOR_OK}),
    ("dcat_dataset_jsonld", "published", "get", everyone(200)),
    ("dcat_dataset_jsonld", "other_draft", "get", {**everyone(404), "hdab_admin": 200}),
]

# Imported here, below the helpers they use.
from tests.access.api_permission_cases import ACCESS_API_CASES, access_api_url_kwargs  # noqa: E402
from tests.access.permission_cases import ACCESS_PAGE_CASES, access_url_kwargs  # noqa: E402
from tests.access.register_permission_cases import (  # noqa: E402
    REGISTER_CASES,
    register_url_kwargs,
)
from tests.consent.fhir_permission_cases import FHIR_CASES, fhir_url_kwargs  # noqa: E402
from tests.consent.permission_cases import CONSENT_PAGE_CASES, consent_url_kwargs  # noqa: E402

CASES += ACCESS_API_CASES
CASES += ACCESS_PAGE_CASES
CASES += FHIR_CASES
CASES += CONSENT_PAGE_CASES
CASES += REGISTER_CASES


@pytest.fixture
def url_kwargs(personas, catalogue, access):
    return {
        **access_api_url_kwargs(access),
        **access_url_kwargs(access),
        **register_url_kwargs(access),  # after access_url_kwargs, which decides one
        **fhir_url_kwargs(personas, catalogue.own_node),
        **consent_url_kwargs(personas, catalogue),
        "published": {"pk": catalogue.published.pk},
        "draft": {"pk": catalogue.draft.pk},
        "other_published": {"pk": catalogue.other_published.pk},
        "other_draft": {"pk": catalogue.other_draft.pk},
        "own_node": {"pk": catalogue.own_node.pk},
        "own_node_pk": {"node_pk": catalogue.own_node.pk},
        "other_node_pk": {"node_pk": catalogue.other_node.pk},
        "other_node": {"pk": catalogue.other_node.pk},
        None: {},
        "reset": {"uidb64": "MQ", "token": "set-password"},
        "citizen": {"slug": "citizen"},
        "researcher": {"slug": "researcher"},
        "committee": {"slug": "committee"},
        "node": {"slug": "node"},
        "hdab": {"slug": "hdab"},
        "nonexistent": {"slug": "nonexistent"},
    }


def _route_names(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in SKIP_NAMESPACES:
                continue
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from _route_names(entry.url_patterns, namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield prefix + entry.name


def test_it_covers_every_route():
    names = set(_route_names(get_resolver().url_patterns)) - SKIP_NAMES
    covered = {case[0] for case in CASES}
    assert names - covered == set(), "routes missing from the permission matrix"
    assert covered - names == set(), "matrix names routes that do not exist"


@pytest.mark.parametrize(
    ("name", "kwargs_key", "method", "expected"),
    CASES,
    ids=[f"{c[0]}-{c[1] or ''}-{c[2]}" for c in CASES],
)
def test_it_answers_each_persona_as_expected(
    name, kwargs_key, method, expected, client_for, url_kwargs, settings
):
    settings.OIDC_DISCOVERY_URL = ""
    url = reverse(name, kwargs=url_kwargs[kwargs_key])
    got = {}
    for persona in PERSONAS:
        response = getattr(client_for(persona), method)(url)
        got[persona] = response.status_code
    assert got == expected


def test_it_lets_only_staff_into_the_admin(client_for):
    for persona in PERSONAS:
        status = client_for(persona).get("/admin/").status_code
        assert status == (200 if persona == "hdab_admin" else 302), persona
