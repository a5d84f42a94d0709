"""Role dashboards and navigation links, registered by the apps that serve them.

Portal imports no app: each app registers, when it is ready (its ``dashboards`` module), the
dashboards of the roles it serves (the template, and the function that builds the template's
context from the request) and the links it adds to the navigation. Portal looks them up.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from portal.models import Role

ContextBuilder = Callable[[HttpRequest], dict[str, Any]]


@dataclass(frozen=True)
class Dashboard:
    """The dashboard of one role: its address (``/dashboard/<slug>/``), its name in the
    navigation, its template, and what the template is given besides ``dashboard``."""

    role: str
    slug: str
    label: str | Promise
    template: str
    context: ContextBuilder | None = None


@dataclass(frozen=True)
class Link:
    """A navigation link for the holders of ``role`` (everyone when ``role`` is None)."""

    role: str | None
    label: str | Promise
    url_name: str


_DASHBOARDS: dict[str, Dashboard] = {}
_LINKS: list[Link] = []


def register_dashboard(dashboard: Dashboard) -> None:
    """Add a dashboard. One dashboard per slug and per role: a second is refused."""
    for known in _DASHBOARDS.values():
        if known == dashboard:
            return
        if dashboard.slug == known.slug or dashboard.role == known.role:
            raise ValueError(f"{dashboard!r} clashes with the registered {known!r}")
    _DASHBOARDS[dashboard.slug] = dashboard


def register_link(link: Link) -> None:
    """Add a navigation link; links are shown in the order they were registered (so in the
    order of INSTALLED_APPS), after the dashboards and before portal's own links."""
    if link not in _LINKS:
        _LINKS.append(link)


def dashboard(slug: str) -> Dashboard | None:
    return _DASHBOARDS.get(slug)


def dashboards() -> list[Dashboard]:
    """Every registered dashboard, in the order of the roles."""
    order = {role: i for i, role in enumerate(Role.values)}
    return sorted(_DASHBOARDS.values(), key=lambda d: order.get(d.role, len(order)))


def links() -> list[Link]:
    return [*_LINKS, *PORTAL_LINKS]


# Portal's own: the audit log.
PORTAL_LINKS = [Link(Role.HDAB_ADMIN, _("Audit log"), "audit_log")]
