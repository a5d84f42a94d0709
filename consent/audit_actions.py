"""The consent app's audit actions, with their labels (see ``portal.audit_actions``)."""

from django.utils.translation import gettext_lazy as _

from portal.audit_actions import AuditAction, register

register(
    AuditAction("consent.donation.created", _("A citizen donated their data")),
    AuditAction("consent.donation.changed", _("A citizen changed their donation")),
    AuditAction("consent.donation.withdrawn", _("A citizen withdrew their donation")),
    AuditAction("consent.opt_out.recorded", _("A citizen opted out of secondary use")),
    AuditAction("consent.opt_out.revoked", _("A citizen undid their opt-out")),
    AuditAction("consent.resource.created", _("A consent was recorded through the FHIR API")),
    AuditAction("consent.resource.updated", _("A consent was changed through the FHIR API")),
    AuditAction("consent.resource.read", _("Someone other than its owner read a consent")),
    AuditAction("consent.link_code.issued", _("A hospital issued a code to link images")),
    AuditAction("consent.link.created", _("A citizen linked their images at a node")),
    AuditAction("consent.link.removed", _("A citizen unlinked their images at a node")),
)
