"""On a phone (375 CSS pixels wide) no page scrolls sideways: wide tables scroll inside their
own frame and long words wrap, so the page itself is never wider than the screen."""

import pytest
from django.urls import reverse

from tests.e2e.conftest import PHONE, login

pytestmark = pytest.mark.django_db(transaction=True)

# The main pages of each role, by name in the ``world`` fixture or as a path.
PAGES = {
    "anonymous": ["/", "/accounts/login/", "/accounts/password-reset/", "/catalogue/",
                  "dataset", "/access/register/", "register_entry", "/access/your-data/"],
    "citizen": ["/dashboard/citizen/", "invitation", "donation", "donation_withdraw", "opt_out",
                "history", "links", "unlink", "donor_uses"],
    "researcher": ["/dashboard/researcher/", "/catalogue/basket/", "applications",
                   "new_application", "edit_draft", "submitted", "decided", "withdraw", "permits",
                   "permit", "dataset", "permit_results"],
    "committee_member": ["/dashboard/committee/", "submitted", "permits"],
    "committee_chair": ["/dashboard/committee/", "submitted", "decided", "permit"],
    "node_operator": ["/dashboard/node/", "dataset", "dataset_edit", "dataset_ingest", "node",
                      "draft_dataset", "link_code_nodes", "link_codes", "/access/node-connections/",
                      "node_connection"],
    "hdab_admin": ["/dashboard/hdab/", "/audit/", "submitted", "committees", "committee",
                   "new_committee", "permits", "permit", "/access/figures/",
                   "/access/figures/report/", "results_extend"],
}  # fmt: skip


def _wider_than_the_screen(page) -> dict:
    return page.evaluate(
        """() => ({scrollWidth: document.documentElement.scrollWidth,
                  innerWidth: window.innerWidth})"""
    )


@pytest.mark.parametrize("persona", list(PAGES))
def test_it_never_scrolls_sideways_on_a_phone(phone, world, donor_world, catalogue, persona):
    urls = {
        **world.urls,
        **donor_world.urls,
        "dataset": reverse("catalogue:dataset_detail", args=[catalogue.published.pk]),
        "draft_dataset": reverse("catalogue:dataset_detail", args=[catalogue.draft.pk]),
        "dataset_edit": reverse("catalogue:dataset_edit", args=[catalogue.published.pk]),
        "dataset_ingest": reverse("catalogue:dataset_ingest", args=[catalogue.published.pk]),
        "node": reverse("catalogue:node_detail", args=[catalogue.own_node.pk]),
        "node_connection": reverse("access:node_connection", args=[catalogue.own_node.pk]),
        "register_entry": reverse("access:register_entry", args=[world.permit.application_id]),
        "permit_results": reverse("access:permit_results", args=[world.permit.pk]),
        "decision_publish": reverse("access:decision_publish", args=[world.permit.application_id]),
    }
    if persona != "anonymous":
        login(phone, persona)
    assert phone.evaluate("window.innerWidth") == PHONE["width"]
    too_wide = {}
    for name in PAGES[persona]:
        path = urls.get(name, name)
        response = phone.goto(path)
        assert response.status == 200, path
        size = _wider_than_the_screen(phone)
        if size["scrollWidth"] > size["innerWidth"]:
            too_wide[path] = size["scrollWidth"]
    assert too_wide == {}
