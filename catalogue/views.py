"""Catalogue pages: search, dataset pages, the basket, and node operators' dataset management."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from catalogue import dcat, duo, ingest, quality, search_page, selectors, services
from catalogue import feasibility as feasibility_counts
from catalogue.forms import DatasetForm, GateProfileForm, IngestForm, NodeForm
from catalogue.models import Dataset
from catalogue.selectors import CountedPaginator
from catalogue.vocabularies import AccessCondition, CollectionMethod, Modality
from portal.confirm import Confirmation, confirmation_page, is_confirmed
from portal.forms import show_refusal
from portal.models import Role
from portal.permissions import role_required
from portal.workflow import InvalidTransition

PAGE_SIZE = 20


def search(request):
    results = selectors.search(request.user, request.GET)
    rows = search_page.ResultRows(results)
    page = CountedPaginator(rows, selectors.SEARCH_PAGE_SIZE, count=results.total).get_page(
        request.GET.get("page")
    )
    params = request.GET.copy()
    params.pop("page", None)
    user = request.user
    return render(
        request,
        "catalogue/search.html",
        {
            "query": results.query,
            "page": page,
            "facets": search_page.facet_groups(results.facets, request.GET),
            "sorts": [(value, str(label)) for value, label in search_page.SORT_CHOICES],
            "querystring": params.urlencode(),
            "in_basket": selectors.basket_ids(user),
            "can_basket": user.is_authenticated and user.has_role(Role.RESEARCHER),
            "can_count": user.is_authenticated
            and (user.has_role(Role.RESEARCHER) or user.has_role(Role.HDAB_ADMIN)),
        },
    )


def dataset_detail(request, pk):
    dataset = selectors.access_dataset(request.user, pk)
    can_edit = selectors.operated_nodes(request.user).filter(pk=dataset.node_id).exists()
    return render(
        request,
        "catalogue/dataset_detail.html",
        {
            "dataset": dataset,
            "can_edit": can_edit,
            "duo_terms": [duo.BY_CODE[c] for c in dataset.duo_codes if c in duo.BY_CODE],
            "modality_labels": [dict(Modality.choices).get(m, m) for m in dataset.modalities],
            "access_labels": [
                dict(AccessCondition.choices).get(a, a) for a in dataset.access_conditions
            ],
            "collection_labels": [
                dict(CollectionMethod.choices).get(m, m) for m in dataset.collection_methods
            ],
            "export_warnings": dcat.uncoded_values(dataset) if can_edit else [],
            "quality": quality.label_for(dataset),
            "review_due": can_edit and quality.review_due(dataset),
            "in_basket": dataset.pk in selectors.basket_ids(request.user),
            "can_basket": request.user.is_authenticated
            and request.user.has_role(Role.RESEARCHER)
            and dataset.status == Dataset.Status.PUBLISHED,
            "status_buttons": [
                (s, label) for s, label in STATUS_BUTTONS.items() if dataset.can_transition_to(s)
            ],
        },
    )


@role_required(Role.NODE_OPERATOR)
def dataset_create(request, node_pk):
    node = selectors.access_node(request.user, node_pk, for_write=True)
    form = DatasetForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        try:
            dataset = services.dataset_create(node=node, actor=request.user, **data)
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(request, _("The dataset was created as a draft."))
            return redirect("catalogue:dataset_detail", dataset.pk)
    return render(request, "catalogue/dataset_form.html", {"form": form, "node": node})


@role_required(Role.NODE_OPERATOR)
def dataset_edit(request, pk):
    dataset = selectors.access_dataset(request.user, pk, for_write=True)
    form = DatasetForm(
        request.POST if request.method == "POST" else None,
        instance=Dataset.objects.get(pk=dataset.pk),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.dataset_update(dataset=dataset, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(request, _("The dataset was saved."))
            return redirect("catalogue:dataset_detail", dataset.pk)
    return render(
        request,
        "catalogue/dataset_form.html",
        {"form": form, "node": dataset.node, "dataset": dataset},
    )


# The button that moves a dataset to each status.
STATUS_BUTTONS = {
    Dataset.Status.PUBLISHED: gettext_lazy("Publish"),
    Dataset.Status.RETIRED: gettext_lazy("Retire"),
    Dataset.Status.DRAFT: gettext_lazy("Return to draft"),
}


def _status_confirmation(dataset: Dataset, status: str) -> Confirmation:
    """What publishing, retiring or returning ``dataset`` to draft does, said beforehand."""
    title = dataset.title
    still = _("Applications already submitted and permits already issued keep the dataset.")
    if status == Dataset.Status.PUBLISHED:
        return Confirmation(
            question=_("Publish “%s”?") % title,
            consequences=[
                _("It appears in the public catalogue, in search results and in the "
                  "HealthDCAT-AP export (Turtle and JSON-LD) that other catalogues harvest."),
                _("Researchers can put it in their basket and apply for access to it."),
            ],
            button=_("Publish “%s”") % title,
            warning=_("Other catalogues may keep what they harvested, even if you retire the "
                      "dataset later."),
        )  # fmt: skip
    if status == Dataset.Status.RETIRED:
        return Confirmation(
            question=_("Retire “%s”?") % title,
            consequences=[
                _("It leaves the public catalogue and the HealthDCAT-AP export."),
                _("Draft applications that include it can no longer be submitted."),
                still,
            ],
            button=_("Retire “%s”") % title,
            warning=_("You can publish it again later."),
        )
    return Confirmation(
        question=_("Return “%s” to draft?") % title,
        consequences=[
            _("It leaves the public catalogue and the HealthDCAT-AP export until it is "
              "published again; only its node's operators and the access body see it."),
            _("Draft applications that include it can no longer be submitted."),
            still,
        ],
        button=_("Return “%s” to draft") % title,
        warning=_("You can publish it again later."),
    )  # fmt: skip


STATUS_CHANGED = {
    Dataset.Status.PUBLISHED: gettext_lazy(
        "“%s” was published: it is in the public catalogue and the HealthDCAT-AP export now."
    ),
    Dataset.Status.RETIRED: gettext_lazy(
        "“%s” was retired: it is no longer in the public catalogue or the export."
    ),
    Dataset.Status.DRAFT: gettext_lazy(
        "“%s” is a draft again: it is no longer in the public catalogue or the export."
    ),
}


@require_POST
@role_required(Role.NODE_OPERATOR)
def dataset_status(request, pk):
    """Publish, retire or return a dataset to draft, once the operator has confirmed what
    that does."""
    dataset = selectors.access_dataset(request.user, pk, for_write=True)
    status = request.POST.get("status", "")
    detail = reverse("catalogue:dataset_detail", args=[dataset.pk])
    if status in STATUS_BUTTONS and dataset.can_transition_to(status) and not is_confirmed(request):
        return confirmation_page(
            request, _status_confirmation(dataset, status), action=request.path, back=detail
        )
    try:
        services.dataset_set_status(dataset=dataset, status=status, actor=request.user)
    except InvalidTransition as error:
        messages.error(request, str(error))
    else:
        messages.success(request, STATUS_CHANGED[status] % dataset.title)
    return redirect(detail)


@require_POST
@role_required(Role.NODE_OPERATOR)
def dataset_reviewed(request, pk):
    """The operator confirms the dataset's description is still right (the yearly re-check)."""
    dataset = selectors.access_dataset(request.user, pk, for_write=True)
    services.dataset_mark_reviewed(dataset=dataset, actor=request.user)
    messages.success(request, _("Thank you: the description of %s is marked as reviewed today.")
                     % dataset.title)  # fmt: skip
    return redirect("catalogue:dataset_detail", dataset.pk)


