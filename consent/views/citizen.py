"""The citizen's pages: their dashboard's content, donating and changing a donation,
withdrawing it, recording and revoking an opt-out, linking and unlinking their images, and
every version of their consents. Only citizens reach them; anyone else gets 404."""

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from consent import fhir, selectors, services, wording
from consent.forms import DonationForm, LinkCodeForm
from consent.models import ConsentRecord, ConsentVersion
from consent.panels import citizen_panels
from portal.confirm import Confirmation, confirmation_page, is_confirmed
from portal.forms import show_refusal
from portal.models import Role
from portal.permissions import role_required
from portal.workflow import InvalidTransition

HISTORY_PAGE_SIZE = 20


def _dashboard() -> HttpResponse:
    return redirect(_dashboard_url())


def _dashboard_url() -> str:
    return reverse("role_dashboard", args=["citizen"])


def _posted(request: HttpRequest):
    return request.POST if request.method == "POST" else None


def _current(record: ConsentRecord | None) -> ConsentVersion | None:
    return selectors.current_version(record) if record is not None else None


def citizen_dashboard(request: HttpRequest) -> dict[str, Any]:
    """What the citizen's dashboard shows: their links, their donation and opt-out as they
    stand, the link code form and the panels other apps registered."""
    user = request.user
    records = {r.kind: r for r in selectors.consents_of(user)}
    donation = _current(records.get(ConsentRecord.Kind.DONATION))
    opt_out = _current(records.get(ConsentRecord.Kind.OPT_OUT))
    shown = [v for v in (donation, opt_out) if v is not None]
    names = wording.node_names(shown)
    donation_summary = wording.summarise(donation, names) if donation else None
    opt_out_summary = wording.summarise(opt_out, names) if opt_out else None
    return {
        "links": list(selectors.donor_links_of(user)),
        "donation": donation,
        "donation_summary": donation_summary,
        "opt_out": opt_out,
        "opt_out_summary": opt_out_summary,
        # EHDS Art 71: an opt-out in force overrides the donation for permits approved from
        # its start.
        "opted_out_since": (
            opt_out.period_start
            if opt_out_summary
            and opt_out_summary.in_force
            and donation_summary
            and donation_summary.in_force
            else None
        ),
        "link_form": LinkCodeForm(auto_id="link-%s"),
        "panels": citizen_panels(request),
    }


# ---------------------------------------------------------------------------------------------
# Donating


def _refusal_in_words(form: DonationForm, error: services.InvalidConsent) -> None:
    """A resource the checks refused (which the form's own checks should prevent): its
    problems in words, without the paths into the FHIR resource."""
    form.add_error(
        None,
        [_("Your donation could not be recorded:")] + [issue.message for issue in error.issues],
    )


@role_required(Role.CITIZEN)
def donation_form(request: HttpRequest) -> HttpResponse:
    """Donate, or change a donation (narrow, widen, or give it again after a withdrawal): one
    form, filled in with the current choices when there are some."""
    user = request.user
    links = list(selectors.donor_links_of(user))
    record = selectors.consent_of_kind(user, ConsentRecord.Kind.DONATION)
    current = _current(record)
    choices = fhir.donation_choices(current.resource) if current else None
    form = DonationForm(
        _posted(request),
        links=links,
        initial=DonationForm.initial_from(choices, links),
        auto_id="donation-%s",
    )
    if request.method == "POST" and form.is_valid():
        try:
            if record is None:
                services.donation_create(citizen=user, **form.choices())
            else:
                services.donation_change(record=record, citizen=user, **form.choices())
        except services.InvalidConsent as error:
            _refusal_in_words(form, error)
        except InvalidTransition as error:
            messages.error(request, str(error))
            return _dashboard()
        except ValidationError as error:
            show_refusal(form, error)
        else:
            if record is None:
                messages.success(request, _("Thank you: your donation is recorded."))
            elif current is None or current.status != "active":
                messages.success(
                    request,
                    _("Thank you: you donate your data again, from today. The earlier versions "
                      "stay in your history."),
                )  # fmt: skip
            else:
                messages.success(
                    request,
                    _("Your donation is changed. The earlier version stays in your history."),
                )
            return _dashboard()
    names = wording.node_names([current]) if current else {}
    return render(
        request,
        "consent/donation_form.html",
        {
            "form": form,
            "links": links,
            "record": record,
            "current": current,
            "summary": wording.summarise(current, names) if current else None,
            "in_force": bool(current and current.status == "active"),
        },
    )


def _ending(
    request: HttpRequest,
    kind: str,
    confirmation: Confirmation,
    act,
    done: str,
    nothing: str,
) -> HttpResponse:
    """Withdrawing a donation or revoking an opt-out: a confirmation page, then the action."""
    record = selectors.consent_of_kind(request.user, kind)
    current = _current(record)
    if record is None or current is None or current.status != "active":
        messages.info(request, nothing)
        return _dashboard()
    if request.method == "POST" and is_confirmed(request):
        try:
            act(record)
        except InvalidTransition as error:
            messages.error(request, str(error))
        else:
            messages.success(request, done)
        return _dashboard()
    return confirmation_page(request, confirmation, action=request.path, back=_dashboard_url())


