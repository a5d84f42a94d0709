"""The public register (EHDS Art 57(1)(j)): the published notice of each decision, and the
results permit holders report (Art 61(4)). What the register shows is declared in
``access/register.py``."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from access.models.applications import Application
from access.models.permits import Permit


class RegisterOutcome(models.TextChoices):
    """Where a register entry stands, as the public reads it."""

    ASSESSING = "assessing", _("Being assessed")
    DECIDED = "decided", _("Decided; the decision will be published")
    APPROVED = "approved", _("Permit granted")
    PARTIALLY_APPROVED = "partially_approved", _("Permit granted for part of the data")
    REFUSED = "refused", _("Refused")
    WITHDRAWN = "withdrawn", _("Withdrawn by the applicant")


class DecisionPublication(models.Model):
    """The access body's public notice of a decision on an application: the justification the
    register shows with the permits or the refusal (Art 57(1)(j)(iii), within 30 working days
    of the decision)."""

    application = models.OneToOneField(
        Application, on_delete=models.PROTECT, related_name="publication"
    )
    justification = models.TextField(_("published justification"))
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"Decision notice for {self.application_id}"


class PermitResults(models.Model):
    """What a permit holder reports of the project's results (Art 61(4)): a summary for the
    public and the outputs (``ResultOutput``). The results are due 18 months after the end of
    processing (the permit's end) unless the access body extended the clock."""

    permit = models.OneToOneField(Permit, on_delete=models.PROTECT, related_name="results")
    lay_summary = models.TextField(_("summary of the results for the public"), blank=True)
    # Set once the summary and at least one output are there: the clock is met.
    reported_at = models.DateTimeField(null=True, blank=True)
    extended_until = models.DateField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    # Each reminder and the flag to the access body go out once (the daily command).
    reminded_3m_at = models.DateTimeField(null=True, blank=True)
    reminded_1m_at = models.DateTimeField(null=True, blank=True)
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "permit results"

    def __str__(self) -> str:
        return f"Results of {self.permit_id}"


class ResultOutput(models.Model):
    """One published output of a project: a publication (DOI or address), software or a model
    released."""

    class Kind(models.TextChoices):
        PUBLICATION = "publication", _("Publication")
        SOFTWARE = "software", _("Software")
        MODEL = "model", _("Model")
        OTHER = "other", _("Other output")

    results = models.ForeignKey(PermitResults, on_delete=models.CASCADE, related_name="outputs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=300)
    # A DOI (10.xxxx/...) or an https address; ``link`` gives the address to follow.
    reference = models.CharField(max_length=500)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def link(self) -> str:
        if self.reference.startswith("10."):
            return f"https://doi.org/{self.reference}"
        return self.reference
