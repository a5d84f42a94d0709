"""The actions the audit chain may record, each with a label a person can read.

An action code is namespaced by the app that records it (``access.permit.revoked``); the chain
stores the code, and pages show the label beside it. Each app registers its own actions from its
``audit_actions`` module, imported when the app is ready (portal's are registered below), and
:func:`portal.audit.audit_record` refuses a code nobody registered: a new action cannot reach
the chain without a label. Labels are plain sentences about what happened, translatable, so that
a page for citizens can show them as they are.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class AuditAction:
    """One action of the audit chain: its code and what it means in plain words."""

    code: str
    label: str | Promise


class UnknownAuditAction(LookupError):
    """An action code that no app registered: a programming error, refused before writing."""


_REGISTRY: dict[str, AuditAction] = {}


def register(*actions: AuditAction) -> None:
    """Add ``actions`` to the registry.

    A code is registered once: registering the same code again with a different label is
    refused, so two apps cannot give one code two meanings. Registering the very same action
    twice (a module imported twice) is harmless.
    """
    for action in actions:
        known = _REGISTRY.get(action.code)
        if known is not None and known != action:
            raise ValueError(f"audit action {action.code!r} is already registered as {known!r}")
        _REGISTRY[action.code] = action


def is_registered(code: str) -> bool:
    return code in _REGISTRY


def get(code: str) -> AuditAction:
    """The registered action of ``code``; :class:`UnknownAuditAction` when there is none."""
    try:
        return _REGISTRY[code]
    except KeyError:
        raise UnknownAuditAction(
            f"audit action {code!r} is not registered: add it, with a label, to the "
            "audit_actions module of the app that records it"
        ) from None


def label(code: str) -> str | Promise:
    """The label of ``code``, or the code itself for one no longer registered (the chain keeps
    every event it ever recorded, including those of retired actions)."""
    action = _REGISTRY.get(code)
    return action.label if action is not None else code


def registered() -> list[AuditAction]:
    """Every registered action, by code."""
    return [_REGISTRY[code] for code in sorted(_REGISTRY)]


register(
    # People and their roles
    AuditAction("portal.user.created", _("An account was created")),
    AuditAction("portal.user.changed", _("An account was changed")),
    AuditAction("portal.user.deleted", _("An account was deleted")),
    AuditAction("portal.user.groups_changed", _("An account's groups were changed")),
    AuditAction("portal.user.permissions_changed", _("An account's permissions were changed")),
    AuditAction("portal.user.password_set", _("An administrator set a password")),
    AuditAction("portal.user.password_disabled", _("An administrator disabled a password")),
    AuditAction("portal.user.password_changed", _("A person changed their password")),
    AuditAction("portal.user.password_reset", _("A person reset their password by email")),
    AuditAction("portal.role.granted", _("A role was granted")),
    AuditAction("portal.role.revoked", _("A role was revoked")),
    AuditAction("portal.group.created", _("A group was created")),
    AuditAction("portal.group.changed", _("A group was changed")),
    AuditAction("portal.group.permissions_changed", _("A group's permissions were changed")),
    AuditAction("portal.group.deleted", _("A group was deleted")),
    AuditAction(
        "portal.identity.linked", _("A single sign-on account was linked to a portal account")
    ),
    # Logins
    AuditAction("portal.session.login", _("A person logged in")),
    AuditAction("portal.session.logout", _("A person logged out")),
    AuditAction("portal.session.login_failed", _("A login failed")),
    AuditAction("portal.session.locked_out", _("Logins were locked after repeated failures")),
    AuditAction("portal.session.oidc_failed", _("A single sign-on login failed")),
    AuditAction("portal.session.failures_summary", _("Failed logins were counted")),
    AuditAction(
        "portal.session.failures_throttled",
        _("Failed logins were too many to record one by one"),
    ),
)
