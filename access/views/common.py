"""What the access pages share: page size, labels, refusals shown as messages, form ids,
the confirmation step and how dates and applications are named.
"""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access.models import (
    Application,
    InvalidTransition,
)
from portal.confirm import Confirmation, confirmation_page

PAGE_SIZE = 20
PRESCREEN_LABELS = {
    "compatible": gettext_lazy("compatible"),
    "incompatible": gettext_lazy("incompatible"),
    "needs_judgement": gettext_lazy("needs judgement"),
}
EDITABLE = {Application.Status.DRAFT, Application.Status.CLARIFICATION}


def _refused(request, error: InvalidTransition, application: Application):
    messages.error(request, str(error))
    return redirect("access:application_detail", application.pk)


def _posted(request):
    """The submitted data, even when empty (an empty form is still a submission)."""
    return request.POST if request.method == "POST" else None


def _auto_id(kind: str, pk) -> str:
    # Several reviews' forms share the detail page; their ids must not collide.
    return f"{kind}-{pk}-%s"


def _named(application: Application, *, first: bool = False) -> str:
    """How messages and confirmations name an application (``first``: starting a sentence)."""
    words = _("Application %(pk)s “%(title)s”") if first else _("application %(pk)s “%(title)s”")
    return words % {"pk": application.pk, "title": application.title}


def _listed(names) -> str:
    return ", ".join(str(n) for n in names) or "—"


def _confirm(request, confirmation: Confirmation, application: Application, form_id: str):
    """Ask before an action on the application page that cannot be undone; Change and Cancel
    lead back to the form (``form_id``) it came from."""
    detail = reverse("access:application_detail", args=[application.pk])
    return confirmation_page(
        request,
        confirmation,
        action=request.path,
        change=f"{request.path}#{form_id}-form",
        back=f"{detail}#{form_id}-form",
    )


def _day(moment) -> str:
    """A date (or the local date of a time) as the pages show it."""
    if moment is None:
        return "—"
    if hasattr(moment, "tzinfo"):
        moment = timezone.localdate(moment)
    return f"{moment:%Y-%m-%d}"
