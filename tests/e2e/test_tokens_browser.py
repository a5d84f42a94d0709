"""From a permit to a token in a real browser, on a desktop and on a phone: the page meets the
accessibility rules, runs no script, and never scrolls sideways."""

import pytest
from django.urls import reverse

from tests.access.conftest import token_claims
from tests.e2e.conftest import PHONE, axe_violations, login

pytestmark = pytest.mark.django_db(transaction=True)


def _get_a_token(page, world) -> str:
    login(page, "researcher")
    page.goto(world.urls["permit"])
    page.get_by_role("radio", name="Oslo imaging node").check()
    page.get_by_role("button", name="Get an access token").click()
    page.wait_for_url(f"**{reverse('access:token_issue', args=[world.permit.pk])}")
    return page.get_by_label("Access token").input_value()


def test_a_researcher_gets_a_token_from_the_permit_page(page, world, catalogue):
    token = _get_a_token(page, world)
    assert token_claims(token).aud == catalogue.own_node.audience
    assert page.get_by_text(catalogue.own_node.dicomweb_base_url).first.is_visible()
    assert axe_violations(page) == []
    assert page.csp_errors == []
    assert page.evaluate("document.scripts.length") == 0
    page.get_by_role("link", name="Back to the permit").click()
    assert page.get_by_role("button", name="Revoke").count() == 1


def test_the_token_page_fits_a_phone(phone, world):
    token = _get_a_token(phone, world)
    assert token.count(".") == 2
    assert phone.evaluate("window.innerWidth") == PHONE["width"]
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.goto(world.urls["permit"])
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
