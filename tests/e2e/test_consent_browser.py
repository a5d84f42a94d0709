"""The donor's journey in a real browser, without JavaScript of our own: a node operator issues a
link code; the citizen links their images with it, donates, narrows the donation, sees both
versions, withdraws, opts out and revokes the opt-out. Each step is checked on the page the
citizen sees, and the versions stored are checked against the FHIR rules. The consent pages
meet the accessibility rules."""

import pytest
from django.urls import reverse

from consent import fhir
from consent.models import ConsentVersion
from tests.e2e.conftest import axe_violations, login

pytestmark = pytest.mark.django_db(transaction=True)


# (persona, page) — the page by its name in the ``donor_world`` fixture.
CONSENT_PAGES = [
    ("citizen", "donation"),
    ("citizen", "donation_withdraw"),
    ("citizen", "opt_out"),
    ("citizen", "history"),
    ("citizen", "links"),
    ("citizen", "unlink"),
    ("node_operator", "link_code_nodes"),
    ("node_operator", "link_codes"),
]


@pytest.mark.parametrize(("persona", "name"), CONSENT_PAGES)
def test_it_meets_accessibility_rules_on_the_consent_pages(page, donor_world, persona, name):
    login(page, persona)
    response = page.goto(donor_world.urls[name])
    assert response.status == 200
    assert axe_violations(page) == []
    assert page.csp_errors == []


def _main(page) -> str:
    return " ".join(page.locator("main").inner_text().split())


def _issue_code(browser, live_server, node_pk: int, subject: str) -> str:
    """The operator, in a browser of their own, issues a code for ``subject``."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    operator = context.new_page()
    try:
        login(operator, "node_operator")
        operator.get_by_role("link", name="Link codes").first.click()
        operator.get_by_role("link", name="Link codes at Oslo imaging node").click()
        assert operator.url.endswith(reverse("consent:link_codes", args=[node_pk]))
        operator.get_by_label("Patient's pseudonym at this node").fill(subject)
        operator.get_by_role("button", name="Issue a code").click()
        code = operator.locator("#link-code").inner_text()
        assert "it is shown only this once" in _main(operator)
        assert axe_violations(operator) == []
        operator.goto(operator.url)  # the list shows the code issued, never the code itself
        assert subject in _main(operator) and code not in operator.content()
        return code
    finally:
        context.close()


def test_a_citizen_links_donates_narrows_withdraws_and_opts_out(
    page, browser, live_server, catalogue
):
    code = _issue_code(browser, live_server, catalogue.own_node.pk, "oslo-7")

    login(page, "citizen")
    assert page.url.endswith("/dashboard/citizen/")
    assert "What is shared, with whom, and how to stop it" in _main(page)
    assert "You have not donated your data." in _main(page)

    # Link the images with the code (typed in lower case, as a person might).
    page.get_by_label("Link code").fill(code.lower())
    page.get_by_role("button", name="Link my images").click()
    text = _main(page)
    assert "Your images at Oslo imaging node, named oslo-7 there, are linked" in text
    assert "Oslo imaging node: your images there are named oslo-7" in text

    # Donate: images and clinical data, for research, health research only, not commercial.
    page.get_by_role("link", name="Donate my data").click()
    assert axe_violations(page) == []
    page.get_by_label("Oslo imaging node (your images there are named oslo-7)").check()
    page.get_by_label("Images: scans").check()
    page.get_by_label("Clinical data:").check()
    page.get_by_label("Scientific research on health or care, of every kind").check()
    page.get_by_label("Health or medical research only").check()
    page.get_by_label("Not for commercial use").check()
    page.get_by_role("button", name="Donate").click()
    text = _main(page)
    assert "Thank you: your donation is recorded." in text
    assert "You donate your data as described below." in text
    assert "Clinical data: diagnoses" in text
    assert "Not for commercial use" in text

    # Narrow it: images only.
    page.get_by_role("link", name="Change my donation").click()
    assert page.get_by_label("Clinical data:").is_checked()  # filled in with the choices
    page.get_by_label("Clinical data:").uncheck()
    page.get_by_role("button", name="Save my choices").click()
    text = _main(page)
    assert "Your donation is changed." in text
    assert "Clinical data: diagnoses" not in text and "Images: scans" in text

    # Both versions, with their dates.
    page.get_by_role("link", name="Every version of your choices, with its date").click()
    text = _main(page)
    assert "Data donation, version 2" in text and "Data donation, version 1" in text
    assert text.count("Recorded on") == 2
    assert axe_violations(page) == []
    page.goto("/dashboard/citizen/")

    # Withdraw, after the confirmation page.
    page.get_by_role("link", name="Withdraw my donation").click()
    assert "Withdraw your donation?" in _main(page)
    assert axe_violations(page) == []
    page.get_by_role("button", name="Withdraw my donation").click()
    text = _main(page)
    assert "Your donation is withdrawn." in text
    assert "Donation withdrawn: your data may not be used." in text
    assert page.get_by_role("link", name="Donate again").is_visible()

    # Opt out (EHDS Art 71), then revoke it.
    page.get_by_role("link", name="Opt out").click()
    assert "Article 71(3)" in _main(page)
    page.get_by_role("button", name="Opt out").click()
    text = _main(page)
    assert "Your opt-out is recorded." in text
    assert "You opted out of the secondary use of your data." in text
    page.get_by_role("link", name="Revoke my opt-out").click()
    page.get_by_role("button", name="Revoke my opt-out").click()
    text = _main(page)
    assert "Your opt-out is revoked." in text
    assert "Opt-out revoked: it no longer applies." in text

    page.get_by_role("link", name="Every version of your choices, with its date").click()
    text = _main(page)
    assert "Data donation, version 3" in text
    assert "Opt-out from secondary use, version 2" in text
    assert page.csp_errors == []

    stored = list(ConsentVersion.objects.order_by("record__kind", "version"))
    assert [(v.record.kind, v.version, v.status) for v in stored] == [
        ("donation", 1, "active"),
        ("donation", 2, "active"),
        ("donation", 3, "inactive"),
        ("opt_out", 1, "active"),
        ("opt_out", 2, "inactive"),
    ]
    assert all(fhir.validate(v.resource)[1] == [] for v in stored)
    assert set(stored[0].categories) == {"imaging", "clinical"}
    assert set(stored[1].categories) == {"imaging"}


def test_a_refused_donation_says_why_in_the_browser(page, browser, live_server, catalogue):
    code = _issue_code(browser, live_server, catalogue.own_node.pk, "oslo-8")
    login(page, "citizen")
    page.get_by_label("Link code").fill(code)
    page.get_by_role("button", name="Link my images").click()
    page.get_by_role("link", name="Donate my data").click()
    page.get_by_label("Research on one disease only").check()
    page.get_by_role("button", name="Donate").click()
    text = _main(page)
    assert "Choose at least one hospital or node." in text
    assert "Name the disease the research must be about." in text
    assert axe_violations(page) == []
    assert ConsentVersion.objects.count() == 0