@require_POST
@role_required(Role.NODE_OPERATOR)
def node_gate_profile(request, pk):
    """A node's operator chooses the de-identification gate for the node's next ingests."""
    node = selectors.access_node(request.user, pk, for_write=True)
    form = GateProfileForm(request.POST)
    if form.is_valid():
        node = services.node_set_gate_profile(
            node=node, profile=form.cleaned_data["gate_profile"], actor=request.user
        )
        messages.success(
            request,
            _("Ingest now applies the %(profile)s gate to this node's files.")
            % {"profile": node.get_gate_profile_display()},
        )
    else:
        messages.error(request, _("Choose basic or strict."))
    return redirect("catalogue:node_detail", node.pk)


def node_detail(request, pk):
    node = selectors.access_node(request.user, pk)
    datasets = selectors.visible_datasets(request.user).filter(node=node).order_by("title")
    is_operator = selectors.operated_nodes(request.user).filter(pk=node.pk).exists()
    page = Paginator(datasets, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "catalogue/node_detail.html",
        {
            "node": node,
            "page": page,
            "is_operator": is_operator,
            "gate_form": GateProfileForm(instance=node) if is_operator else None,
        },
    )


@role_required(Role.NODE_OPERATOR)
def node_create(request):
    form = NodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            node = services.node_create(
                actor=request.user, operators=[request.user], **form.cleaned_data
            )
        except ValidationError as error:
            show_refusal(form, error)
        else:
            messages.success(request, _("The node was registered. You are its operator."))
            return redirect("catalogue:node_detail", node.pk)
    return render(request, "catalogue/node_form.html", {"form": form})


