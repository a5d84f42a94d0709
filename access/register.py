"""What the public register shows (EHDS Art 57(1)(j), Art 58(1)(f)–(g)), and what it never shows.

``PUBLISHED`` and ``CONFIDENTIAL`` split the fields of every model the register reads from:
each field is in exactly one of them (a test checks it, so a new field must be placed). Every
register page, the JSON API, the Atom feed and the JSON-LD are built from :func:`entry`, which
reads a model's fields only through :func:`published`; a confidential field cannot reach the
public by that road. A test walks every register answer for the value of every confidential
field.

An application is listed once received (submitted): its lay title and summary, the
organisation, the Art 53 purpose, the datasets (with their DCAT IRIs), whether AI is trained
or used, and where it stands. Once the access body has published the decision notice, the
entry also holds the outcome, the published justification, the dates, and each permit with its
conditions, dates and status; and, once reported, the results of each permit.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from access.clocks import publication_due, results_due
from access.models import (
    AiUse,
    Application,
    ApplicationDataset,
    Clarification,
    Comment,
    ConflictOfInterest,
    DecisionPublication,
    Permit,
    PermitResults,
    Purpose,
    ResultOutput,
    Review,
    TeamMember,
    Vote,
)
from access.models import (
    RegisterOutcome as Outcome,
)
from catalogue.dcat import dataset_iri
from catalogue.models import Dataset

# --- The one place that says what is public --------------------------------------------------

PUBLISHED: dict[type[models.Model], frozenset[str]] = {
    Application: frozenset(
        {"id", "status", "organisation", "lay_title", "lay_summary", "ai_use", "purpose",
         "submitted_at", "decided_at"}
    ),
    ApplicationDataset: frozenset({"id", "application", "dataset"}),
    Permit: frozenset(
        {"id", "number", "application", "datasets", "purpose", "data_form", "conditions",
         "starts_on", "ends_on", "status", "issued_at"}
    ),
    DecisionPublication: frozenset({"id", "application", "justification", "published_at"}),
    PermitResults: frozenset({"id", "permit", "lay_summary", "reported_at", "extended_until"}),
    ResultOutput: frozenset({"id", "results", "kind", "title", "reference", "added_at"}),
    # Nothing of these is public.
    TeamMember: frozenset(),
    Review: frozenset(),
    Vote: frozenset(),
    ConflictOfInterest: frozenset(),
    Comment: frozenset(),
    Clarification: frozenset(),
}  # fmt: skip

CONFIDENTIAL: dict[type[models.Model], frozenset[str]] = {
    Application: frozenset(
        {
            # the people and the project's internal file
            "applicant", "title", "public_sector_body", "purpose_description", "duo_codes",
            "disease_codes", "commercial", "intended_use", "expected_benefit", "data_from",
            "data_to", "data_form", "pseudonymisation_justification", "legal_basis",
            "safeguards", "processing_months", "processing_justification", "tools",
            "ethics_approval", "ethics_not_required", "prohibited_uses_confirmed",
            # the workflow's own clocks and notes
            "created_at", "updated_at", "complete_at", "decision_due", "extended",
            "extension_reason", "completion_due",
        }
    ),
    ApplicationDataset: frozenset(
        {"review", "decision", "prescreen_outcome", "prescreen_findings"}
    ),
    Permit: frozenset(
        {"review", "holder", "authorised_persons", "purpose_description", "tools",
         "status_reason", "changed_at"}
    ),
    DecisionPublication: frozenset({"published_by"}),
    PermitResults: frozenset(
        {"extension_reason", "reminded_3m_at", "reminded_1m_at", "overdue_flagged_at",
         "updated_at"}
    ),
    ResultOutput: frozenset(),
    TeamMember: frozenset(
        {"id", "application", "email", "role", "user", "status", "token", "invited_at",
         "answered_at"}
    ),
    Review: frozenset(
        {"id", "application", "committee", "status", "reason", "conditions", "permit_ends_on",
         "decided_by", "decided_at"}
    ),
    Vote: frozenset({"id", "review", "member", "choice", "reason", "cast_at"}),
    ConflictOfInterest: frozenset({"id", "review", "member", "note", "declared_at"}),
    Comment: frozenset(
        {"id", "application", "committee", "author", "body", "visible_to_applicant",
         "created_at"}
    ),
    Clarification: frozenset(
        {"id", "application", "committee", "requested_by", "question", "incomplete", "answer",
         "requested_at", "answered_at"}
    ),
}  # fmt: skip


def published(obj: models.Model, *names: str) -> dict[str, Any]:
    """The values of ``names`` on ``obj``; asking for a field that is not published fails."""
    allowed = PUBLISHED[type(obj)]
    refused = set(names) - allowed
    if refused:
        raise ValueError(f"{type(obj).__name__} fields not public: {sorted(refused)}")
    return {name: getattr(obj, name) for name in names}


# --- Where an entry stands ------------------------------------------------------------------


PUBLISHED_OUTCOMES = {
    Application.Status.APPROVED: Outcome.APPROVED,
    Application.Status.PARTIALLY_APPROVED: Outcome.PARTIALLY_APPROVED,
    Application.Status.REJECTED: Outcome.REFUSED,
}


def outcome_of(application: Application, publication: DecisionPublication | None) -> Outcome:
    status = application.status
    if status == Application.Status.WITHDRAWN:
        return Outcome.WITHDRAWN
    if status in Application.DECIDED:
        return PUBLISHED_OUTCOMES[Application.Status(status)] if publication else Outcome.DECIDED
    return Outcome.ASSESSING


def _publication(application: Application) -> DecisionPublication | None:
    try:
        return application.publication
    except DecisionPublication.DoesNotExist:
        return None


def _results(permit: Permit) -> PermitResults | None:
    try:
        return permit.results
    except PermitResults.DoesNotExist:
        return None


# --- One entry, as every register answer shows it ---------------------------------------------


def _day(moment) -> str | None:
    if moment is None:
        return None
    if hasattr(moment, "tzinfo"):
        moment = timezone.localdate(moment)
    return moment.isoformat()


def _dataset(dataset: Dataset) -> dict[str, Any]:
    return {
        "id": dataset.pk,
        "title": dataset.title,
        "node": dataset.node.name,
        "uri": str(dataset_iri(dataset, base_url=settings.SITE_URL)),
    }


def _output(output: ResultOutput) -> dict[str, Any]:
    values = published(output, "kind", "title", "reference", "added_at")
    return {
        "kind": values["kind"],
        "kind_label": str(ResultOutput.Kind(values["kind"]).label),
        "title": values["title"],
        "reference": values["reference"],
        "link": output.link,
        "added_on": _day(values["added_at"]),
    }


def _permit(permit: Permit) -> dict[str, Any]:
    values = published(
        permit, "number", "status", "data_form", "conditions", "starts_on", "ends_on", "issued_at"
    )
    results = _results(permit)
    reported = None
    if results is not None and results.reported_at is not None:
        shown = published(results, "lay_summary", "reported_at")
        reported = {
            "summary": shown["lay_summary"],
            "reported_on": _day(shown["reported_at"]),
            "outputs": [_output(o) for o in results.outputs.all()],
        }
    return {
        "number": values["number"],
        "status": values["status"],
        "status_label": str(Permit.Status(values["status"]).label),
        "data_form": values["data_form"],
        "conditions": values["conditions"],
        "issued_on": _day(values["issued_at"]),
        "starts_on": _day(values["starts_on"]),
        "ends_on": _day(values["ends_on"]),
        "results_due_on": _day(results_due(permit, results)),
        "datasets": [_dataset(d) for d in permit.datasets.all()],
        "results": reported,
    }


def entry(application: Application, *, detail: bool = True) -> dict[str, Any]:
    """The register's entry for a received application. The caller prefetches what is read
    (``selectors_register.register_entries``)."""
    values = published(
        application, "id", "status", "organisation", "lay_title", "lay_summary", "ai_use",
        "purpose", "submitted_at", "decided_at",
    )  # fmt: skip
    publication = _publication(application)
    outcome = outcome_of(application, publication)
    data: dict[str, Any] = {
        "id": values["id"],
        "url": settings.SITE_URL + reverse("access:register_entry", args=[values["id"]]),
        "lay_title": values["lay_title"],
        "lay_summary": values["lay_summary"],
        "organisation": values["organisation"],
        "purpose": values["purpose"],
        "purpose_label": str(Purpose(values["purpose"]).label) if values["purpose"] else "",
        "ai_use": values["ai_use"],
        "ai_use_label": str(AiUse(values["ai_use"]).label) if values["ai_use"] else "",
        "received_on": _day(values["submitted_at"]),
        "outcome": outcome.value,
        "outcome_label": str(outcome.label),
        "datasets": [_dataset(item.dataset) for item in application.items.all()],
        "decision": None,
    }
    if outcome == Outcome.DECIDED and values["decided_at"]:
        data["publication_due_on"] = _day(publication_due(timezone.localdate(values["decided_at"])))
    if publication is not None and detail:
        notice = published(publication, "justification", "published_at")
        data["decision"] = {
            "decided_on": _day(values["decided_at"]),
            "published_on": _day(notice["published_at"]),
            "justification": notice["justification"],
            "permits": [_permit(p) for p in application.permits.all()],
        }
    return data
