"""The register's working pages: the access body publishes a decision notice and extends a
results clock; a permit holder records the results."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from access import services
from access.clocks import publication_due, results_due
from access.forms_register import (
    DecisionPublishForm,
    ResultOutputForm,
    ResultsExtendForm,
    ResultsSummaryForm,
)
from access.models import InvalidTransition, ResultOutput
from access.selectors_register import (
    access_decision_to_publish,
    access_permit_results,
    access_permit_results_clock,
    results_of,
)
from portal.forms import show_refusal


@login_required
def decision_publish(request, pk):
    """The access body writes the public justification of a decision and publishes it."""
    application = access_decision_to_publish(request.user, pk)
    form = DecisionPublishForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            services.decision_publish(
                application=application,
                actor=request.user,
                justification=form.cleaned_data["justification"],
            )
        except InvalidTransition as error:
            messages.error(request, str(error))
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(request, _("The decision is published in the register."))
            return redirect("access:register_entry", application.pk)
    decided_on = application.decided_at
    return render(
        request,
        "access/decision_publish.html",
        {
            "application": application,
            "form": form,
            "due_on": publication_due(timezone.localdate(decided_on)) if decided_on else None,
            "published": hasattr(application, "publication"),
        },
    )


def _results_page(request, permit, *, summary_form=None, output_form=None, status=200):
    results = results_of(permit)
    return render(
        request,
        "access/permit_results.html",
        {
            "permit": permit,
            "results": results,
            "outputs": list(results.outputs.all()) if results else [],
            "due_on": results_due(permit, results),
            "summary_form": summary_form
            or ResultsSummaryForm(initial={"lay_summary": results.lay_summary if results else ""}),
            "output_form": output_form or ResultOutputForm(auto_id="output-%s"),
        },
        status=status,
    )


@login_required
def permit_results(request, pk):
    """The permit holder's results: a summary for the public and the outputs released. They
    appear in the register once both are there."""
    permit = access_permit_results(request.user, pk)
    if request.method != "POST":
        return _results_page(request, permit)
    action = request.POST.get("action")
    try:
        if action == "remove":
            output = ResultOutput.objects.filter(
                results__permit=permit, pk=request.POST.get("output") or 0
            ).first()
            if output is not None:
                services.result_output_remove(output=output, actor=request.user)
                messages.success(request, _("The output was removed."))
            return redirect("access:permit_results", permit.pk)
        if action == "output":
            output_form = ResultOutputForm(request.POST, auto_id="output-%s")
            if not output_form.is_valid():
                return _results_page(request, permit, output_form=output_form)
            try:
                services.result_output_add(
                    permit=permit, actor=request.user, **output_form.cleaned_data
                )
            except ValidationError as error:
                show_refusal(output_form, error)
                return _results_page(request, permit, output_form=output_form)
            messages.success(request, _("The output was recorded."))
            return redirect("access:permit_results", permit.pk)
        summary_form = ResultsSummaryForm(request.POST)
        if not summary_form.is_valid():
            return _results_page(request, permit, summary_form=summary_form)
        services.results_update(
            permit=permit, actor=request.user, lay_summary=summary_form.cleaned_data["lay_summary"]
        )
        messages.success(request, _("The summary was saved."))
        return redirect("access:permit_results", permit.pk)
    except InvalidTransition as error:
        messages.error(request, str(error))
        return redirect("access:permit_results", permit.pk)


@login_required
def results_extend(request, pk):
    """The access body gives a permit holder more time for the results, with a reason."""
    permit = access_permit_results_clock(request.user, pk)
    results = results_of(permit)
    form = ResultsExtendForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            services.results_extend(permit=permit, actor=request.user, **form.cleaned_data)
        except InvalidTransition as error:
            messages.error(request, str(error))
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(request, _("The results clock was extended."))
            return redirect("role_dashboard", "hdab")
    return render(
        request,
        "access/results_extend.html",
        {
            "permit": permit,
            "results": results,
            "due_on": results_due(permit, results),
            "form": form,
        },
    )
