"""The catalogue's audit actions, with their labels (see ``portal.audit_actions``)."""

from django.utils.translation import gettext_lazy as _

from portal.audit_actions import AuditAction, register

register(
    AuditAction("catalogue.node.created", _("An imaging node was registered")),
    AuditAction("catalogue.node.operator_added", _("An operator was added to an imaging node")),
    AuditAction(
        "catalogue.node.gate_profile_changed",
        _("An imaging node's de-identification gate was changed"),
    ),
    AuditAction("catalogue.dataset.created", _("A dataset was described")),
    AuditAction("catalogue.dataset.updated", _("A dataset's description was changed")),
    AuditAction("catalogue.dataset.published", _("A dataset was published in the catalogue")),
    AuditAction("catalogue.dataset.unpublished", _("A dataset was taken back to draft")),
    AuditAction("catalogue.dataset.retired", _("A dataset was retired from the catalogue")),
    AuditAction("catalogue.dataset.ingested", _("Image headers were indexed for a dataset")),
    AuditAction(
        "catalogue.dataset.reviewed", _("A node operator confirmed a dataset's description")
    ),
    AuditAction(
        "catalogue.dataset.review_reminded",
        _("A node's operators were reminded to review a dataset's description"),
    ),
    AuditAction("catalogue.basket.added", _("A researcher put a dataset in their basket")),
    AuditAction("catalogue.basket.removed", _("A researcher took a dataset out of their basket")),
)
