"""Citizens' consents as FHIR R5 Consent resources, their immutable versions, and the links
between a citizen's account and the pseudonyms their images carry at imaging nodes."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from catalogue.models import Node


def new_consent_id() -> str:
    """A FHIR logical id for a new Consent: a random UUID (the id pattern allows it)."""
    return str(uuid.uuid4())


class ConsentRecord(models.Model):
    """One Consent resource of one citizen: its logical id, whose it is and which version is
    current. The resource itself lives in its :class:`ConsentVersion` rows.

    A citizen has at most one record of each kind: one donation (changed, withdrawn and given
    again as new versions of it) and one EHDS Art 71 opt-out (recorded, revoked and recorded
    again the same way), so that "my donation" and "my opt-out" are always one thing each.
    The kind follows the Consent's base decision: permit for a donation, deny for an opt-out.
    """

    class Kind(models.TextChoices):
        DONATION = "donation", _("Data donation")
        OPT_OUT = "opt_out", _("Opt-out from secondary use")

    id = models.CharField(primary_key=True, max_length=64, default=new_consent_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consent_records"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    current_version = models.PositiveIntegerField(_("current version"))
    created_at = models.DateTimeField(_("created"))

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "kind"], name="one_consent_of_each_kind"),
        ]

    def __str__(self) -> str:
        return f"Consent/{self.id}"


class ConsentVersion(models.Model):
    """One version of a Consent, never changed or deleted (PostgreSQL refuses UPDATE and
    DELETE on this table: migration 0002).

    ``resource`` is the whole FHIR R5 Consent as stored and served, with ``meta.versionId``
    and ``meta.lastUpdated`` set; the other columns are copied from it for searching and for
    the consent decision. ``period_end`` is the first instant after the period (FHIR's end is
    inclusive: "2030-12-31" covers that day). ``rules_digest`` names the consent's rules (its
    base decision and provisions), so that consents with the same rules are read once.
    """

    record = models.ForeignKey(ConsentRecord, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    resource = models.JSONField(_("FHIR resource"))
    status = models.CharField(_("status"), max_length=20)
    decision = models.CharField(_("decision"), max_length=8)
    date = models.DateField(_("date"), null=True, blank=True)
    period_start = models.DateTimeField(_("in force from"), null=True, blank=True)
    period_end = models.DateTimeField(_("in force until (exclusive)"), null=True, blank=True)
    purposes = models.JSONField(_("EHDS purposes"), default=list)
    duo_codes = models.JSONField(_("DUO codes"), default=list)
    categories = models.JSONField(_("data categories"), default=list)
    node_ids = models.JSONField(_("nodes (token audiences)"), default=list)
    rules_digest = models.CharField(max_length=64, db_index=True)
    last_updated = models.DateTimeField(_("last updated"), db_index=True)
    # Who wrote it, kept by id without a database constraint, as the audit chain keeps actors:
    # deleting a person never needs to touch an immutable row.
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )

    class Meta:
        ordering = ["record", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["record", "version"], name="unique_consent_version"),
        ]
        indexes = [models.Index(fields=["status", "decision"], name="consent_status_idx")]

    def __str__(self) -> str:
        return f"Consent/{self.record_id}/_history/{self.version}"


class DonorLink(models.Model):
    """A citizen's account linked to the pseudonym (``subject``, the PatientID of the
    de-identified images) their images carry at a node. Made by redeeming a one-time
    :class:`LinkCode` the node's operator issued; the citizen may remove it. A pseudonym at a
    node belongs to one account at most."""

    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="donor_links"
    )
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="donor_links")
    subject = models.CharField(_("pseudonym at the node"), max_length=64)
    linked_at = models.DateTimeField(_("linked"))

    class Meta:
        ordering = ["linked_at"]
        constraints = [
            models.UniqueConstraint(fields=["node", "subject"], name="one_account_per_pseudonym"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.node_id}"


class LinkCode(models.Model):
    """A one-time code a node's operator gives a patient so that they can link the pseudonym
    their images carry at the node to their account. Only a SHA-256 hash of the code is kept;
    it expires (``expires_at``), works once (``redeemed_at``) and is withdrawn when a newer
    code is issued for the same pseudonym (``revoked_at``)."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="link_codes")
    subject = models.CharField(_("pseudonym at the node"), max_length=64)
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_at = models.DateTimeField(_("issued"))
    expires_at = models.DateTimeField(_("expires"))
    redeemed_at = models.DateTimeField(_("redeemed"), null=True, blank=True)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["node", "subject"], name="link_code_subject_idx")]

    def __str__(self) -> str:
        return f"link code for {self.subject} at {self.node_id}"
