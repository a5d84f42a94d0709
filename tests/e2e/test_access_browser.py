"""The access area in a real browser: accessibility rules on every page of applications,
reviews, permits, committees and invitations; a refused form's error is where the browser
lands and what it focuses; confirmations of what cannot be undone."""

import pytest

from tests.e2e.conftest import axe_violations, login

pytestmark = pytest.mark.django_db(transaction=True)

# (persona, page) — the page by its name in the ``world`` fixture.
ACCESS_PAGES = [
    ("researcher", "applications"),
    ("researcher", "new_application"),
    ("researcher", "edit_draft"),
    ("researcher", "submitted"),
    ("researcher", "decided"),
    ("researcher", "withdraw"),
    ("researcher", "permits"),
    ("researcher", "permit"),
    ("committee_member", "submitted"),
    ("committee_member", "permits"),
    ("committee_chair", "submitted"),
    ("committee_chair", "permit"),
    ("hdab_admin", "submitted"),
    ("hdab_admin", "committees"),
    ("hdab_admin", "committee"),
    ("hdab_admin", "new_committee"),
    ("citizen", "invitation"),
    ("citizen", "donor_uses"),
    # The public register and its working pages
    ("citizen", "register"),
    ("citizen", "register_entry"),
    ("citizen", "citizen_information"),
    ("researcher", "permit_results"),
    ("hdab_admin", "results_extend"),
]


@pytest.mark.parametrize(("persona", "name"), ACCESS_PAGES)
def test_it_meets_accessibility_rules_in_the_access_area(page, world, persona, name):
    login(page, persona)
    response = page.goto(world.urls[name])
    assert response.status == 200
    assert axe_violations(page) == []
    assert page.csp_errors == []


def _focused_error(page) -> dict:
    """The focused element, and whether it is inside the viewport."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const box = el.getBoundingClientRect();
            return {id: el.id, text: el.innerText, role: el.getAttribute("role"),
                    inView: box.top > -1 && box.bottom < window.innerHeight + 1,
                    scrolled: window.scrollY,
                    form: el.closest("form") ? el.closest("form").id : null};
        }"""
    )


def test_it_takes_a_member_to_the_error_of_a_refused_vote(page, world):
    login(page, "committee_member")
    page.goto(world.urls["submitted"])
    review = world.oslo_review.pk
    vote = page.locator(f"#vote-{review}-form")
    vote.get_by_label("Reject", exact=True).check()
    vote.get_by_role("button", name="Cast the vote").click()
    page.wait_for_url(f"**#vote-{review}-errors")
    focused = _focused_error(page)
    assert focused["id"] == f"vote-{review}-errors"
    assert focused["form"] == f"vote-{review}-form" and focused["role"] == "alert"
    assert "Give the reasons for rejecting." in focused["text"]
    assert focused["inView"] and focused["scrolled"] > 0
    assert axe_violations(page) == []


def test_it_takes_the_access_body_to_the_error_of_a_refused_member(page, world):
    login(page, "hdab_admin")
    page.goto(world.urls["committee"])
    page.get_by_role("button", name="Add member").click()
    page.wait_for_url("**#member-errors")
    focused = _focused_error(page)
    assert focused["id"] == "member-errors" and focused["form"] == "member-form"
    assert "Person: This field is required." in focused["text"]
    assert focused["inView"]
    assert axe_violations(page) == []


def test_it_asks_the_chair_to_confirm_a_decision_and_says_what_changed(page, world):
    login(page, "committee_chair")
    page.goto(world.urls["submitted"])
    review = world.oslo_review.pk
    decide = page.locator(f"#decide-{review}-form")
    decide.get_by_label("Approve", exact=True).check()
    decide.get_by_label("Conditions of the permit").fill("Publish within 18 months.")
    decide.get_by_role("button", name="Record the decision").click()
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text().startswith("Approve application")
    assert "Conditions of the permit: Publish within 18 months." in page.inner_text("main")
    assert axe_violations(page) == []

    page.get_by_role("button", name="Change").click()  # back to the form, as filled in
    page.wait_for_url(f"**#decide-{review}-form")
    assert decide.get_by_label("Conditions of the permit").input_value() == (
        "Publish within 18 months."
    )
    decide.get_by_role("button", name="Record the decision").click()
    page.get_by_role("button", name="Approve for Oslo DAC").click()
    page.wait_for_url(f"**#review-{review}")
    assert "was approved for Oslo DAC" in page.locator(".messages").inner_text()


def test_it_asks_the_operator_to_confirm_publishing_a_dataset(page, catalogue):
    login(page, "node_operator")
    page.goto(f"/catalogue/datasets/{catalogue.draft.pk}/")
    page.get_by_role("button", name="Publish", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text() == "Publish “Oslo draft”?"
    assert axe_violations(page) == []
    assert page.csp_errors == []
    page.get_by_role("button", name="Publish “Oslo draft”").click()
    page.wait_for_url(f"**/catalogue/datasets/{catalogue.draft.pk}/")
    assert "“Oslo draft” was published" in page.locator(".messages").inner_text()
