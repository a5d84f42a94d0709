"""Finding, linking and creating the person behind a single sign-on identity.

The first time an identity (issuer + subject) is seen it is linked to the one active person
holding the same email address, if and only if the provider says that address is verified and
that person holds no privilege (:func:`links_only_by_hand`); otherwise a new person is created
with ``settings.OIDC_DEFAULT_ROLES``. A privileged account is linked only on purpose
(:func:`identity_link`): by its owner, signed in with their password (``portal.oidc.oidc_link``),
or by an administrator (``manage.py link_external_identity``). The login views are in
``portal.oidc``.
"""

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit import audit_record
from portal.models import ExternalIdentity, Role, User, normalise_username
from portal.services import user_create


class OidcLoginRefused(Exception):
    """The identity is known, but its person may not log in."""

    def __init__(self, reason: str, message: str, user: User | None = None):
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.user = user


@dataclass(frozen=True)
class OidcLogin:
    user: User
    identity: ExternalIdentity
    # "existing" (known identity), "verified_email" (linked to a person) or "new_account".
    how: str


_USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")
_USERNAME_MAX = 150


def _claim_str(claims: Mapping[str, object], name: str, max_length: int = 150) -> str:
    value = claims.get(name)
    return value.strip()[:max_length] if isinstance(value, str) else ""


def verified_email(claims: Mapping[str, object]) -> str:
    """The email address of the claims if the provider says it is verified, else ""."""
    email = _claim_str(claims, "email", 254)
    if not email or claims.get("email_verified") is not True:
        return ""
    try:
        validate_email(email)
    except ValidationError:
        return ""
    return email


def _username_taken(username: str) -> bool:
    return User.objects.filter(username=normalise_username(username)).exists()


def unique_username(issuer: str, subject: str, claims: Mapping[str, object]) -> str:
    """A user name no one holds, normalised, from ``preferred_username`` when there is one."""
    preferred = normalise_username(_claim_str(claims, "preferred_username", 500))
    base = _USERNAME_UNSAFE.sub("", preferred)[:100]
    if not base:
        digest = hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()
        base = f"oidc-{digest[:12]}"
    if not _username_taken(base):
        return base
    for n in range(2, 10):
        candidate = f"{base}-{n}"
        if not _username_taken(candidate):
            return candidate
    while True:
        candidate = f"{base}-{secrets.token_hex(4)}"[:_USERNAME_MAX]
        if not _username_taken(candidate):
            return candidate


def _person_by_verified_email(issuer: str, claims: Mapping[str, object]) -> User | None:
    """The one active person holding the claims' verified email, if linking to them is safe.

    A person who already has another identity at the same issuer is not linked again: the
    provider may have handed a former member's address to someone new.
    """
    email = verified_email(claims)
    if not email:
        return None
    people = list(User.objects.filter(email__iexact=email, is_active=True)[:2])
    if len(people) != 1:
        return None
    person = people[0]
    if person.external_identities.filter(issuer=issuer).exists():
        return None
    return person


# Roles whose accounts may be linked by a verified email alone: they reach nobody else's data.
LINK_BY_EMAIL_ROLES = frozenset({Role.CITIZEN, Role.RESEARCHER})


def links_only_by_hand(user: User) -> bool:
    """Whether an account is linked to an identity only by its owner or an administrator.

    That is every account with power over others: Django staff and superusers, any role beyond
    citizen and researcher (access body, committee member, node operator), and anyone holding an
    object permission (committee membership and chairs are kept that way). A verified email
    from a provider is not enough for them: a provider that lets someone claim an address, or
    that hands a former colleague's address to someone new, would give away the account.
    """
    if user.is_staff or user.is_superuser:
        return True
    if set(user.role_assignments.values_list("role", flat=True)) - LINK_BY_EMAIL_ROLES:
        return True
    from guardian.models import UserObjectPermission

    return UserObjectPermission.objects.filter(user=user).exists()


class IdentityLinkRefused(ValidationError):
    pass


@transaction.atomic
def identity_link(
    *, user: User, issuer: str, subject: str, actor: User | None, via: str
) -> ExternalIdentity:
    """Link an identity at ``issuer`` to ``user`` on purpose: by its owner or an administrator.

    Refused when the identity is already someone's, or when ``user`` already has an identity at
    that issuer (an administrator removes the old one first). Returns the new identity.
    """
    existing = (
        ExternalIdentity.objects.select_for_update().filter(issuer=issuer, subject=subject).first()
    )
    if existing is not None:
        if existing.user_id == user.pk:
            raise IdentityLinkRefused(
                _("This single sign-on account is already linked to this portal account."),
                code="already_linked",
            )
        raise IdentityLinkRefused(
            _("This single sign-on account is already linked to another portal account."),
            code="linked_elsewhere",
        )
    if user.external_identities.filter(issuer=issuer).exists():
        raise IdentityLinkRefused(
            _(
                "This portal account is already linked to another account at this provider. "
                "An administrator can remove that link first."
            ),
            code="issuer_taken",
        )
    identity = ExternalIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    audit_record(
        "portal.identity.linked",
        actor=actor,
        obj=identity,
        details={"issuer": issuer, "via": via, "person": user.pseudonym},
    )
    return identity


@transaction.atomic
def external_identity_login(
    *, issuer: str, subject: str, claims: Mapping[str, object]
) -> OidcLogin:
    """Find, link or create the person for an identity the provider has just vouched for.

    Raises :class:`OidcLoginRefused` when the identity belongs to a deactivated person, or when
    its verified email is a privileged account's (:func:`links_only_by_hand`).
    """
    identity = (
        ExternalIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    how = "existing"
    user: User | None
    if identity is not None:
        user = identity.user
        if not user.is_active:
            raise OidcLoginRefused(
                "account_inactive", _("this account has been deactivated."), user=user
            )
    else:
        user = _person_by_verified_email(issuer, claims)
        how = "verified_email"
        if user is not None and links_only_by_hand(user):
            raise OidcLoginRefused(
                "link_requires_owner",
                _(
                    "a portal account with this email address exists and can only be linked by "
                    "its owner. Log in with your portal password, then link %(provider)s on the "
                    "“Single sign-on” page (%(page)s), or ask an administrator."
                )
                % {"provider": settings.OIDC_PROVIDER_NAME, "page": reverse("oidc_link")},
                user=user,
            )
        if user is None:
            how = "new_account"
            user = user_create(
                username=unique_username(issuer, subject, claims),
                # An unverified address is not kept: it could be someone else's.
                email=verified_email(claims),
                first_name=_claim_str(claims, "given_name"),
                last_name=_claim_str(claims, "family_name"),
                roles=settings.OIDC_DEFAULT_ROLES,
                via="oidc",
            )
        identity = ExternalIdentity.objects.create(user=user, issuer=issuer, subject=subject)
        audit_record(
            "portal.identity.linked",
            actor=user,
            obj=identity,
            details={"issuer": issuer, "via": how},
        )
    identity.last_login_at = timezone.now()
    identity.save(update_fields=["last_login_at"])
    return OidcLogin(user=user, identity=identity, how=how)
