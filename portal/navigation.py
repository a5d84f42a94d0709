"""The navigation a person sees, derived from their roles and what the apps registered."""

from django.urls import reverse

from portal import dashboards
from portal.dashboards import Dashboard


def dashboards_for(user) -> list[Dashboard]:
    if not user.is_authenticated:
        return []
    return [d for d in dashboards.dashboards() if user.has_role(d.role)]


def nav_items(user, current_path: str) -> list[dict]:
    items = []
    for dashboard in dashboards_for(user):
        url = reverse("role_dashboard", args=[dashboard.slug])
        items.append({"label": dashboard.label, "url": url})
    for link in dashboards.links():
        if link.role is None or (user.is_authenticated and user.has_role(link.role)):
            url = reverse(link.url_name)
            if all(item["url"] != url for item in items):  # one link per page
                items.append({"label": link.label, "url": url})
    for item in items:
        item["current"] = current_path.startswith(item["url"])
    return items
