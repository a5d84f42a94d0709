"""Consent's dashboard (citizens) and navigation link (node operators), registered with
portal."""

from django.utils.translation import gettext_lazy as _

from consent.views.citizen import citizen_dashboard
from portal.dashboards import Dashboard, Link, register_dashboard, register_link
from portal.models import Role

register_dashboard(
    Dashboard(
        Role.CITIZEN,
        "citizen",
        _("My data donation"),
        "consent/dashboard_citizen.html",
        citizen_dashboard,
    )
)
register_link(Link(Role.NODE_OPERATOR, _("Link codes"), "consent:link_code_nodes"))
