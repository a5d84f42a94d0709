"""The node operator's pages: issuing a link code for a pseudonym at their node (the code is
shown once, to print or hand to the patient) and the codes issued there (their hashes alone
are kept, so the list never shows a code). Only the node's operators reach them; anyone else
gets 404."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from catalogue.selectors import access_node, operated_nodes
from consent import selectors, services
from consent.forms import IssueLinkCodeForm
from consent.models import LinkCode
from portal.forms import show_refusal
from portal.models import Role
from portal.permissions import role_required
from portal.workflow import NotPermitted

PAGE_SIZE = 25


def code_state(code: LinkCode, now) -> str:
    """Where a code stands, in words."""
    if code.redeemed_at:
        return _("Used on %(day)s") % {"day": f"{timezone.localdate(code.redeemed_at):%Y-%m-%d}"}
    if code.revoked_at:
        return _("Replaced by a newer code")
    if code.expires_at <= now:
        return _("Expired")
    return _("Not used yet")


@role_required(Role.NODE_OPERATOR)
def link_code_nodes(request: HttpRequest) -> HttpResponse:
    """The nodes the operator runs, each leading to its link codes."""
    return render(
        request,
        "consent/link_code_nodes.html",
        {"nodes": operated_nodes(request.user).order_by("name")},
    )


@role_required(Role.NODE_OPERATOR)
def link_codes(request: HttpRequest, pk: int) -> HttpResponse:
    """Issue a link code at the node, and list the codes issued there."""
    node = access_node(request.user, pk, for_write=True)
    form = IssueLinkCodeForm(request.POST if request.method == "POST" else None, auto_id="issue-%s")
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            link_code, code = services.link_code_issue(
                node=node, subject=form.cleaned_data["subject"], actor=request.user
            )
        except NotPermitted as error:
            messages.error(request, str(error))
        except ValidationError as error:
            show_refusal(form, error)
        else:
            issued = {"code": code, "link_code": link_code}
            form = IssueLinkCodeForm(auto_id="issue-%s")
    codes = selectors.link_codes_of(request.user, node.pk).select_related("issued_by")
    page = Paginator(codes, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    response = render(
        request,
        "consent/link_codes.html",
        {
            "node": node,
            "form": form,
            "issued": issued,
            "page": page,
            "rows": [(c, code_state(c, now)) for c in page.object_list],
        },
    )
    if issued:
        response["Cache-Control"] = "no-store"  # the only copy of the code: keep it out of caches
    return response
