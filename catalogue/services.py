"""Writes on nodes, datasets and baskets. Each one appends to the audit chain."""

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone

from catalogue import duo
from catalogue.facets import datasets_changed
from catalogue.feasibility_index import feasibility_index_rebuild
from catalogue.models import BasketItem, Dataset, DatasetTerm, Node, Series, Study
from catalogue.validators import validate_public_url
from catalogue.vocabularies import AccessCondition, CollectionMethod, HealthCategory, Sex
from portal.audit import audit_record
from portal.models import Role, User

# Dataset fields copied into DatasetTerm rows, facet by facet.
TERM_FIELDS = {
    DatasetTerm.Facet.CONDITION: "conditions",
    DatasetTerm.Facet.MODALITY: "modalities",
    DatasetTerm.Facet.BODY_PART: "body_parts",
    DatasetTerm.Facet.ACCESS: "access_conditions",
    DatasetTerm.Facet.DUO: "duo_codes",
    DatasetTerm.Facet.KEYWORD: "keywords",
}
EDITABLE_FIELDS = [
    "title", "description", "keywords", "publisher_name", "contact_name", "contact_email",
    "health_categories", "access_rights", "applicable_legislation", "conditions", "modalities",
    "body_parts", "min_age", "max_age", "sexes", "temporal_start", "temporal_end",
    "access_conditions", "duo_codes", "licence", "version", "number_of_subjects",
    "number_of_studies", "interoperability_level", "collection_methods",
]  # fmt: skip
# List fields kept stripped and free of repeats (``_clean_lists``).
LIST_FIELDS = [
    "keywords", "conditions", "modalities", "body_parts", "sexes", "access_conditions",
    "duo_codes", "health_categories", "applicable_legislation", "collection_methods",
]  # fmt: skip


STATUS_ACTIONS: dict[str, str] = {
    Dataset.Status.PUBLISHED: "catalogue.dataset.published",
    Dataset.Status.RETIRED: "catalogue.dataset.retired",
    Dataset.Status.DRAFT: "catalogue.dataset.unpublished",
}


def _search_text(dataset: Dataset) -> str:
    parts = [dataset.title, dataset.description, dataset.node.name, dataset.node.organisation]
    parts += [str(v) for v in dataset.keywords + dataset.conditions + dataset.body_parts]
    return "\n".join(p for p in parts if p)


def _sync_terms(dataset: Dataset) -> None:
    """Keep the dataset's facet terms in step with its lists, and tell the search indexes that
    the dataset changed (its record as well as its terms)."""
    wanted = {
        (facet, str(value).strip()[:200])
        for facet, field in TERM_FIELDS.items()
        for value in getattr(dataset, field) or []
        if str(value).strip()
    }
    existing = set(DatasetTerm.objects.filter(dataset=dataset).values_list("facet", "value"))
    stale = existing - wanted
    if stale:
        for facet, value in stale:
            DatasetTerm.objects.filter(dataset=dataset, facet=facet, value=value).delete()
    DatasetTerm.objects.bulk_create(
        [DatasetTerm(dataset=dataset, facet=f, value=v) for f, v in wanted - existing]
    )
    datasets_changed([dataset.pk])


def _clean_lists(dataset: Dataset) -> None:
    for field in LIST_FIELDS:
        values = getattr(dataset, field) or []
        seen: list[str] = []
        for value in values:
            value = str(value).strip()
            if value and value not in seen:
                seen.append(value)
        setattr(dataset, field, seen)