@role_required(Role.RESEARCHER)
def basket(request):
    """The basket, each dataset with the researcher's applications that already include it;
    "Apply for these datasets" while any dataset is in none of them."""
    entries = selectors.basket_entries(request.user)
    return render(
        request,
        "catalogue/basket.html",
        {
            "entries": entries,
            "to_apply": [e for e in entries if not e.applications],
            "applied": [e for e in entries if e.applications],
        },
    )


@require_POST
@login_required
def basket_add(request, pk):
    if not request.user.has_role(Role.RESEARCHER):
        raise Http404
    dataset = selectors.access_dataset(request.user, pk)
    if dataset.status != Dataset.Status.PUBLISHED:
        raise Http404
    if services.basket_add(user=request.user, dataset=dataset):
        messages.success(request, _("“%s” is in your basket.") % dataset.title)
    return redirect(request.POST.get("next") if _safe_next(request) else "catalogue:basket")


@require_POST
@login_required
def basket_remove(request, pk):
    if not request.user.has_role(Role.RESEARCHER):
        raise Http404
    dataset = selectors.access_dataset(request.user, pk)
    services.basket_remove(user=request.user, dataset=dataset)
    return redirect("catalogue:basket")


def _safe_next(request) -> bool:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    return bool(target) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


@role_required(Role.NODE_OPERATOR)
def dataset_ingest(request, pk):
    """Upload DICOM files into a dataset's index. Files are read for their headers, then
    deleted; refused and unreadable files are listed with the reason."""
    dataset = selectors.access_dataset(request.user, pk, for_write=True)
    form = IngestForm(request.POST, request.FILES) if request.method == "POST" else IngestForm()
    report = None
    if request.method == "POST" and form.is_valid():
        report = ingest.dataset_ingest_uploads(
            dataset=dataset, uploads=form.cleaned_data["files"], actor=request.user
        )
        dataset = report.dataset
    return render(
        request,
        "catalogue/dataset_ingest.html",
        {"dataset": dataset, "form": form, "report": report},
    )


@role_required(Role.RESEARCHER, Role.HDAB_ADMIN)
def feasibility(request):
    """How many subjects, studies and series of published datasets match criteria, per node
    and dataset, with small counts suppressed and every count rounded."""
    criteria = feasibility_counts.parse(request.GET)
    params = request.GET.copy()
    params.pop("page", None)
    answer = feasibility_counts.count(criteria, request.GET.get("page")) if request.GET else None
    return render(
        request,
        "catalogue/feasibility.html",
        {
            "criteria": criteria,
            "answer": answer,
            "page": answer.page if answer else None,
            "querystring": params.urlencode(),
            "modalities": Modality.choices,
            "sexes": [("F", _("Female")), ("M", _("Male")), ("O", _("Other"))],
            "conditions": feasibility_counts.condition_choices(),
            "in_basket": selectors.basket_ids(request.user),
            "can_basket": request.user.has_role(Role.RESEARCHER),
        },
    )
