"""Data permits: the list, the printable permit, and suspending, reactivating or revoking it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from access import forms, selectors, services
from access.models import (
    InvalidTransition,
    Permit,
    Review,
)
from access.permissions import (
    is_chair,
    may_change_permit,
    members_of,
)
from access.views.common import (
    PAGE_SIZE,
    _listed,
)
from access.views.tokens import token_context
from portal.confirm import Confirmation, confirmation_page, is_confirmed, wants_change
from portal.forms import show_refusal
from portal.models import Role
from portal.permissions import role_required

# --- Permits and invitations ----------------------------------------------------------------


@role_required(Role.RESEARCHER, Role.COMMITTEE_MEMBER, Role.HDAB_ADMIN)
def permit_list(request):
    """Permits the person holds or is named on, those their committees issued (the access
    body: all)."""
    permits = (
        selectors.visible_permits(request.user)
        .select_related("application", "holder", "review__committee")
        .prefetch_related("datasets")
        .order_by("-issued_at", "-pk")
    )
    page = Paginator(permits, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "access/permit_list.html", {"page": page, "today": timezone.localdate()})


def render_permit(request, permit, *, form=None, token_form=None, token_refusal="", status=200):
    """The permit. It is valid through its end date; from the next day it shows as ended,
    even before the daily ``expire_permits`` has marked it expired, and cannot be
    reactivated. The people it authorises get access tokens from it (``access.views.tokens``);
    ``token_form`` is that form refused (or ``token_refusal`` why no token was issued),
    ``status`` the answer's status."""
    user = request.user
    committee = permit.review.committee
    can_change = may_change_permit(user, permit)
    ended = permit.ends_on < timezone.localdate()
    changes = [
        name
        for name, spec in services.PERMIT_CHANGES.items()
        if can_change
        and permit.can_transition_to(spec.status)
        and not (ended and spec.status == Permit.Status.ACTIVE)
    ]
    return render(
        request,
        "access/permit_detail.html",
        {
            "permit": permit,
            "review": Review.objects.select_related("decided_by", "committee").get(
                pk=permit.review_id
            ),
            "datasets": permit.datasets.select_related("node").order_by("title"),
            "authorised": permit.authorised_persons.order_by("last_name", "first_name", "pk"),
            "chairs": [m for m in members_of(committee) if is_chair(m, committee)],
            "changes": changes,
            "ended": ended and permit.status in (Permit.Status.ACTIVE, Permit.Status.SUSPENDED),
            "form": form or forms.PermitChangeForm(auto_id="change-%s"),
            **token_context(request, permit, form=token_form, refusal=token_refusal),
        },
        status=status,
    )


@login_required
def permit_detail(request, pk):
    """The printable permit with its Art 68(10) contents."""
    return render_permit(request, selectors.access_permit(request.user, pk))


@require_POST
@login_required
def permit_change(request, pk):
    """Suspend, reactivate or revoke (the issuing committee's chair or the access body)."""
    permit = selectors.access_permit(request.user, pk, for_change=True)
    form = forms.PermitChangeForm(request.POST, auto_id="change-%s")
    if form.is_valid():
        change = form.cleaned_data["change"]
        detail = reverse("access:permit_detail", args=[permit.pk])
        if change == "revoke" and wants_change(request):
            return render_permit(request, permit, form=form)
        if change == "revoke" and not is_confirmed(request):
            return confirmation_page(
                request,
                _revoke_confirmation(permit, form.cleaned_data["reason"]),
                action=request.path,
                change=f"{request.path}#change-form",
                back=f"{detail}#change-form",
            )
        try:
            services.permit_change(
                permit=permit, actor=request.user, change=change,
                reason=form.cleaned_data["reason"],
            )  # fmt: skip
        except InvalidTransition as error:
            messages.error(request, str(error))
            return redirect("access:permit_detail", permit.pk)
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(request, PERMIT_CHANGED[change] % {"number": permit.number})
            return redirect("access:permit_detail", permit.pk)
    return render_permit(request, permit, form=form)


PERMIT_CHANGED = {
    "suspend": gettext_lazy(
        "Permit %(number)s was suspended; its holder and authorised persons were told why."
    ),
    "reactivate": gettext_lazy(
        "Permit %(number)s is active again; its holder and authorised persons were told."
    ),
    "revoke": gettext_lazy(
        "Permit %(number)s was revoked; its holder and authorised persons were told why."
    ),
}


def _revoke_confirmation(permit, reason: str) -> Confirmation:
    people = _listed(p.display_name for p in permit.authorised_persons.order_by("last_name", "pk"))
    datasets = _listed(permit.datasets.order_by("title").values_list("title", flat=True))
    return Confirmation(
        question=_("Revoke data permit %s?") % permit.number,
        consequences=[
            _("The permit ends now: the people it authorises (%(people)s) lose access to: "
              "%(datasets)s.") % {"people": people, "datasets": datasets},
            _("They are told the reason: %s") % reason,
            _("A revoked permit cannot be reactivated: a new application is needed."),
        ],
        button=_("Revoke permit %s") % permit.number,
    )  # fmt: skip