def _validate(dataset: Dataset) -> None:
    """Refuse a dataset description that is not complete and consistent, naming every problem.

    The model's own checks run too (``full_clean``), among them the publishable-address rule of
    ``catalogue.validators`` on the licence and the contact email; the legislation IRIs follow
    the same rule.
    """
    errors: dict[str, list[str]] = {}
    checks = [
        ("duo_codes", set(duo.BY_CODE), "unknown DUO code"),
        ("access_conditions", set(AccessCondition.values), "unknown access condition"),
        ("health_categories", set(HealthCategory.values), "unknown health category"),
        ("sexes", set(Sex.values), "unknown sex"),
        ("collection_methods", set(CollectionMethod.values), "unknown collection method"),
    ]
    for field, allowed, message in checks:
        bad = [v for v in getattr(dataset, field) if v not in allowed]
        if bad:
            errors.setdefault(field, []).append(f"{message}: {', '.join(bad)}")
    if not dataset.health_categories:
        errors.setdefault("health_categories", []).append("at least one health category")
    if not dataset.collection_methods:
        errors.setdefault("collection_methods", []).append("at least one collection method")
    if not dataset.access_conditions:
        errors.setdefault("access_conditions", []).append("at least one access condition")
    if not dataset.conditions:
        errors.setdefault("conditions", []).append("at least one cancer type or condition")
    if dataset.min_age is not None and dataset.max_age is not None:
        if dataset.min_age > dataset.max_age:
            errors.setdefault("max_age", []).append("must not be below the minimum age")
    if dataset.temporal_start and dataset.temporal_end:
        if dataset.temporal_start > dataset.temporal_end:
            errors.setdefault("temporal_end", []).append("must not be before the start")
    for iri in dataset.applicable_legislation:
        try:
            validate_public_url(iri)
        except ValidationError as exc:
            errors.setdefault("applicable_legislation", []).extend(
                f"{iri!r}: {message}" for message in exc.messages
            )
    try:
        dataset.full_clean(exclude=["node", "search_text"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def node_create(*, actor: User | None, operators: Iterable[User] = (), **fields: object) -> Node:
    """Register a node. Its operators must hold the node-operator role; its contact email and
    DICOMweb base URL must be publishable (``full_clean`` applies ``catalogue.validators``)."""
    node = Node(**fields)
    node.full_clean()
    node.save(force_insert=True)
    for operator in operators:
        node_add_operator(node=node, user=operator, actor=actor)
    audit_record(
        "catalogue.node.created",
        actor=actor,
        obj=node,
        details={"name": node.name, "gate_profile": node.gate_profile},
    )
    return node


@transaction.atomic
def node_set_gate_profile(*, node: Node, profile: str, actor: User | None) -> Node:
    """Choose the de-identification gate ingest applies to ``node``'s files from now on."""
    if profile not in Node.GateProfile.values:
        raise ValidationError({"gate_profile": f"{profile!r} is not a gate profile"})
    node = Node.objects.select_for_update().get(pk=node.pk)
    previous = node.gate_profile
    if previous == profile:
        return node
    node.gate_profile = profile
    node.save(update_fields=["gate_profile"])
    audit_record(
        "catalogue.node.gate_profile_changed",
        actor=actor,
        obj=node,
        details={"from": previous, "to": profile},
    )
    return node


@transaction.atomic
def node_add_operator(*, node: Node, user: User, actor: User | None) -> None:
    if not user.has_role(Role.NODE_OPERATOR):
        raise ValidationError({"operators": f"{user.username} is not a node operator"})
    node.operators.add(user)
    audit_record(
        "catalogue.node.operator_added", actor=actor, obj=node, details={"user": user.pseudonym}
    )


@transaction.atomic
def dataset_create(
    *, node: Node, actor: User | None, status: str = Dataset.Status.DRAFT, **fields: object
) -> Dataset:
    """Describe a new dataset at ``node`` (as a draft unless ``status`` says otherwise).

    Everything is validated before anything is stored; a ValidationError names every problem.
    """
    dataset = Dataset(node=node, **fields)
    if not dataset.applicable_legislation:
        dataset.applicable_legislation = Dataset.default_legislation()
    if not dataset.publisher_name:
        dataset.publisher_name = node.organisation
    _clean_lists(dataset)
    _validate(dataset)
    dataset.search_text = _search_text(dataset)
    dataset.save(force_insert=True)
    _sync_terms(dataset)
    audit_record(
        "catalogue.dataset.created", actor=actor, obj=dataset, details={"title": dataset.title}
    )
    if status != Dataset.Status.DRAFT:
        dataset_set_status(dataset=dataset, status=status, actor=actor)
    return dataset


@transaction.atomic
def dataset_update(*, dataset: Dataset, actor: User | None, **fields: object) -> Dataset:
    """Change a dataset's description. Unknown fields are refused; nothing is saved on error."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({f: "cannot be changed here" for f in sorted(unknown)})
    locked = Dataset.objects.select_for_update().select_related("node").get(pk=dataset.pk)
    changed = [f for f, v in fields.items() if getattr(locked, f) != v]
    for field, value in fields.items():
        setattr(locked, field, value)
    if not locked.publisher_name:
        locked.publisher_name = locked.node.organisation
    if not locked.applicable_legislation:
        locked.applicable_legislation = Dataset.default_legislation()
    _clean_lists(locked)
    _validate(locked)
    locked.search_text = _search_text(locked)
    # The edited fields and those derived from them; ``modified_at`` moves on every save.
    written = [*fields, "publisher_name", "applicable_legislation", *LIST_FIELDS, "search_text"]
    locked.save(update_fields=[*dict.fromkeys(written), "modified_at"])
    _sync_terms(locked)
    if changed:
        audit_record(
            "catalogue.dataset.updated",
            actor=actor,
            obj=locked,
            details={"fields": sorted(changed)},
        )
    return locked


@transaction.atomic
def dataset_set_status(*, dataset: Dataset, status: str, actor: User | None) -> Dataset:
    """Publish, retire or return a dataset to draft, following ``Dataset.ALLOWED_TRANSITIONS``."""
    locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
    old = locked.transition_to(status)  # InvalidTransition when the table does not allow it
    fields = ["status", "modified_at"]
    if status == Dataset.Status.PUBLISHED and locked.published_at is None:
        locked.published_at = timezone.now()
        fields.append("published_at")
    locked.save(update_fields=fields)
    datasets_changed([locked.pk])
    audit_record(
        STATUS_ACTIONS[status],
        actor=actor,
        obj=locked,
        details={"from": old, "to": status},
    )
    return locked


@transaction.atomic
def dataset_mark_reviewed(*, dataset: Dataset, actor: User | None) -> Dataset:
    """The operator confirms the description still holds (the yearly re-check behind the
    quality label, ``catalogue.quality``)."""
    locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
    locked.reviewed_at = timezone.now()
    locked.save(update_fields=["reviewed_at"])
    audit_record("catalogue.dataset.reviewed", actor=actor, obj=locked)
    return locked


@transaction.atomic
def dataset_remind_review(*, dataset: Dataset) -> list[str]:
    """Email the operators of the dataset's node that its description is due for its yearly
    review, and record it (the daily command; sent once the transaction commits). Returns the
    addresses written to."""
    locked = Dataset.objects.select_for_update().select_related("node").get(pk=dataset.pk)
    recipients = sorted({u.email for u in locked.node.operators.filter(is_active=True) if u.email})
    locked.review_reminded_at = timezone.now()
    locked.save(update_fields=["review_reminded_at"])
    audit_record(
        "catalogue.dataset.review_reminded",
        obj=locked,
        details={"last_reviewed": locked.reviewed_at or locked.published_at,
                 "recipients": len(recipients)},
    )  # fmt: skip
    body = render_to_string(
        "catalogue/email/review_due.txt",
        {"dataset": locked, "url": settings.SITE_URL + f"/catalogue/datasets/{locked.pk}/"},
    )
    subject = f"[ECII] Please review the description of {locked.title}"
    transaction.on_commit(
        lambda: [send_mail(subject, body, None, [to]) for to in recipients]  # one each
    )
    return recipients


@transaction.atomic
def dataset_refresh_counts(*, dataset: Dataset) -> Dataset:
    """Recompute subject, study, series and instance counts, the modalities and body parts and
    the equipment manufacturers from the study/series index (after ingest)."""
    studies = Study.objects.filter(dataset=dataset)
    series = Series.objects.filter(study__dataset=dataset)
    locked = Dataset.objects.select_for_update().select_related("node").get(pk=dataset.pk)
    locked.number_of_studies = studies.count()
    locked.number_of_subjects = studies.values("subject").distinct().count()
    locked.number_of_series = series.count()
    # Each series' instances, counted by ingest as it indexes them.
    locked.number_of_instances = series.aggregate(n=Coalesce(Sum("instance_count"), 0))["n"]
    modalities = series.exclude(modality="").values_list("modality", flat=True).distinct()
    body_parts = series.exclude(body_part="").values_list("body_part", flat=True).distinct()
    locked.modalities = sorted(set(locked.modalities) | set(modalities))
    locked.body_parts = sorted(set(locked.body_parts) | {b.upper() for b in body_parts})
    manufacturers = series.exclude(manufacturer="").values_list("manufacturer", flat=True)
    locked.manufacturers = sorted({m.strip() for m in manufacturers.distinct()} - {""})
    locked.search_text = _search_text(locked)
    locked.save(
        update_fields=[
            "number_of_studies", "number_of_subjects", "number_of_series", "number_of_instances",
            "modalities", "body_parts", "manufacturers", "search_text", "modified_at",
        ]
    )  # fmt: skip
    _sync_terms(locked)
    feasibility_index_rebuild(dataset_id=locked.pk)
    return locked


@transaction.atomic
def basket_add(*, user: User, dataset: Dataset) -> bool:
    """Put a dataset the researcher can see into their basket. False if it was there already."""
    _, created = BasketItem.objects.get_or_create(user=user, dataset=dataset)
    if created:
        audit_record("catalogue.basket.added", actor=user, obj=dataset)
    return created


@transaction.atomic
def basket_remove(
    *, user: User, dataset: Dataset | None = None, dataset_id: int | None = None
) -> bool:
    """Take a dataset out of the basket. False if it was not there."""
    dataset_id = dataset.pk if dataset is not None else dataset_id
    if dataset_id is None:
        raise TypeError("basket_remove needs the dataset or its id")
    deleted, _ = BasketItem.objects.filter(user=user, dataset_id=dataset_id).delete()
    if deleted:
        audit_record(
            "catalogue.basket.removed",
            actor=user,
            object_type="catalogue.dataset",
            object_id=dataset_id,
        )
    return bool(deleted)
