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


# The search's filters that the page keeps in hidden fields while it shows refused ones.
SEARCH_FILTERS = [*selectors.FACETS, "country", "node"]
SEARCH_LABELS = {
    **search_page.FACET_LABELS,
    "age_from": gettext_lazy("Age of subjects, from"),
    "age_to": gettext_lazy("Age of subjects, to"),
    "sort": gettext_lazy("Sort by"),
    "q": gettext_lazy("Search"),
}


def _refused(error: ValidationError, labels: dict) -> list[tuple[str, str]]:
    """(label, message) for each refused parameter, for the page's list of errors."""
    return [
        (str(labels.get(name, name)), message)
        for name, messages in error.message_dict.items()
        for message in messages
    ]


def _kept(params, names, refused) -> list[tuple[str, str]]:
    """The (name, value) pairs of ``names`` that were not refused, for hidden fields."""
    return [(n, v) for n in names if n not in refused for v in params.getlist(n) if v.strip()]


def _first(params, name: str) -> str:
    """The first value of ``name`` that is not blank, as typed; a box shows one."""
    return next((v for v in params.getlist(name) if v.strip()), "")


def search(request):
    user = request.user
    can = {
        "can_basket": user.is_authenticated and user.has_role(Role.RESEARCHER),
        "can_count": user.is_authenticated
        and (user.has_role(Role.RESEARCHER) or user.has_role(Role.HDAB_ADMIN)),
    }
    try:
        results = selectors.search(user, request.GET)
    except ValidationError as error:
        # Nothing is searched with a filter left out: the form again, with what was refused.
        return render(
            request,
            "catalogue/search.html",
            {
                "query": {"text": request.GET.get("q", ""), "sort": request.GET.get("sort", "")},
                "typed": {n: _first(request.GET, n) for n in ("age_from", "age_to")},
                "errors": error.message_dict,
                "refused": _refused(error, SEARCH_LABELS),
                "hidden": _kept(request.GET, SEARCH_FILTERS, error.message_dict),
                "sorts": [(value, str(label)) for value, label in search_page.SORT_CHOICES],
                **can,
            },
            status=400,
        )
    rows = search_page.ResultRows(results)
    page = CountedPaginator(rows, selectors.SEARCH_PAGE_SIZE, count=results.total).get_page(
        request.GET.get("page")
    )
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "catalogue/search.html",
        {
            "query": results.query,
            "typed": {n: _first(request.GET, n) for n in ("age_from", "age_to")},
            "page": page,
            "facets": search_page.facet_groups(results.facets, request.GET),
            "sorts": [(value, str(label)) for value, label in search_page.SORT_CHOICES],
            "querystring": params.urlencode(),
            "in_basket": selectors.basket_ids(user),
            **can,
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


# The criteria the page's form has a box for (showing one value), and those it has checkboxes
# for; any other value asked (in the address) is kept in a hidden field.
FEASIBILITY_TYPED = ["body_part", "manufacturer", "model", "field_strength_from",
                     "field_strength_to", "slice_thickness_from", "slice_thickness_to",
                     "study_date_from", "study_date_to", "age_from", "age_to"]  # fmt: skip
FEASIBILITY_REPEATED = ["modality", "sex", "condition", "body_part", "manufacturer", "model",
                        "access", "duo", "country", "node"]  # fmt: skip
SEXES = [("F", gettext_lazy("Female")), ("M", gettext_lazy("Male")), ("O", gettext_lazy("Other"))]


def _feasibility_form(params, errors, conditions: list[str]) -> dict:
    """What the criteria form shows: the boxes as typed, the checkboxes ticked, and every
    other value asked in hidden fields (none of a refused parameter: its error says so)."""
    checked = {
        "modality": {v.strip().upper() for v in params.getlist("modality")},
        "sex": {v.strip().upper() for v in params.getlist("sex")},
        "condition": set(params.getlist("condition")),
    }
    boxes = {
        "modality": {v for v, _label in Modality.choices},
        "sex": {v for v, _label in SEXES},
        "condition": set(conditions),
    }
    hidden = []
    for name in FEASIBILITY_REPEATED:
        values = [v for v in params.getlist(name) if v.strip()] if name not in errors else []
        if name in FEASIBILITY_TYPED:
            values = values[1:]
        elif name in boxes:
            values = [v for v in values if (v if name == "condition" else v.strip().upper())
                      not in boxes[name]]  # fmt: skip
        hidden += [(name, v) for v in values]
    return {
        "typed": {n: _first(params, n) for n in FEASIBILITY_TYPED},
        "checked": checked,
        "hidden": hidden,
    }


FEASIBILITY_LABELS = {
    "modality": gettext_lazy("Modality"),
    "body_part": gettext_lazy("Body part"),
    "manufacturer": gettext_lazy("Manufacturer"),
    "model": gettext_lazy("Model"),
    "field_strength_from": gettext_lazy("Magnetic field strength, from"),
    "field_strength_to": gettext_lazy("Magnetic field strength, to"),
    "slice_thickness_from": gettext_lazy("Slice thickness, from"),
    "slice_thickness_to": gettext_lazy("Slice thickness, to"),
    "study_date_from": gettext_lazy("Study date, from"),
    "study_date_to": gettext_lazy("Study date, to"),
    "age_from": gettext_lazy("Age at the study, from"),
    "age_to": gettext_lazy("Age at the study, to"),
    "sex": gettext_lazy("Sex"),
    "condition": gettext_lazy("Cancer type"),
    "access": gettext_lazy("Access conditions (access)"),
    "duo": gettext_lazy("Data-use conditions (duo)"),
    "country": gettext_lazy("Country (country)"),
    "node": gettext_lazy("Node (node)"),
}


@role_required(Role.RESEARCHER, Role.HDAB_ADMIN)
def feasibility(request):
    """How many subjects, studies and series of published datasets match criteria, per node
    and dataset, with small counts suppressed and every count rounded. Criteria that cannot
    be read are shown with their errors, as typed, and nothing is counted."""
    params = request.GET.copy()
    params.pop("page", None)
    answer, errors, refused = None, {}, []
    conditions = feasibility_counts.condition_choices()
    try:
        criteria = feasibility_counts.parse(request.GET)
    except ValidationError as error:
        errors, refused = error.message_dict, _refused(error, FEASIBILITY_LABELS)
    else:
        if request.GET:
            answer = feasibility_counts.count(criteria, request.GET.get("page"))
    return render(
        request,
        "catalogue/feasibility.html",
        {
            **_feasibility_form(request.GET, errors, conditions),
            "errors": errors,
            "refused": refused,
            "answer": answer,
            "page": answer.page if answer else None,
            "querystring": params.urlencode(),
            "modalities": Modality.choices,
            "sexes": SEXES,
            "conditions": conditions,
            "in_basket": selectors.basket_ids(request.user),
            "can_basket": request.user.has_role(Role.RESEARCHER),
        },
        status=400 if errors else 200,
    )
