"""The donor's view of the use of their data: the permits that granted datasets holding their
images, and each access to their studies that nodes reported."""

from django.shortcuts import render

from access.selectors_donor import donor_overview
from portal.models import Role
from portal.permissions import role_required


@role_required(Role.CITIZEN)
def donor_uses(request):
    """Who was allowed to use, and who asked for, data that included the citizen's (their own
    links only; reading changes nothing, so nothing is recorded)."""
    overview = donor_overview(
        request.user,
        permits_page=request.GET.get("permits"),
        events_page=request.GET.get("page"),
    )
    return render(
        request,
        "access/donor_uses.html",
        {
            "overview": overview,
            "permits_page": request.GET.get("permits", ""),
            "events_page": request.GET.get("page", ""),
        },
    )
