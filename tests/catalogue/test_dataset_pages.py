import pytest
from django.urls import reverse

from catalogue.models import BasketItem, Dataset, Node
from portal.models import AuditEvent

FORM = {
    "title": "Prostate MRI",
    "description": "Multiparametric prostate MRI.",
    "keywords": "prostate, mpMRI",
    "conditions": "prostate cancer",
    "health_categories": ["EHRS"],
    "access_rights": "RESTRICTED",
    "modalities": ["MR"],
    "body_parts": "PROSTATE",
    "access_conditions": ["IN_SITU_PROCESSING"],
    "interoperability_level": "TIER_1",
    "collection_methods": ["ROUTINE_CARE"],
    "duo_codes": ["DUO:0000006"],
    "contact_name": "Data desk",
    "contact_email": "desk@example.org",
    "version": "1.0",
}


def test_it_lets_an_operator_describe_a_dataset_at_their_node(catalogue, client_for):
    client = client_for("node_operator")
    url = reverse("catalogue:dataset_create", args=[catalogue.own_node.pk])
    response = client.post(url, FORM)
    dataset = Dataset.objects.get(title="Prostate MRI")
    assert response.status_code == 302 and response.url == f"/catalogue/datasets/{dataset.pk}/"
    assert dataset.status == "draft" and dataset.keywords == ["prostate", "mpMRI"]
    assert dataset.publisher_name == "Oslo University Hospital"
    assert AuditEvent.objects.filter(
        action="catalogue.dataset.created", object_id=dataset.pk
    ).exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"title": ""}, "title", "This field is required"),
        ({"conditions": ""}, "conditions", "This field is required"),
        ({"access_conditions": []}, "access_conditions", "This field is required"),
        ({"collection_methods": []}, "collection_methods", "This field is required"),
        ({"interoperability_level": "TIER_9"}, "interoperability_level", "Select a valid choice"),
        ({"contact_email": "not-an-email"}, "contact_email", "valid email"),
        ({"min_age": "80", "max_age": "20"}, "max_age", "must not be below the minimum age"),
        ({"duo_codes": ["DUO:9999999"]}, "duo_codes", "Select a valid choice"),
    ],
)
def test_it_explains_bad_input_and_stores_nothing(catalogue, client_for, change, field, message):
    client = client_for("node_operator")
    before = Dataset.objects.count(), AuditEvent.objects.count()
    url = reverse("catalogue:dataset_create", args=[catalogue.own_node.pk])
    response = client.post(url, {**FORM, **change})
    assert response.status_code == 200
    assert message in str(response.context["form"].errors[field])
    assert (Dataset.objects.count(), AuditEvent.objects.count()) == before


def test_it_leaves_a_dataset_unchanged_when_an_edit_is_invalid(catalogue, client_for):
    client = client_for("node_operator")
    dataset = catalogue.published
    response = client.post(
        reverse("catalogue:dataset_edit", args=[dataset.pk]),
        {**FORM, "title": "Changed", "min_age": "90", "max_age": "10"},
    )
    assert response.status_code == 200
    dataset.refresh_from_db()
    assert dataset.title == "Breast MRI screening cohort"


def test_it_edits_a_dataset(catalogue, client_for):
    client = client_for("node_operator")
    dataset = catalogue.published
    response = client.post(reverse("catalogue:dataset_edit", args=[dataset.pk]), FORM)
    assert response.status_code == 302
    dataset.refresh_from_db()
    assert dataset.title == "Prostate MRI" and dataset.modalities == ["MR"]
    event = AuditEvent.objects.filter(action="catalogue.dataset.updated").latest("seq")
    assert "title" in event.details["fields"]


def test_it_publishes_and_retires_following_the_allowed_transitions(catalogue, client_for):
    client = client_for("node_operator")
    url = reverse("catalogue:dataset_status", args=[catalogue.draft.pk])
    client.post(url, {"status": "published", "confirmed": "yes"})  # confirmed: see below
    catalogue.draft.refresh_from_db()
    assert catalogue.draft.status == "published" and catalogue.draft.published_at
    client.post(url, {"status": "retired", "confirmed": "yes"})
    catalogue.draft.refresh_from_db()
    assert catalogue.draft.status == "retired"
    response = client.post(url, {"status": "draft"}, follow=True)  # retired → draft not allowed
    catalogue.draft.refresh_from_db()
    assert catalogue.draft.status == "retired"
    assert "cannot become draft" in response.content.decode()
    actions = AuditEvent.objects.filter(object_id=catalogue.draft.pk).values_list(
        "action", flat=True
    )
    assert {"catalogue.dataset.published", "catalogue.dataset.retired"} <= set(actions)


