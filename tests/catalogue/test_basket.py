"""The basket and the researcher's dashboard lead to an application, and stop pushing "Apply"
for a dataset once one of the researcher's applications includes it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from access import services as access_services
from catalogue import services
from catalogue.models import Dataset
from tests.conftest import dataset_fields

APPLY = "Apply for these datasets"
BASKET = reverse("catalogue:basket")
DASHBOARD = reverse("role_dashboard", args=["researcher"])


def html(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def apply_link() -> str:
    return f'<a class="button" href="{reverse("access:application_create")}">{APPLY}</a>'


def detail(application) -> str:
    return reverse("access:application_detail", args=[application.pk])


def fill_basket(user, *datasets) -> None:
    for dataset in datasets:
        services.basket_add(user=user, dataset=dataset)


def apply_for(user, *datasets, title="Lesion detection"):
    return access_services.application_create(applicant=user, title=title, datasets=datasets)


@pytest.mark.parametrize("page", [BASKET, DASHBOARD])
def test_it_offers_to_apply_for_the_datasets_of_the_basket(catalogue, client_for, personas, page):
    client = client_for("researcher")
    fill_basket(personas["researcher"], catalogue.published, catalogue.other_published)

    assert apply_link() in html(client.get(page))
    form = html(client.get(reverse("access:application_create")))
    assert catalogue.published.title in form and catalogue.other_published.title in form


def test_an_empty_basket_offers_the_catalogue_instead(catalogue, client_for):
    page = html(client_for("researcher").get(BASKET))

    assert APPLY not in page
    assert "Your basket is empty." in page


@pytest.mark.parametrize("page", [BASKET, DASHBOARD])
def test_it_shows_the_application_a_dataset_is_in_instead_of_pushing_apply(
    catalogue, client_for, personas, page
):
    researcher = personas["researcher"]
    client = client_for("researcher")
    fill_basket(researcher, catalogue.published, catalogue.other_published)
    first = apply_for(researcher, catalogue.published)

    text = html(client.get(page))
    assert f'In <a href="{detail(first)}">application {first.pk}</a>' in text
    assert text.count("In <a href=") == 1
    assert apply_link() in text  # the Lung CT dataset is in no application yet
    if page == BASKET:
        assert "A new application starts with every dataset in your basket." in text

    second = apply_for(researcher, catalogue.other_published, title="Nodule follow-up")
    text = html(client.get(page))
    assert f'In <a href="{detail(second)}">application {second.pk}</a>' in text
    assert APPLY not in text


def test_the_basket_says_when_every_dataset_is_applied_for(catalogue, client_for, personas):
    researcher = personas["researcher"]
    fill_basket(researcher, catalogue.published)
    application = apply_for(researcher, catalogue.published, title="<b>Lesions</b>")

    text = html(client_for("researcher").get(BASKET))

    assert "Every dataset in your basket is in one of your applications." in text
    assert f"(“{escape('<b>Lesions</b>')}”, Draft)" in text
    assert html(client_for("researcher").get(detail(application)))  # the link leads somewhere


def test_a_withdrawn_application_or_someone_elses_does_not_count(catalogue, client_for, personas):
    researcher = personas["researcher"]
    fill_basket(researcher, catalogue.published)
    withdrawn = apply_for(researcher, catalogue.published)
    access_services.application_withdraw(application=withdrawn, actor=researcher)
    apply_for(personas["other_researcher"], catalogue.published)

    for page in [BASKET, DASHBOARD]:
        text = html(client_for("researcher").get(page))
        assert apply_link() in text
        assert "In <a href=" not in text


def _extra_published(node, n):
    return [
        services.dataset_create(
            node=node, actor=None, status="published", **dataset_fields(title=f"Extra {i}")
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("page", [BASKET, DASHBOARD])
def test_it_reads_the_basket_and_its_applications_in_a_fixed_number_of_queries(
    catalogue, client_for, personas, page
):
    researcher = personas["researcher"]
    client = client_for("researcher")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            html(client.get(page))
        return len(captured)

    fill_basket(researcher, catalogue.published)
    apply_for(researcher, catalogue.published)
    one = queries()

    extra = _extra_published(catalogue.own_node, 4)
    fill_basket(researcher, catalogue.other_published, *extra)
    apply_for(researcher, catalogue.other_published, *extra[:2], title="Second")
    apply_for(researcher, catalogue.published, *extra[2:], title="Third")
    many = queries()

    assert Dataset.objects.filter(status="published").count() == 6
    assert one == many <= 8, (one, many)
