"""Data permits (EHDS Art 68(10)) issued from a committee's approval."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from access.models.applications import Application
from access.models.reviews import Review
from catalogue.models import Dataset
from catalogue.purposes import Purpose
from portal.workflow import TransitionsMixin


class Permit(TransitionsMixin):
    """A data permit (EHDS Art 68(10)) issued from a committee's approval."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")

    ALLOWED_TRANSITIONS = {
        Status.ACTIVE: {Status.SUSPENDED, Status.REVOKED, Status.EXPIRED},
        Status.SUSPENDED: {Status.ACTIVE, Status.REVOKED, Status.EXPIRED},
        Status.REVOKED: set(),
        Status.EXPIRED: set(),
    }
    MAX_YEARS = 10  # Art 68(12)

    number = models.CharField(max_length=32, unique=True)
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="permits")
    review = models.OneToOneField(Review, on_delete=models.PROTECT, related_name="permit")
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="permits"
    )
    datasets = models.ManyToManyField(Dataset, related_name="permits")
    authorised_persons = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="authorised_permits"
    )
    purpose = models.CharField(max_length=32, choices=Purpose.choices)
    purpose_description = models.TextField()
    data_form = models.CharField(max_length=16, choices=Application.DataForm.choices)
    conditions = models.TextField(blank=True)
    tools = models.TextField(blank=True)
    starts_on = models.DateField()
    ends_on = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.TextField(blank=True)
    issued_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["status", "ends_on"], name="permit_expiry_idx")]

    def __str__(self) -> str:
        return self.number
