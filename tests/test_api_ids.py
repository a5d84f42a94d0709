"""Ids beyond what a primary key can hold are refused where they come in, on both databases:
404 in a path, 400 in a body, never a 500 (an overflow in SQLite, "bigint out of range" in
PostgreSQL) and never a half-done change."""

import json

import pytest
from django.test import Client

from access.api import urls as access_api_urls
from access.models import Application
from catalogue import api_urls as catalogue_api_urls
from catalogue.models import BasketItem
from portal.ids import MAX_ID, IdConverter
from portal.models import AuditEvent

TOO_BIG = [MAX_ID + 1, 2**64, 10**30]


def _id_routes():
    """(path template, method) of every API route that takes an id in its path."""
    for prefix, module in (
        ("/api/access/", access_api_urls),
        ("/api/catalogue/", catalogue_api_urls),
    ):
        for pattern in module.urlpatterns:
            if "pk" not in pattern.pattern.converters:
                continue
            assert isinstance(pattern.pattern.converters["pk"], IdConverter), pattern
            view = pattern.callback.view_class
            for method in ("get", "post", "patch", "put", "delete"):
                if hasattr(view, method):
                    yield prefix + str(pattern.pattern), method


ID_ROUTES = sorted(set(_id_routes()))


def test_every_id_route_is_covered():
    assert len(ID_ROUTES) >= 20
    assert ("/api/catalogue/basket/<id:pk>/", "delete") in ID_ROUTES


@pytest.fixture
def researcher(access, personas):
    client = Client(raise_request_exception=False)
    client.force_login(personas["researcher"])
    return client


@pytest.mark.parametrize(("route", "method"), ID_ROUTES)
def test_a_path_id_too_big_for_the_database_is_404(researcher, route, method):
    for number in TOO_BIG:
        url = route.replace("<id:pk>", str(number))
        if method == "get":
            response = researcher.get(url)
        else:
            response = getattr(researcher, method)(url, "{}", content_type="application/json")
        assert response.status_code == 404, (url, method, response.content[:200])
        assert response["Content-Type"].endswith("json")


def test_the_largest_id_is_an_ordinary_404(researcher):
    response = researcher.delete(f"/api/catalogue/basket/{MAX_ID}/")
    assert response.status_code == 404
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Not found.",
    }


def test_removing_a_too_big_id_from_the_basket_keeps_the_basket(researcher, catalogue, personas):
    basket = "/api/catalogue/basket/"
    researcher.post(basket, {"dataset": catalogue.published.pk}, content_type="application/json")
    for number in TOO_BIG:
        assert researcher.delete(f"/api/catalogue/basket/{number}/").status_code == 404
    assert BasketItem.objects.filter(user=personas["researcher"]).count() == 1


@pytest.mark.parametrize("number", TOO_BIG)
def test_applying_for_a_too_big_dataset_id_is_400_and_stores_nothing(researcher, catalogue, number):
    applications, events = Application.objects.count(), AuditEvent.objects.count()
    response = researcher.post(
        "/api/access/applications/",
        json.dumps({"title": "Overflow", "datasets": [catalogue.published.pk, number]}),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content[:300]
    assert response.json()["errors"] == {
        "datasets": {"1": [f"Ensure this value is less than or equal to {MAX_ID}."]}
    }
    assert (Application.objects.count(), AuditEvent.objects.count()) == (applications, events)


@pytest.mark.parametrize("number", TOO_BIG)
def test_adding_a_too_big_dataset_id_to_the_basket_is_400(researcher, number):
    response = researcher.post(
        "/api/catalogue/basket/", {"dataset": number}, content_type="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["dataset"]


@pytest.mark.parametrize("number", TOO_BIG)
def test_commenting_for_a_too_big_committee_id_is_400(access, personas, number):
    client = Client(raise_request_exception=False)
    client.force_login(personas["committee_chair"])
    response = client.post(
        f"/api/access/applications/{access.submitted.pk}/comments/",
        json.dumps({"body": "Which scanner?", "committee": number}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["committee"]


@pytest.mark.parametrize("number", TOO_BIG)
def test_searching_for_a_too_big_node_id_finds_nothing(researcher, number):
    response = researcher.get("/api/catalogue/datasets/", {"node": number})
    assert response.status_code == 200
    assert response.json()["count"] == 0
