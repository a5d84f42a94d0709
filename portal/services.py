"""Writes on people and roles. Each one appends to the audit chain."""

from collections.abc import Iterable

from django.db import transaction

from portal.audit import audit_record
from portal.models import Role, RoleAssignment, User


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str = "",
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    organisation: str = "",
    roles: Iterable[str] = (),
    actor: User | None = None,
    via: str = "local",
) -> User:
    """Create a person with the given roles. Without a password, no local login is possible."""
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        organisation=organisation,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save(force_insert=True)
    audit_record("portal.user.created", actor=actor, obj=user, details={"via": via})
    for role in roles:
        role_grant(user=user, role=role, actor=actor)
    return user


@transaction.atomic
def role_grant(*, user: User, role: str, actor: User | None = None) -> bool:
    """Give a person a role. Returns False (and records nothing) if they already hold it."""
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}")
    _, created = RoleAssignment.objects.get_or_create(
        user=user, role=role, defaults={"granted_by": actor}
    )
    if created:
        audit_record("portal.role.granted", actor=actor, obj=user, details={"role": role})
        user.__dict__.pop("_roles_cache", None)
    return created


@transaction.atomic
def role_revoke(*, user: User, role: str, actor: User | None = None) -> bool:
    """Take a role away. Returns False if the person did not hold it."""
    deleted, _ = RoleAssignment.objects.filter(user=user, role=role).delete()
    if deleted:
        audit_record("portal.role.revoked", actor=actor, obj=user, details={"role": role})
        user.__dict__.pop("_roles_cache", None)
    return bool(deleted)
