"""The API against its own OpenAPI schema: schemathesis sends generated requests to every
operation, signed in as a researcher and as a committee chair, on the suite's fixtures.

Every answer must be no server error, with a status code, a content type and a body that the
schema documents. The run is bounded (a fixed number of examples per operation) and
deterministic (Hypothesis derandomised), and it fails on the first operation that breaks a
rule, naming the request that did.
"""

import logging
from contextlib import contextmanager

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.generation import GenerationMode

from access import services
from access.models import AccessToken, Application, Committee, Permit, Review, TeamMember
from catalogue.models import Dataset, Node
from portal.api_errors import PROBLEM_JSON
from portal.ids import MAX_ID

JSON = "application/json"
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]
# Requests per operation and generation mode (a third of them when not signed in): about 900
# requests in all, some 20 seconds on one core.
EXAMPLES = {GenerationMode.POSITIVE: 9, GenerationMode.NEGATIVE: 4}
RUN = settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is reported
    suppress_health_check=list(HealthCheck),
)


def test_the_schema_generates_without_warnings(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )


def test_the_schema_lists_the_refusals_every_operation_can_get(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operations = [
        (path, method.upper(), operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 29
    for path, method, operation in operations:
        responses = operation["responses"]
        public = path.startswith(("/api/catalogue/datasets/", "/api/access/register/"))
        if method != "GET" or not public:
            # not signed in, a write without the CSRF token, or not allowed
            assert "403" in responses, (method, path)
        if method in ("POST", "PATCH"):
            assert {"400", "413", "415"} <= set(responses), (method, path)
        for code, answer in responses.items():
            if int(code) >= 400:  # every refusal is RFC 9457 problem details
                assert set(answer["content"]) == {PROBLEM_JSON}, (method, path, code)
        if "{id}" in path:
            assert "404" in responses, (method, path)
            (parameter,) = (p for p in operation["parameters"] if p["name"] == "id")
            assert parameter["schema"]["maximum"] == MAX_ID
    ingest = schema["paths"]["/api/catalogue/datasets/{id}/ingest/"]["post"]["responses"]
    assert "too many files" in ingest["413"]["description"]
    search = schema["paths"]["/api/catalogue/datasets/"]["get"]["responses"]
    assert search["200"]["content"][JSON]["schema"]["$ref"].endswith("/DatasetSearchOutput")
    assert "404" in search  # a page past the last one


def _session(user) -> tuple[dict, dict]:
    """Cookies and headers of a signed-in browser session, CSRF token included."""
    client = Client()
    client.force_login(user)
    client.get("/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    cookies = {"sessionid": client.cookies["sessionid"].value, "csrftoken": token}
    return cookies, {"X-CSRFToken": token}


@pytest.fixture
def world(access, catalogue, personas):
    """The suite's fixtures, plus a permit (held by the researcher, issued by the chair's
    committees) with a token for each, and an invitation for each persona, so that the
    generated requests also reach objects that exist."""
    permitted = access.new_application("Permitted study", submit=True)
    for review in permitted.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    others = services.application_create(
        applicant=personas["other_researcher"], title="Team study", datasets=[catalogue.published]
    )
    for name in ("researcher", "committee_chair"):
        services.team_invite(application=others, actor=others.applicant, email=personas[name].email)
    for permit in Permit.objects.all():
        node = permit.datasets.get().node
        services.token_issue(permit=permit, node=node, actor=personas["researcher"])


def _existing() -> dict[str, list]:
    """Values that name existing objects: for the path's ``{id}`` (by the path it is in), for
    its ``{token}``, and for ids in request bodies."""
    ids = lambda model: list(model.objects.order_by("pk").values_list("pk", flat=True))  # noqa: E731
    datasets = ids(Dataset)
    return {
        "/api/access/applications/": ids(Application),
        "/api/access/reviews/": ids(Review),
        "/api/access/permits/": ids(Permit),
        "/api/access/tokens/": ids(AccessToken),
        "/api/catalogue/": datasets,
        "token": list(TeamMember.objects.order_by("pk").values_list("token", flat=True)),
        "dataset": datasets,
        "committee": ids(Committee),
        "node": list(Node.objects.order_by("pk").values_list("slug", flat=True)),
    }


# Ids at and past the edge of what the database holds: each must be a plain 404 or 400.
EDGE_IDS = [MAX_ID, MAX_ID + 1, 2**64, 10**30]


def _an_id(data, existing: list) -> int | None:
    """An existing id (half the time), an id at the edge (a third), or None: keep the generated
    one."""
    choice = data.draw(st.integers(0, 5))
    if choice >= 3 and existing:
        return data.draw(st.sampled_from(existing))
    if choice >= 1:
        return data.draw(st.sampled_from(EDGE_IDS))
    return None


def _use_existing(case, data, existing: dict[str, list]) -> None:
    """Point a generated request at existing objects, or at ids past the database's edge
    (Hypothesis chooses)."""
    parameters = case.path_parameters or {}
    if "id" in parameters:
        prefix = next((p for p in existing if case.path.startswith(p)), None)
        if (number := _an_id(data, existing.get(prefix, []))) is not None:
            parameters["id"] = number
    if "token" in parameters and data.draw(st.booleans()):
        parameters["token"] = data.draw(st.sampled_from(existing["token"]))
    body = case.body if isinstance(case.body, dict) else {}
    if isinstance(body.get("datasets"), list) and body["datasets"]:
        body["datasets"] = [
            number if (number := _an_id(data, existing["dataset"])) is not None else generated
            for generated in body["datasets"][:3]
        ]
    if isinstance(body.get("node"), str) and data.draw(st.booleans()):
        body["node"] = data.draw(st.sampled_from(existing["node"]))
    for name in ("dataset", "committee"):
        if isinstance(body.get(name), int):
            if (number := _an_id(data, existing[name])) is not None:
                body[name] = number


def _fuzz(operation, mode: GenerationMode, examples: int, session, existing) -> int:
    """Send ``examples`` generated requests to ``operation`` and check each answer; raises the
    first failure. Returns the number of requests sent."""
    cookies, headers = session
    sent = 0

    @settings(RUN, max_examples=examples)
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def check(case, data):
        nonlocal sent
        if mode is GenerationMode.POSITIVE:
            _use_existing(case, data, existing)
        response = case.call(cookies=cookies, headers=headers)
        sent += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    check()
    return sent


@contextmanager
def _served_in_this_test():
    """Requests to the WSGI application keep the test's database connection (and its
    transaction) open, as with Django's test client; refusals, the expected answers here, are
    not logged one by one."""
    request_log = logging.getLogger("django.request")
    level, request_log.level = request_log.level, logging.ERROR
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_log.level = level
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _run(persona: str, personas) -> tuple[int, list[str]]:
    """Fuzz every operation as ``persona``: the number of requests sent, and the failures (at
    most one per operation and generation mode, each with the request that reproduces it)."""
    session = _session(personas[persona]) if persona != "anonymous" else ({}, {})
    existing = _existing()
    sent, failures = 0, []
    with _served_in_this_test():
        app = get_wsgi_application()
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 29
        for operation in operations:
            for mode, examples in EXAMPLES.items():
                examples = max(1, examples // (3 if persona == "anonymous" else 1))
                try:
                    sent += _fuzz(operation, mode, examples, session, existing)
                except (AssertionError, BaseExceptionGroup) as failure:  # schemathesis' failures
                    failures.append(f"{operation.label} ({mode} data): {failure}")
    return sent, failures


@pytest.mark.parametrize("persona", ["researcher", "committee_chair", "anonymous"])
def test_the_api_keeps_to_its_schema(persona, world, personas):
    """Signed in as a researcher, as a committee chair, and (fewer requests) not signed in."""
    sent, failures = _run(persona, personas)
    assert not failures, "\n\n".join(failures)
    assert sent >= 29 * (2 if persona == "anonymous" else sum(EXAMPLES.values())), sent
