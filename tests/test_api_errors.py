"""Every error under /api/ is JSON, whatever refuses the request; the pages keep their HTML."""

import json
from unittest.mock import ANY

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import path, reverse

from portal import urls as portal_urls
from portal.models import AuditEvent

# A URLconf with the portal's routes and error handlers, plus two API routes that fail outside
# any API view, the way a bug or a refusal in plain Django code would.


def _broken(request):
    raise RuntimeError("a bug")


def _refused(request):
    raise PermissionDenied


urlpatterns = [
    path("api/test/broken/", _broken),
    path("api/test/refused/", _refused),
    path("test/broken/", _broken),
    *portal_urls.urlpatterns,
]
handler400 = portal_urls.handler400
handler403 = portal_urls.handler403
handler404 = portal_urls.handler404
handler500 = portal_urls.handler500


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


@pytest.fixture
def anonymous():
    client = Client(raise_request_exception=False)
    return client


def test_an_unknown_api_path_is_a_json_404(anonymous):
    body = _problem(anonymous.get("/api/no-such-thing/"), 404)
    assert body["detail"] == "Not found."
    _problem(anonymous.post("/api/access/no-such-thing/", {}), 404)


def test_an_unknown_page_is_still_an_html_404(anonymous):
    response = anonymous.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_bad_host_under_api_is_a_json_400(anonymous):
    _problem(anonymous.get("/api/catalogue/datasets/", HTTP_HOST="attacker.example"), 400)


@pytest.mark.urls("tests.test_api_errors")
def test_a_server_error_under_api_is_json_and_tells_nothing(anonymous):
    body = _problem(anonymous.get("/api/test/broken/"), 500)
    assert "bug" not in body["detail"] and "RuntimeError" not in str(body)
    page = anonymous.get("/test/broken/")
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


@pytest.mark.urls("tests.test_api_errors")
def test_a_permission_refused_outside_the_api_views_is_a_json_403(anonymous):
    _problem(anonymous.get("/api/test/refused/"), 403)


@pytest.mark.urls("tests.test_api_errors")
def test_with_debug_on_api_errors_are_still_json(anonymous, settings):
    settings.DEBUG = True
    _problem(anonymous.get("/api/no-such-thing/"), 404)
    _problem(anonymous.get("/api/test/broken/"), 500)
    assert anonymous.get("/no-such-page/")["Content-Type"].startswith("text/html")


def test_a_wrong_method_is_json_with_allow(client_for):
    response = client_for("researcher").put(reverse("access_api:applications"))
    assert response.status_code == 405
    assert response.json() == {
        "type": "about:blank",
        "title": "Method Not Allowed",
        "status": 405,
        "detail": 'Method "PUT" not allowed.',
    }
    assert "POST" in response["Allow"]


# --- Request bodies over Django's limits ----------------------------------------------------


def _ingest(client, catalogue, data):
    return client.post(reverse("catalogue_api:dataset_ingest", args=[catalogue.published.pk]), data)


def test_more_files_than_allowed_is_a_json_413_and_ingests_nothing(catalogue, client_for):
    client = client_for("node_operator")
    before = AuditEvent.objects.count()
    files = [SimpleUploadedFile(f"image-{n}.dcm", b"x") for n in range(101)]
    response = _ingest(client, catalogue, {"files": files})
    assert response.status_code == 413
    assert response.json() == {
        "type": "about:blank",
        "title": "Content Too Large",
        "status": 413,
        "detail": "The request has too many files.",
    }
    catalogue.published.refresh_from_db()
    assert catalogue.published.number_of_instances == 0
    assert AuditEvent.objects.count() == before


def test_more_files_than_allowed_with_csrf_checks_is_a_json_413(catalogue, personas):
    """With CSRF enforced, the session check reads the body first; the answer is the same."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["node_operator"])
    client.get("/")  # the page's forms set the CSRF cookie
    token = client.cookies["csrftoken"].value
    files = [SimpleUploadedFile(f"image-{n}.dcm", b"x") for n in range(101)]
    response = client.post(
        reverse("catalogue_api:dataset_ingest", args=[catalogue.published.pk]),
        {"files": files},
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 413
    assert response.json() == {
        "type": "about:blank",
        "title": "Content Too Large",
        "status": 413,
        "detail": "The request has too many files.",
    }


def test_a_form_body_over_the_memory_limit_is_a_json_413(catalogue, client_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = _ingest(client_for("node_operator"), catalogue, {"note": "x" * 5000})
    assert response.status_code == 413
    assert response.json() == {
        "type": "about:blank",
        "title": "Content Too Large",
        "status": 413,
        "detail": "The request body is too large.",
    }


# --- One mapping of the services' refusals, for every app ----------------------------------


def _problem_body(status, title, detail, **extensions):
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, **extensions}


def test_a_refused_transition_is_the_same_409_in_every_app(access, catalogue, client_for):
    """The catalogue's dataset workflow and the access workflow refuse with the workflow
    layer's InvalidTransition, which the one handler answers with 409."""
    from catalogue.services import dataset_set_status
    from portal.api_errors import exception_handler
    from portal.workflow import InvalidTransition

    with pytest.raises(InvalidTransition) as refused:
        dataset_set_status(dataset=catalogue.draft, status="draft", actor=None)
    answer = exception_handler(refused.value, {})
    assert answer.status_code == 409
    refusal = "This dataset is draft: it cannot become draft."
    assert answer.data == _problem_body(409, "Conflict", refusal)

    researcher = client_for("researcher")
    url = reverse("access_api:application_submit", args=[access.submitted.pk])
    response = researcher.post(url, content_type="application/json")
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == _problem_body(409, "Conflict", "Only a draft can be submitted.")


def test_invalid_input_is_the_same_problem_in_every_app(access, catalogue, client_for):
    researcher = client_for("researcher")
    basket = researcher.post(
        "/api/catalogue/basket/", {"dataset": "x"}, content_type="application/json"
    )
    apply = researcher.post(
        "/api/access/applications/", {"title": ""}, content_type="application/json"
    )
    for response, field in ((basket, "dataset"), (apply, "title")):
        assert response.status_code == 400
        assert response["Content-Type"] == "application/problem+json"
        body = response.json()
        assert (body["type"], body["title"], body["status"]) == ("about:blank", "Bad Request", 400)
        assert field in body["errors"] and body["detail"].startswith(f"{field}: ")


def test_an_incomplete_submission_lists_what_is_missing(access, client_for):
    from access import services

    datasets = [item.dataset for item in access.draft.items.all()]
    draft = services.application_create(
        applicant=access.draft.applicant, title="Bare", datasets=datasets
    )
    response = client_for("researcher").post(
        reverse("access_api:application_submit", args=[draft.pk]), content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert "a purpose from EHDS Article 53(1)" in body["missing"]
    assert body["detail"].startswith("Something is missing: ")


def test_an_ingest_without_files_is_a_problem_too(catalogue, client_for):
    response = client_for("node_operator").post(
        f"/api/catalogue/datasets/{catalogue.draft.pk}/ingest/", {}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "files": ["Upload at least one DICOM file in the field 'files'."]
    }


def test_an_error_inside_a_list_names_the_item(client_for, catalogue):
    """The detail says where the bad value is, as the errors member does."""
    answer = client_for("researcher").post(
        "/api/access/applications/",
        json.dumps({"title": "t", "datasets": [catalogue.published.pk, 99999999999999999999]}),
        content_type="application/json",
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["errors"] == {"datasets": {"1": [ANY]}}
    assert body["detail"].startswith("datasets[1]: ")
