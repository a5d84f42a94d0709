"""The catalogue's dashboard (node operators) and navigation links, registered with portal."""

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from catalogue.models import Dataset
from catalogue.quality import review_due_filter
from catalogue.selectors import operated_nodes
from portal.dashboards import Dashboard, Link, register_dashboard, register_link
from portal.models import Role


def node_dashboard(request) -> dict:
    """The nodes the operator runs, with how many of their datasets exist and are published,
    and the datasets whose description is due for its yearly review."""
    nodes = operated_nodes(request.user)
    return {
        "nodes": nodes.annotate(
            dataset_count=Count("datasets"),
            published_count=Count("datasets", filter=Q(datasets__status="published")),
        ),
        "review_due": Dataset.objects.filter(review_due_filter(), node__in=nodes).order_by("title"),
    }


register_dashboard(
    Dashboard(
        Role.NODE_OPERATOR, "node", _("My nodes"), "catalogue/dashboard_node.html", node_dashboard
    )
)
register_link(Link(None, _("Catalogue"), "catalogue:search"))
register_link(Link(Role.RESEARCHER, _("Basket"), "catalogue:basket"))
