"""The cohort feasibility page on a 360-pixel phone with JavaScript off: the form is filled in
and sent as plain HTML, the answer shows, and nothing scrolls sideways."""

from datetime import date

import pytest
from django.urls import reverse

from catalogue.models import Study
from tests.catalogue.test_feasibility import index
from tests.e2e.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)
NARROW_PHONE = {"width": 360, "height": 740}


@pytest.fixture
def phone_without_javascript(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, viewport=NARROW_PHONE, java_script_enabled=False
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def _scroll_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_a_researcher_counts_a_cohort_on_a_narrow_phone_without_javascript(
    phone_without_javascript, catalogue
):
    page = phone_without_javascript
    index(catalogue.published, 30, modality="MR", day=date(2021, 3, 1), prefix="m")
    index(catalogue.published, 15, modality="CT", prefix="c")
    Study.objects.filter(dataset=catalogue.published, subject__startswith="m").update(
        age=52, sex="F"
    )
    from catalogue.services import dataset_refresh_counts

    dataset_refresh_counts(dataset=catalogue.published)
    login(page, "researcher")

    page.goto(reverse("catalogue:feasibility"))
    assert page.evaluate("window.innerWidth") == NARROW_PHONE["width"]
    assert _scroll_width(page) <= NARROW_PHONE["width"]
    page.get_by_label("Magnetic resonance", exact=True).check()
    page.get_by_role("group", name="Age at the study (years)").get_by_label("From").fill("40")
    page.get_by_role("group", name="Sex").get_by_label("Female").check()
    page.get_by_role("button", name="Count").click()

    page.wait_for_url("**modality=MR**")
    answer = page.get_by_role("region", name="Matching")
    assert "about 30" in answer.inner_text()
    assert catalogue.published.title in answer.inner_text()
    assert _scroll_width(page) <= NARROW_PHONE["width"]
    # The criteria stay filled in for the next question.
    assert page.get_by_label("Magnetic resonance", exact=True).is_checked()
    assert page.get_by_role("group", name="Sex").get_by_label("Female").is_checked()
