"""What a node needs to talk to the portal as itself, and the access reports it sends back (the
access log of EHDS Art 73)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from access.models.tokens import AccessToken
from catalogue.models import Node


class NodeCredential(models.Model):
    """A node's credentials at the portal: its client id is its ``audience``; its secret is
    shown once and kept only as a hash (SHA-256: the secret is 256 random bits, so a slow
    password hash would add nothing but time on every request). ``public_jwk`` is the key the
    node signs its access reports with."""

    node = models.OneToOneField(Node, on_delete=models.PROTECT, related_name="credential")
    secret_hash = models.CharField(max_length=100, blank=True, editable=False)
    public_jwk = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    secret_set_at = models.DateTimeField(null=True, blank=True)
    key_set_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"credentials of {self.node}"


class NodeAccessReport(models.Model):
    """One batch of access reports a node sent (``access.node.reports``), stored once by its
    ``jti``."""

    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+")
    jti = models.CharField(max_length=200)
    issued_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    event_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["node", "jti"], name="one_report_per_batch"),
        ]

    def __str__(self) -> str:
        return f"{self.node_id}: {self.jti}"


class NodeAccessEvent(models.Model):
    """One request a node decided: the token (by ``jti``, and the portal's record of it when
    the portal issued it), the study asked for, when, and the decision with its reason code."""

    class Decision(models.TextChoices):
        ALLOWED = "allowed", _("Allowed")
        REFUSED = "refused", _("Refused")

    report = models.ForeignKey(NodeAccessReport, on_delete=models.CASCADE, related_name="events")
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+")
    token_jti = models.CharField(max_length=200, blank=True)
    token = models.ForeignKey(
        AccessToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="uses"
    )
    study_instance_uid = models.CharField(max_length=64, blank=True)
    time = models.DateTimeField()
    decision = models.CharField(max_length=8, choices=Decision.choices)
    reason = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["time", "pk"]
        indexes = [
            models.Index(fields=["node", "time"], name="node_access_time_idx"),
            models.Index(fields=["study_instance_uid"], name="node_access_study_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.decision} {self.study_instance_uid or '-'} at {self.time:%Y-%m-%d %H:%M}"
