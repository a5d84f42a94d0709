"""The portal in a real browser: login, keyboard use, accessibility rules, the catalogue."""

import pytest

from tests.e2e.conftest import axe_violations
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def _login(page, username):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_it_lands_a_researcher_on_their_dashboard(page, personas):
    _login(page, "researcher")
    page.wait_for_url("**/dashboard/researcher/")
    assert page.get_by_role("heading", level=1).inner_text() == "Research"
    assert (
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Basket").is_visible()
    )


def test_it_offers_a_skip_link_as_the_first_tab_stop(page, personas):
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


@pytest.mark.parametrize(
    ("persona", "path"),
    [
        ("anonymous", "/"),
        ("anonymous", "/accounts/login/"),
        ("anonymous", "/catalogue/"),
        ("anonymous", "/catalogue/datasets/{published}/"),
        ("researcher", "/catalogue/basket/"),
        ("node_operator", "/catalogue/datasets/{published}/edit/"),
        ("node_operator", "/catalogue/datasets/{published}/ingest/"),
        ("node_operator", "/dashboard/node/"),
        ("hdab_admin", "/dashboard/hdab/"),
        ("hdab_admin", "/audit/"),
        ("hdab_admin", "/access/figures/"),
        ("hdab_admin", "/access/figures/report/"),
        ("node_operator", "/catalogue/datasets/{published}/"),
        ("citizen", "/dashboard/citizen/"),
        ("citizen", "/access/my-data/"),  # not linked yet: how to link
    ],
)
def test_it_meets_accessibility_rules_without_csp_violations(page, catalogue, persona, path):
    if persona != "anonymous":
        _login(page, persona)
        page.wait_for_url("**/dashboard/**")
    response = page.goto(path.format(published=catalogue.published.pk))
    assert response.status == 200
    assert axe_violations(page) == []
    assert page.csp_errors == []


def test_it_lets_a_researcher_find_a_dataset_by_facet_and_basket_it(page, catalogue):
    _login(page, "researcher")
    page.wait_for_url("**/dashboard/**")
    page.goto("/catalogue/")
    page.get_by_role("group", name="Modality").get_by_label("Computed tomography").check()
    page.get_by_role("button", name="Apply filters").click()
    results = page.locator(".result h3")
    assert results.all_inner_texts() == ["Lung CT collection"]
    page.get_by_role("button", name="Add to basket Lung CT collection").click()
    page.get_by_text("In your basket").first.wait_for()
    page.goto("/catalogue/basket/")
    assert "Lung CT collection" in page.locator("main table").inner_text()
