"""The navigation a person sees, derived from their roles."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from portal.models import Role


@dataclass(frozen=True)
class Dashboard:
    role: str
    slug: str
    label: str


DASHBOARDS = [
    Dashboard(Role.CITIZEN, "citizen", _("My data donation")),
    Dashboard(Role.RESEARCHER, "researcher", _("Research")),
    Dashboard(Role.COMMITTEE_MEMBER, "committee", _("Committee")),
    Dashboard(Role.NODE_OPERATOR, "node", _("My nodes")),
    Dashboard(Role.HDAB_ADMIN, "hdab", _("Access body")),
]
DASHBOARD_BY_SLUG = {d.slug: d for d in DASHBOARDS}

# (role or None for everyone, label, url name): extra links the apps add for a role.
EXTRA_LINKS: list[tuple[str | None, str, str]] = [
    (None, _("Catalogue"), "catalogue:search"),
    (Role.RESEARCHER, _("Basket"), "catalogue:basket"),
    (Role.RESEARCHER, _("My applications"), "access:application_list"),
    (Role.RESEARCHER, _("My permits"), "access:permit_list"),
    (Role.HDAB_ADMIN, _("Committees"), "access:committee_list"),
    (Role.HDAB_ADMIN, _("Permits"), "access:permit_list"),
    (Role.HDAB_ADMIN, _("Audit log"), "audit_log"),
]


def dashboards_for(user) -> list[Dashboard]:
    if not user.is_authenticated:
        return []
    return [d for d in DASHBOARDS if user.has_role(d.role)]


def nav_items(user, current_path: str) -> list[dict]:
    items = []
    for dashboard in dashboards_for(user):
        url = reverse("role_dashboard", args=[dashboard.slug])
        items.append({"label": dashboard.label, "url": url})
    for role, label, url_name in EXTRA_LINKS:
        if role is None or (user.is_authenticated and user.has_role(role)):
            url = reverse(url_name)
            if all(item["url"] != url for item in items):  # one link per page
                items.append({"label": label, "url": url})
    for item in items:
        item["current"] = current_path.startswith(item["url"])
    return items
