"""The access body's pages for managing committees: scope, decision rule, members."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from access import selectors, services
from access.forms import CommitteeForm, CommitteeMemberForm
from access.models import Application, Committee, Review
from access.permissions import chairs_of, members_of
from portal.forms import show_refusal
from portal.models import Role
from portal.permissions import role_required


@role_required(Role.HDAB_ADMIN)
def committee_list(request):
    committees = Committee.objects.annotate(
        dataset_count=Count("datasets", distinct=True), node_count=Count("nodes", distinct=True)
    ).order_by("name")
    return render(request, "access/committee_list.html", {"committees": committees})


def _save(request, form, committee=None):
    data = dict(form.cleaned_data)
    datasets, nodes = data.pop("datasets"), data.pop("nodes")
    if committee is None:
        return services.committee_create(actor=request.user, datasets=datasets, nodes=nodes, **data)
    return services.committee_update(
        committee=committee, actor=request.user, datasets=datasets, nodes=nodes, **data
    )


@role_required(Role.HDAB_ADMIN)
def committee_create(request):
    form = CommitteeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            committee = _save(request, form)
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(request, _("The committee was created. Now add its members."))
            return redirect("access:committee_detail", committee.pk)
    return render(request, "access/committee_form.html", {"form": form})


# The page's two forms; a refused one is shown again where it is, with its errors
# (templates/access/_form_errors.html names them "<prefix>errors").
SCOPE_IDS = "scope-%s"
MEMBER_IDS = "member-%s"


def _render_committee(request, committee, *, form=None, member_form=None):
    """The committee page. A refused form comes back bound, with its errors beside it."""
    chairs = set(chairs_of(committee).values_list("pk", flat=True))
    members = [(m, m.pk in chairs) for m in members_of(committee)]
    pending = list(
        Review.objects.filter(
            committee=committee,
            status=Review.Status.PENDING,
            application__status__in=Application.OPEN,
        )
        .select_related("application", "committee")
        .order_by("application__decision_due", "pk")
    )
    capacities = selectors.review_capacities(pending)
    single_voter = committee.decision_rule != Committee.DecisionRule.CHAIR
    return render(
        request,
        "access/committee_detail.html",
        {
            "committee": committee,
            "form": form or CommitteeForm(instance=committee, auto_id=SCOPE_IDS),
            "members": members,
            "member_form": member_form
            or CommitteeMemberForm(auto_id=MEMBER_IDS, committee=committee),
            "stuck": [(r, capacities[r.pk].why) for r in pending if capacities[r.pk].stuck],
            "single": [r for r in pending if single_voter and len(capacities[r.pk].voters) == 1],
            "excluded": [
                (r, capacities[r.pk].excluded) for r in pending if capacities[r.pk].excluded
            ],
        },
    )


@role_required(Role.HDAB_ADMIN)
def committee_detail(request, pk):
    committee = selectors.access_committee(request.user, pk)
    form = CommitteeForm(
        request.POST if request.method == "POST" else None, instance=committee, auto_id=SCOPE_IDS
    )
    if request.method == "POST" and form.is_valid():
        try:
            _save(request, form, committee)
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(request, _("%s was saved.") % committee.name)
            return redirect("access:committee_detail", committee.pk)
    return _render_committee(request, committee, form=form)


@require_POST
@role_required(Role.HDAB_ADMIN)
def committee_member_add(request, pk):
    """Add a member or the chair; a refusal is shown beside the form, nothing stored."""
    committee = selectors.access_committee(request.user, pk)
    form = CommitteeMemberForm(request.POST, auto_id=MEMBER_IDS)
    if form.is_valid():
        person, chair = form.cleaned_data["user"], form.cleaned_data["chair"]
        try:
            excluded = services.committee_add_member(
                committee=committee, user=person, actor=request.user, chair=chair
            )
        except ValidationError as error:
            show_refusal(form, error)
        else:
            added = (
                _("%(person)s is now the chair of %(committee)s.")
                if chair
                else _("%(person)s is now a member of %(committee)s.")
            )
            messages.success(
                request, added % {"person": person.display_name, "committee": committee.name}
            )
            if excluded:
                messages.warning(
                    request,
                    _(
                        "%(name)s is the applicant or on the team of applications this "
                        "committee is reviewing (%(ids)s): they are excluded from those reviews "
                        "and cannot vote, decide or see the committee's side of them."
                    )
                    % {
                        "name": person.display_name,
                        "ids": ", ".join(f"#{r.application_id}" for r in excluded),
                    },
                )
            return redirect("access:committee_detail", committee.pk)
    return _render_committee(request, committee, member_form=form)


@require_POST
@role_required(Role.HDAB_ADMIN)
def committee_member_remove(request, pk, user_pk):
    committee = selectors.access_committee(request.user, pk)
    member = members_of(committee).filter(pk=user_pk).first()
    if member is None:
        raise Http404
    try:
        services.committee_remove_member(committee=committee, user=member, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("access:committee_detail", committee.pk)
    messages.success(
        request,
        _("%(person)s is no longer a member of %(committee)s.")
        % {"person": member.display_name, "committee": committee.name},
    )
    return redirect("access:committee_detail", committee.pk)
