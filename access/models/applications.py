"""Data access applications (EHDS Art 67), the datasets they ask for and the project team."""

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from catalogue.models import Dataset
from catalogue.purposes import Purpose
from portal.workflow import TransitionsMixin


class ProhibitedUse(models.TextChoices):
    """EHDS Article 54: uses the applicant must confirm do not apply."""

    DETRIMENTAL = "detrimental", _("(a) Decisions detrimental to a person or group")
    DISCRIMINATION = "discrimination", _("(b) Decisions on jobs, insurance or credit")
    ADVERTISING = "advertising", _("(c) Advertising or marketing")
    HARMFUL_PRODUCTS = "harmful_products", _("(d) Harmful or addictive products or services")
    ETHICS_BREACH = "ethics_breach", _("(e) Activities in breach of national ethics law")


class AiUse(models.TextChoices):
    """Whether the project trains or uses artificial intelligence (shown in the register)."""

    NONE = "none", _("No artificial intelligence is trained or used")
    USED = "used", _("Existing artificial intelligence models are used")
    TRAINED = "trained", _("Artificial intelligence models are trained, tested or evaluated")


class Application(TransitionsMixin):
    """A data access application (EHDS Art 67(2)), from draft to decision."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        UNDER_REVIEW = "under_review", _("Under review")
        CLARIFICATION = "clarification_requested", _("Clarification requested")
        APPROVED = "approved", _("Approved")
        PARTIALLY_APPROVED = "partially_approved", _("Partially approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    ALLOWED_TRANSITIONS = {
        Status.DRAFT: {Status.SUBMITTED, Status.WITHDRAWN},
        Status.SUBMITTED: {Status.UNDER_REVIEW, Status.CLARIFICATION, Status.WITHDRAWN,
                           Status.APPROVED, Status.PARTIALLY_APPROVED, Status.REJECTED},
        Status.UNDER_REVIEW: {Status.CLARIFICATION, Status.WITHDRAWN, Status.APPROVED,
                              Status.PARTIALLY_APPROVED, Status.REJECTED},
        Status.CLARIFICATION: {Status.UNDER_REVIEW, Status.WITHDRAWN, Status.REJECTED},
        Status.APPROVED: set(),
        Status.PARTIALLY_APPROVED: set(),
        Status.REJECTED: set(),
        Status.WITHDRAWN: set(),
    }  # fmt: skip
    OPEN = {Status.SUBMITTED, Status.UNDER_REVIEW, Status.CLARIFICATION}
    DECIDED = {Status.APPROVED, Status.PARTIALLY_APPROVED, Status.REJECTED}

    class DataForm(models.TextChoices):
        ANONYMISED = "anonymised", _("Anonymised")
        PSEUDONYMISED = "pseudonymised", _("Pseudonymised")

    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="applications"
    )
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.DRAFT)
    # (a) identity
    title = models.CharField(_("project title"), max_length=300)
    organisation = models.CharField(_("applicant organisation"), max_length=300, blank=True)
    public_sector_body = models.BooleanField(
        _("the applicant is a public sector body or Union institution"), default=False
    )
    # The public register (EHDS Art 57(1)(j)): what anyone may read about the project, in
    # plain words; required at submission. See access/register.py for what is published.
    lay_title = models.CharField(_("title for the public"), max_length=200, blank=True)
    lay_summary = models.TextField(_("summary for the public"), blank=True)
    ai_use = models.CharField(
        _("artificial intelligence"), max_length=16, choices=AiUse.choices, blank=True
    )
    # (b) purposes
    purpose = models.CharField(_("purpose (EHDS Art 53(1))"), max_length=32,
                               choices=Purpose.choices, blank=True)  # fmt: skip
    purpose_description = models.TextField(_("research purpose"), blank=True)
    duo_codes = models.JSONField(_("data use (DUO codes)"), default=list, blank=True)
    disease_codes = models.JSONField(_("diseases studied"), default=list, blank=True)
    commercial = models.BooleanField(_("commercial use"), default=False)
    # (c) intended use and benefit
    intended_use = models.TextField(_("intended use"), blank=True)
    expected_benefit = models.TextField(_("expected benefit"), blank=True)
    # (d) scope
    data_from = models.DateField(_("data from"), null=True, blank=True)
    data_to = models.DateField(_("data to"), null=True, blank=True)
    # (e) anonymised or pseudonymised
    data_form = models.CharField(_("form of the data"), max_length=16,
                                 choices=DataForm.choices, blank=True)  # fmt: skip
    pseudonymisation_justification = models.TextField(
        _("why anonymised data are not enough"), blank=True
    )
    legal_basis = models.TextField(_("legal basis (GDPR Art 6(1))"), blank=True)
    # (g)–(i)
    safeguards = models.TextField(_("safeguards against misuse and re-identification"), blank=True)
    processing_months = models.PositiveSmallIntegerField(
        _("processing period in the secure processing environment (months)"), null=True, blank=True
    )
    processing_justification = models.TextField(_("why this period"), blank=True)
    tools = models.TextField(_("tools and computing resources"), blank=True)
    # (j) ethics
    ethics_approval = models.FileField(
        _("ethics approval"), upload_to="ethics/%Y/", blank=True, max_length=300
    )
    ethics_not_required = models.TextField(_("why no ethics approval is needed"), blank=True)
    # Art 54
    prohibited_uses_confirmed = models.BooleanField(
        _("none of the Article 54 prohibited uses applies"), default=False
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # The Art 68(4) clock: from the moment the application is complete (restarted when an
    # incomplete application is completed), three months, extendable once by three.
    complete_at = models.DateTimeField(null=True, blank=True)
    decision_due = models.DateTimeField(null=True, blank=True)
    extended = models.BooleanField(default=False)
    extension_reason = models.TextField(blank=True)
    # While incomplete: the applicant has four weeks to complete it.
    completion_due = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "decision_due"], name="application_due_idx")]

    def __str__(self) -> str:
        return self.title


class ApplicationDataset(models.Model):
    """One requested dataset of an application, routed to the committee that governs it,
    with that committee's decision for it."""

    class Decision(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="items")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="+")
    review = models.ForeignKey(
        "Review", null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    decision = models.CharField(max_length=16, choices=Decision.choices, default=Decision.PENDING)
    # Pre-screening of the application's use against the dataset's DUO conditions (advice).
    prescreen_outcome = models.CharField(max_length=20, blank=True)
    prescreen_findings = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "dataset"], name="unique_item"),
        ]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.dataset_id}"


class TeamMember(models.Model):
    """A named person who will get access (Art 67(2)(a)), invited by email; they must accept."""

    class Status(models.TextChoices):
        INVITED = "invited", _("Invited")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="team")
    email = models.EmailField()
    role = models.CharField(_("role in the project"), max_length=100, blank=True)
    # PROTECT: a person who answered stays on the application's record; deactivate them instead.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED)
    token = models.CharField(max_length=64, unique=True, default=secrets.token_urlsafe)
    invited_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "email"], name="unique_team_email"),
        ]

    def __str__(self) -> str:
        return self.email
