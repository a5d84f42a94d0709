"""The apps register their role dashboards and navigation links with portal, which imports
none of them (tests/test_layers.py checks that)."""

import re

import pytest
from django.urls import reverse

from portal import dashboards
from portal.dashboards import Dashboard


def test_each_role_has_one_dashboard_served_by_its_app():
    assert {d.slug: (d.role, d.template) for d in dashboards.dashboards()} == {
        "citizen": ("citizen", "consent/dashboard_citizen.html"),
        "researcher": ("researcher", "access/dashboard_researcher.html"),
        "committee": ("committee_member", "access/dashboard_committee.html"),
        "node": ("node_operator", "catalogue/dashboard_node.html"),
        "hdab": ("hdab_admin", "access/dashboard_hdab.html"),
    }


def test_a_second_dashboard_for_a_slug_or_a_role_is_refused():
    with pytest.raises(ValueError, match="clashes"):
        dashboards.register_dashboard(
            Dashboard("node_operator", "nodes", "Nodes", "catalogue/dashboard_node.html")
        )
    with pytest.raises(ValueError, match="clashes"):
        dashboards.register_dashboard(
            Dashboard("citizen", "node", "Nodes", "catalogue/dashboard_node.html")
        )
    assert dashboards.dashboard("nodes") is None
    assert dashboards.dashboard("node").role == "node_operator"


def _navigation(page: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", link).strip() for link in re.findall(r"<a .*?</a>", nav)]


@pytest.mark.parametrize(
    ("persona", "links"),
    [
        (
            "researcher",
            ["Research", "Catalogue", "Basket", "My applications", "My permits", "Public register"],
        ),
        (
            "hdab_admin",
            [
                "Access body",
                "Catalogue",
                "Committees",
                "Permits",
                "Node connections",
                "Figures",
                "Public register",
                "Audit log",
            ],
        ),
        (
            "node_operator",
            ["My nodes", "Catalogue", "Node connection", "Public register", "Link codes"],
        ),
    ],
)
def test_the_navigation_lists_dashboards_then_the_apps_links_then_portals(
    client_for, persona, links
):
    page = client_for(persona).get(reverse("home")).content.decode()
    assert _navigation(page) == links
