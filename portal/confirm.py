"""The confirmation step of actions that cannot be undone (pages only; the API acts at once).

The view that performs the action answers a first, valid POST with a page saying what will
happen, carrying the submitted values in hidden fields. Its Confirm button posts them again
with ``confirmed=yes``, and only then does the view call the service; its Change button posts
them with ``confirmed=no``, and the view shows its form again as filled in. No JavaScript.
"""

from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

CONFIRM_FIELD = "confirmed"
NOT_CARRIED = {"csrfmiddlewaretoken", CONFIRM_FIELD}
CONFIRM = _("Confirm")
CANNOT_BE_UNDONE = _("This cannot be undone.")


@dataclass(frozen=True)
class Confirmation:
    """What an action will do, said before it is done: a question as the page's heading, the
    consequences one per line, and the label of the button that does it."""

    question: str
    consequences: list[str] = field(default_factory=list)
    button: str | Promise = CONFIRM
    warning: str | Promise = CANNOT_BE_UNDONE


def is_confirmed(request: HttpRequest) -> bool:
    """The person pressed Confirm on the confirmation page."""
    return request.POST.get(CONFIRM_FIELD) == "yes"


def wants_change(request: HttpRequest) -> bool:
    """The person pressed Change on the confirmation page: show the form again, filled in."""
    return request.POST.get(CONFIRM_FIELD) == "no"


def confirmation_page(
    request: HttpRequest, confirmation: Confirmation, *, action: str, back: str, change: str = ""
) -> HttpResponse:
    """The confirmation page. It posts the submitted values again to ``action``; ``change``
    (the same view, with the form's fragment) offers to change them, ``back`` to leave."""
    carried = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in NOT_CARRIED
        for value in values
    ]
    return render(
        request,
        "portal/confirm.html",
        {
            "confirmation": confirmation,
            "carried": carried,
            "action": action,
            "change": change,
            "back": back,
            "confirm_field": CONFIRM_FIELD,
        },
    )