def test_it_lets_a_researcher_fill_a_basket(catalogue, client_for, personas):
    client = client_for("researcher")
    client.post(reverse("catalogue:basket_add", args=[catalogue.published.pk]))
    client.post(reverse("catalogue:basket_add", args=[catalogue.other_published.pk]))
    client.post(reverse("catalogue:basket_add", args=[catalogue.published.pk]))  # twice: once
    page = client.get(reverse("catalogue:basket")).content.decode()
    assert "Breast MRI screening cohort" in page and "Lung CT collection" in page
    assert BasketItem.objects.filter(user=personas["researcher"]).count() == 2
    client.post(reverse("catalogue:basket_remove", args=[catalogue.published.pk]))
    assert BasketItem.objects.filter(user=personas["researcher"]).count() == 1
    assert AuditEvent.objects.filter(action="catalogue.basket.removed").count() == 1


def test_it_registers_a_node_with_its_creator_as_operator(client_for, personas):
    client = client_for("node_operator")
    response = client.post(
        reverse("catalogue:node_create"),
        {
            "name": "Lyon node",
            "slug": "lyon",
            "organisation": "Centre Léon Bérard",
            "country": "FR",
            "contact_email": "node@lyon.example.org",
            "dicomweb_base_url": "https://lyon.example.org/dicom-web",
            "audience": "urn:ecii:node:lyon",
        },
    )
    node = Node.objects.get(slug="lyon")
    assert response.status_code == 302
    assert list(node.operators.all()) == [personas["node_operator"]]
    assert node.gate_profile == "strict"  # the default when the form leaves it out


def test_it_finds_a_dataset_by_facet_and_puts_it_in_the_basket_through_the_api(
    catalogue, client_for, personas
):
    client = client_for("researcher")
    found = client.get(
        reverse("catalogue_api:datasets"), {"modality": "CT", "country": "ES"}
    ).json()
    assert [d["title"] for d in found["results"]] == ["Lung CT collection"]
    assert {"value": "CT", "count": 1} in found["facets"]["modality"]
    response = client.post(
        reverse("catalogue_api:basket"),
        {"dataset": found["results"][0]["id"]},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert [d["title"] for d in response.json()] == ["Lung CT collection"]
    gone = client.delete(reverse("catalogue_api:basket_item", args=[found["results"][0]["id"]]))
    assert gone.status_code == 204


def test_it_refuses_drafts_and_bad_input_in_the_basket_api(catalogue, client_for):
    client = client_for("researcher")
    url = reverse("catalogue_api:basket")
    assert (
        client.post(
            url, {"dataset": catalogue.draft.pk}, content_type="application/json"
        ).status_code
        == 404
    )
    bad = client.post(url, {"dataset": "x"}, content_type="application/json")
    assert bad.status_code == 400 and "dataset" in bad.json()["errors"]
    assert not BasketItem.objects.exists()


def test_it_describes_the_api_in_openapi(client):
    schema = client.get(reverse("api_schema"), HTTP_ACCEPT="application/json").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/catalogue/datasets/" in schema["paths"]


def test_it_explains_a_bad_node_and_stores_nothing(catalogue, client_for):
    client = client_for("node_operator")  # logging in is audited too
    before = Node.objects.count(), AuditEvent.objects.count()
    response = client.post(
        reverse("catalogue:node_create"),
        {
            "name": "Copy",
            "slug": "copy",
            "organisation": "X",
            "country": "XX",
            "contact_email": "node@example.org",
            "dicomweb_base_url": "not a url",
            "audience": catalogue.own_node.audience,
        },
    )
    errors = response.context["form"].errors
    assert response.status_code == 200
    assert {"country", "dicomweb_base_url", "audience"} <= set(errors)
    assert "already exists" in str(errors["audience"])
    assert (Node.objects.count(), AuditEvent.objects.count()) == before
