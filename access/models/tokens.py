"""What a permit holder's access token rests on: the portal's signing keys, the token status
lists that revoke tokens, and the record of every token issued.

The token itself (a signed JWT, ``access.node.claims``) is handed to its holder once and never
stored: the portal keeps its ``jti``, what it grants and its entry in a status list.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from access.models.permits import Permit
from access.node import statuslist
from catalogue.models import Node
from portal.workflow import TransitionsMixin


class SigningKey(TransitionsMixin):
    """A key pair that signs access tokens, status lists and study maps.

    One key is ``active`` (it signs), at most one is ``next`` (published ahead of its turn, so
    that nodes already hold it when it becomes active), and ``retired`` keys stay published
    until ``published_until`` so that what they signed still verifies. The private key is kept
    encrypted under the key-encryption key from the environment (``SIGNING_KEK``) and is erased
    when the key retires: a retired key never signs again.
    """

    class Status(models.TextChoices):
        NEXT = "next", _("Next")
        ACTIVE = "active", _("Active")
        RETIRED = "retired", _("Retired")

    class Algorithm(models.TextChoices):
        ES256 = "ES256", _("ES256 (ECDSA on P-256)")
        ED25519 = "Ed25519", _("Ed25519")

    ALLOWED_TRANSITIONS = {
        Status.NEXT: {Status.ACTIVE, Status.RETIRED},
        Status.ACTIVE: {Status.RETIRED},
        Status.RETIRED: set(),
    }

    # The RFC 7638 thumbprint of the public key: the ``kid`` of every JWT it signs.
    kid = models.CharField(max_length=64, unique=True)
    alg = models.CharField(max_length=16, choices=Algorithm.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.NEXT)
    public_jwk = models.JSONField()
    # AES-256-GCM under the key-encryption key ``kek_id`` names (portal.signing_kek); empty
    # once retired.
    private_key = models.TextField(blank=True, editable=False)
    kek_id = models.CharField(max_length=16, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    # A retired key stays in the JWKS until then (SIGNING_KEY_RETENTION after it retired).
    published_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="one_active_signing_key"
            ),
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="next"), name="one_next_signing_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.alg}, {self.status})"


class TokenStatusList(models.Model):
    """One Token Status List (``access.node.statuslist``): ``capacity`` entries of ``bits``
    bits, served signed at ``/access/status-lists/<id>``. Entries are handed out one after the
    other (``next_index`` counts them), each at the index ``access.status_indices`` draws from
    the list's secret ``index_key``, so that an index tells nothing of when its token was
    issued; a list made before keys existed has none and hands its entries out in order. When
    a list is full a new one starts. The entries' values are the ``status`` of the tokens that
    hold them."""

    bits = models.PositiveSmallIntegerField(default=2)
    capacity = models.PositiveIntegerField()
    next_index = models.PositiveIntegerField(default=0)
    index_key = models.BinaryField(max_length=32, null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"status list {self.pk}"


class AccessToken(models.Model):
    """An access token issued to one person for one node under one permit.

    ``status`` is the token's entry in its status list: valid, suspended (its permit is
    suspended) or invalid (the token or its permit was revoked, or the permit expired). The
    services change it in the transaction that changes the token or the permit.
    """

    class Status(models.IntegerChoices):
        VALID = statuslist.VALID, _("Valid")
        INVALID = statuslist.INVALID, _("Revoked")
        SUSPENDED = statuslist.SUSPENDED, _("Suspended")

    jti = models.CharField(max_length=64, unique=True)
    permit = models.ForeignKey(Permit, on_delete=models.PROTECT, related_name="tokens")
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+")
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_tokens"
    )
    kid = models.CharField(max_length=64)
    scope = models.CharField(max_length=200)
    datasets = models.JSONField(default=list)  # the dataset identifiers it grants
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status_list = models.ForeignKey(TokenStatusList, on_delete=models.PROTECT, related_name="+")
    status_index = models.PositiveIntegerField()
    status = models.PositiveSmallIntegerField(choices=Status.choices, default=Status.VALID)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoke_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-issued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["status_list", "status_index"], name="one_token_per_status_entry"
            ),
        ]
        indexes = [
            models.Index(fields=["status_list", "status"], name="token_status_entry_idx"),
            models.Index(fields=["permit", "-issued_at"], name="token_permit_idx"),
        ]

    def __str__(self) -> str:
        return self.jti
