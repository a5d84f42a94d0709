"""The catalogue's dashboard (node operators) and navigation links, registered with portal."""

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from catalogue.selectors import operated_nodes
from portal.dashboards import Dashboard, Link, register_dashboard, register_link
from portal.models import Role


def node_dashboard(request) -> dict:
    """The nodes the operator runs, with how many of their datasets exist and are published."""
    return {
        "nodes": operated_nodes(request.user).annotate(
            dataset_count=Count("datasets"),
            published_count=Count("datasets", filter=Q(datasets__status="published")),
        )
    }


register_dashboard(
    Dashboard(
        Role.NODE_OPERATOR, "node", _("My nodes"), "catalogue/dashboard_node.html", node_dashboard
    )
)
register_link(Link(None, _("Catalogue"), "catalogue:search"))
register_link(Link(Role.RESEARCHER, _("Basket"), "catalogue:basket"))