@role_required(Role.CITIZEN)
def donation_withdraw(request: HttpRequest) -> HttpResponse:
    """Withdraw the donation in one step, once confirmed."""
    confirmation = Confirmation(
        question=_("Withdraw your donation?"),
        consequences=[
            _("From now on, nobody may use your data, under any permit, including permits "
              "approved before today."),
            _("Uses that already happened, such as published results, cannot be undone."),
            _("Your donation stays in your history, with today's date as its end."),
        ],
        button=_("Withdraw my donation"),
        warning=_("You can donate again later; it applies from that day."),
    )  # fmt: skip

    def act(record: ConsentRecord) -> None:
        services.donation_withdraw(record=record, citizen=request.user)

    return _ending(
        request, ConsentRecord.Kind.DONATION, confirmation, act,
        _("Your donation is withdrawn. Your data may no longer be used."),
        _("You have no donation in force to withdraw."),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Opting out (EHDS Art 71)


@role_required(Role.CITIZEN)
def opt_out_record(request: HttpRequest) -> HttpResponse:
    """Record an opt-out from secondary use, once confirmed."""
    record = selectors.consent_of_kind(request.user, ConsentRecord.Kind.OPT_OUT)
    current = _current(record)
    if current is not None and current.status == "active":
        messages.info(request, _("You have already opted out."))
        return _dashboard()
    if request.method == "POST" and is_confirmed(request):
        try:
            services.opt_out_record(citizen=request.user)
        except InvalidTransition as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                _("Your opt-out is recorded. It applies to every permit approved from now on."),
            )
        return _dashboard()
    confirmation = Confirmation(
        question=_("Opt out of the secondary use of your data?"),
        consequences=[
            _("The European Health Data Space regulation (Article 71) lets you refuse that "
              "your health data be used for purposes other than your own care."),
            _("From now on, no new permit may include your data, whatever the purpose, "
              "and whatever your donation says."),
            _("Permits approved before today keep the data they were given (Article 71(3))."),
        ],
        button=_("Opt out"),
        warning=_("You can revoke your opt-out at any time."),
    )  # fmt: skip
    return confirmation_page(request, confirmation, action=request.path, back=_dashboard_url())


@role_required(Role.CITIZEN)
def opt_out_revoke(request: HttpRequest) -> HttpResponse:
    """Revoke the opt-out, once confirmed."""
    confirmation = Confirmation(
        question=_("Revoke your opt-out?"),
        consequences=[
            _("From now on your opt-out no longer applies: permits approved from now on may "
              "include your data, within the law and what any donation of yours allows."),
            _("Your opt-out stays in your history, with today's date as its end."),
        ],
        button=_("Revoke my opt-out"),
        warning=_("You can opt out again at any time."),
    )  # fmt: skip

    def act(record: ConsentRecord) -> None:
        services.opt_out_revoke(record=record, citizen=request.user)

    return _ending(
        request, ConsentRecord.Kind.OPT_OUT, confirmation, act,
        _("Your opt-out is revoked."),
        _("You have no opt-out in force to revoke."),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Versions


@role_required(Role.CITIZEN)
def history(request: HttpRequest) -> HttpResponse:
    """Every version of the citizen's consents, newest first, each with its date and a
    summary in words; a page at a time."""
    following = ConsentVersion.objects.filter(
        record=OuterRef("record"), version=OuterRef("version") + 1
    ).values("last_updated")[:1]
    versions = (
        ConsentVersion.objects.filter(record__owner=request.user)
        .select_related("record")
        .annotate(replaced_at=Subquery(following))
        .order_by("-last_updated", "-version")
    )
    page = Paginator(versions, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    names = wording.node_names(page.object_list)
    rows = [(v, wording.summarise(v, names, replaced_at=v.replaced_at)) for v in page.object_list]
    return render(request, "consent/history.html", {"page": page, "rows": rows})


@role_required(Role.CITIZEN)
def version_fhir(request: HttpRequest, record_id: str, version: int) -> HttpResponse:
    """One version as the FHIR R5 Consent stored, to download."""
    record = selectors.consents_of(request.user).filter(pk=record_id).first()
    if record is None:
        raise Http404
    found = selectors.version_of(record, version)
    response = HttpResponse(
        json.dumps(found.resource, indent=2, ensure_ascii=False),
        content_type="application/fhir+json; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="consent-{record.id}-version-{found.version}.json"'
    )
    return response


# ---------------------------------------------------------------------------------------------
# Links between the account and the images


@role_required(Role.CITIZEN)
def links(request: HttpRequest) -> HttpResponse:
    """The citizen's linked images and the form to enter a link code."""
    form = LinkCodeForm(_posted(request), auto_id="link-%s")
    if request.method == "POST" and form.is_valid():
        try:
            link = services.link_code_redeem(citizen=request.user, code=form.cleaned_data["code"])
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(
                request,
                _("Your images at %(node)s, named %(subject)s there, are linked to your account.")
                % {"node": link.node.name, "subject": link.subject},
            )
            return _dashboard()
    return render(
        request,
        "consent/links.html",
        {"form": form, "links": list(selectors.donor_links_of(request.user))},
    )


@role_required(Role.CITIZEN)
def link_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Unlink images from the account, once confirmed."""
    link = selectors.access_donor_link(request.user, pk)
    if request.method == "POST" and is_confirmed(request):
        services.link_remove(citizen=request.user, link=link)
        messages.success(
            request,
            _("Your images at %(node)s are no longer linked to your account.")
            % {"node": link.node.name},
        )
        return _dashboard()
    confirmation = Confirmation(
        question=_("Unlink your images at %(node)s?") % {"node": link.node.name},
        consequences=[
            _("Your donation and opt-out no longer reach the images named %(subject)s at "
              "%(node)s: for them, the law's default rules apply.")
            % {"subject": link.subject, "node": link.node.name},
            _("To link them again, you need a new code from the hospital."),
        ],
        button=_("Unlink"),
    )  # fmt: skip
    return confirmation_page(
        request, confirmation, action=request.path, back=reverse("consent:links")
    )
