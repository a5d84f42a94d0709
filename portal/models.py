"""People, their roles, their external identities, and the audit chain."""

import secrets
import unicodedata
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, AnonymousUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal import audit_actions


def new_pseudonym() -> str:
    """A random public identifier: what tokens, the audit chain and other people see."""
    return "p-" + secrets.token_hex(8)


class Role(models.TextChoices):
    CITIZEN = "citizen", _("Citizen")
    RESEARCHER = "researcher", _("Researcher")
    COMMITTEE_MEMBER = "committee_member", _("Committee member")
    NODE_OPERATOR = "node_operator", _("Node operator")
    HDAB_ADMIN = "hdab_admin", _("Access-body administrator")


def normalise_username(username: str) -> str:
    """The one spelling of a user name: Unicode NFKC, case-folded.

    "ｖｉｃｔｉｍ１", "VICTIM1" and "victim1" are the same name. Folding can leave a string that
    NFKC changes again (and the other way round), so both are applied until nothing changes.
    """
    value = username
    for _round in range(4):
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
        if folded == value:
            break
        value = folded
    return value


class PortalUserManager(UserManager["User"]):
    """Django's user manager, finding a person by the normalised spelling of their user name."""

    def get_by_natural_key(self, username):
        """The person whose user name is ``username`` once normalised (login, createsuperuser)."""
        if isinstance(username, str):
            username = normalise_username(username)
        return super().get_by_natural_key(username)


class User(AbstractUser):
    """A person using the portal. They may hold several roles.

    ``pseudonym`` is the identifier shown to other people and put in tokens; the portal keeps no
    hospital patient identifier for anyone. User names are stored normalised
    (:func:`normalise_username`) whichever way the person is created.
    """

    pseudonym = models.CharField(
        _("pseudonym"), max_length=32, unique=True, default=new_pseudonym, editable=False
    )
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)

    objects: ClassVar[PortalUserManager] = PortalUserManager()

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")

    @classmethod
    def normalize_username(cls, username):
        """Used by Django's forms, ``clean()`` and the manager's ``create_user``."""
        return normalise_username(username) if isinstance(username, str) else username

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Every way of saving (services, admin, factories, createsuperuser) stores one spelling.
        if isinstance(self.username, str):
            self.username = normalise_username(self.username)
        super().save(*args, **kwargs)

    @property
    def roles(self) -> frozenset[str]:
        """The person's roles, read once per request and kept on the instance."""
        cached = getattr(self, "_roles_cache", None)
        if cached is None:
            if self.pk is None:
                cached = frozenset()
            else:
                cached = frozenset(self.role_assignments.values_list("role", flat=True))
            self._roles_cache = cached
        return cached

    def has_role(self, role: str) -> bool:
        return self.is_active and role in self.roles

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


# Whoever asks: a signed-in person or an anonymous visitor (what ``request.user`` holds).
type AnyUser = User | AnonymousUser


class RoleAssignment(models.Model):
    """One role held by one person, with who granted it and when."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(max_length=32, choices=Role.choices)
    granted_at = models.DateTimeField(auto_now_add=True)
    granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="unique_role_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.get_role_display()}"


class ExternalIdentity(models.Model):
    """A login at an OpenID Connect issuer linked to a person (issuer + subject is unique)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="external_identities")
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    linked_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = _("external identities")
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="unique_external_identity"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class AuditEvent(models.Model):
    """One entry of the append-only, keyed hash chain of events.

    ``seq`` counts events from 1 without gaps; ``hash`` is an HMAC-SHA256 over every field plus
    ``prev_hash`` (the hash of the event before) and ``key_id``, the id of the key in
    ``AUDIT_KEYS`` that signed it (``portal.audit_keys``). Editing, deleting or removing a row
    breaks the chain, and without the key nobody can rebuild it; ``manage.py
    verify_audit_chain`` names the first broken link. Events written before the chain was keyed
    have an empty ``key_id`` and a plain SHA-256 hash. The database refuses UPDATE and DELETE
    on this table (triggers created by the migration).
    """

    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(editable=False, db_index=True)
    # The actor is kept by id and pseudonym, without a database constraint, so that deleting a
    # person never needs to touch (and so cannot be blocked by, or rewrite) the log.
    actor = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # Empty only for events written before the chain was keyed.
    key_id = models.CharField(max_length=32, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"

    @property
    def action_label(self) -> str:
        """What the action means in plain words (the code itself when no app registers it)."""
        return str(audit_actions.label(self.action))
