"""Access's dashboards (researchers, committee members, the access body) and navigation
links, registered with portal."""

from django.core.paginator import Paginator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from access.models import Application, Review
from access.selectors import (
    committee_queue,
    due_soon,
    is_overdue,
    stuck_reviews,
    visible_applications,
)
from access.selectors_register import publications_due, results_pending
from catalogue.selectors import basket_entries
from consent.panels import CitizenPanel, register_citizen_panel
from portal import selectors as portal_selectors
from portal.dashboards import Dashboard, Link, register_dashboard, register_link
from portal.models import Role


def researcher_dashboard(request) -> dict:
    """The basket (each dataset with the applications that include it) and the latest
    applications."""
    basket = basket_entries(request.user)
    return {
        "basket": basket,
        "basket_to_apply": [e for e in basket if not e.applications],
        "applications": visible_applications(request.user).order_by("-updated_at")[:10],
    }


def committee_dashboard(request) -> dict:
    """The member's pending reviews, a page at a time with their deadlines, and the ten last
    decided."""
    now = timezone.now()
    queue = committee_queue(request.user)
    page = Paginator(queue.filter(status=Review.Status.PENDING), 25).get_page(
        request.GET.get("page")
    )
    return {
        "page": page,
        "queue": [
            {
                "review": review,
                "overdue": is_overdue(review.application, now=now),
                "due_soon": due_soon(review.application, now=now),
            }
            for review in page.object_list
        ],
        "decided": queue.exclude(status=Review.Status.PENDING).order_by("-decided_at", "-pk")[:10],
    }


def hdab_dashboard(request) -> dict:
    """Reviews nobody may decide, open applications by deadline, people by role and the latest
    audit events."""
    counts = portal_selectors.role_counts()
    now = timezone.now()
    open_applications = (
        Application.objects.filter(status__in=Application.OPEN)
        .select_related("applicant")
        .order_by("decision_due", "pk")
    )
    page = Paginator(open_applications, 25).get_page(request.GET.get("page"))
    return {
        "role_counts": [(label, counts.get(value, 0)) for value, label in Role.choices],
        "recent_events": portal_selectors.audit_events()[:10],
        "stuck": stuck_reviews(),
        "page": page,
        "deadlines": [(a, is_overdue(a, now=now)) for a in page.object_list],
        # The register's clocks (templates/access/_register_clocks.html)
        "publications_due": publications_due(),
        "results_pending": results_pending(),
    }


register_dashboard(
    Dashboard(
        Role.RESEARCHER,
        "researcher",
        _("Research"),
        "access/dashboard_researcher.html",
        researcher_dashboard,
    )
)
register_dashboard(
    Dashboard(
        Role.COMMITTEE_MEMBER,
        "committee",
        _("Committee"),
        "access/dashboard_committee.html",
        committee_dashboard,
    )
)
register_dashboard(
    Dashboard(
        Role.HDAB_ADMIN, "hdab", _("Access body"), "access/dashboard_hdab.html", hdab_dashboard
    )
)
register_link(Link(Role.RESEARCHER, _("My applications"), "access:application_list"))
register_link(Link(Role.RESEARCHER, _("My permits"), "access:permit_list"))
register_link(Link(Role.CITIZEN, _("Who used my data"), "access:donor_uses"))
register_citizen_panel(CitizenPanel("access/_citizen_uses_panel.html"))
register_link(Link(Role.HDAB_ADMIN, _("Committees"), "access:committee_list"))
register_link(Link(Role.HDAB_ADMIN, _("Permits"), "access:permit_list"))
register_link(Link(Role.HDAB_ADMIN, _("Node connections"), "access:node_connection_list"))
register_link(Link(Role.NODE_OPERATOR, _("Node connection"), "access:node_connection_list"))
register_link(Link(Role.HDAB_ADMIN, _("Figures"), "access:figures"))
register_link(Link(None, _("Public register"), "access:register"))
