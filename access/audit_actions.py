"""Access's audit actions, with their labels (see ``portal.audit_actions``)."""

from django.utils.translation import gettext_lazy as _

from access.models import Application, Review
from portal.audit_actions import AuditAction, register

register(
    # Applications
    AuditAction("access.application.created", _("A researcher started an application")),
    AuditAction("access.application.updated", _("An application was edited")),
    AuditAction(
        "access.application.datasets_changed", _("The datasets of an application were changed")
    ),
    AuditAction("access.application.submitted", _("An application was submitted")),
    AuditAction("access.application.withdrawn", _("An application was withdrawn")),
    AuditAction("access.application.under_review", _("The review of an application began")),
    AuditAction(
        "access.application.clarification_requested",
        _("A committee asked the applicant for clarification"),
    ),
    AuditAction(
        "access.application.clarification_answered", _("The applicant answered the committee")
    ),
    AuditAction(
        "access.application.deadline_extended", _("The decision deadline of an application moved")
    ),
    AuditAction(
        "access.application.lapsed", _("An application lapsed while waiting for the applicant")
    ),
    AuditAction("access.application.approved", _("An application was approved")),
    AuditAction("access.application.partially_approved", _("An application was approved in part")),
    AuditAction("access.application.rejected", _("An application was rejected")),
    AuditAction("access.comment.added", _("A comment was added to an application")),
    # The project team
    AuditAction("access.team.invited", _("A team member was invited to an application")),
    AuditAction("access.team.accepted", _("An invited team member accepted")),
    AuditAction("access.team.declined", _("An invited team member declined")),
    # Reviews
    AuditAction(
        "access.review.conflict_declared", _("A committee member declared a conflict of interest")
    ),
    AuditAction("access.review.voted", _("A committee member voted")),
    AuditAction("access.review.terms_set", _("A chair set the terms of a permit to be issued")),
    AuditAction("access.review.approved", _("A committee approved its part of an application")),
    AuditAction("access.review.rejected", _("A committee rejected its part of an application")),
    # Permits
    AuditAction("access.permit.issued", _("A data permit was issued")),
    AuditAction("access.permit.suspended", _("A data permit was suspended")),
    AuditAction("access.permit.reactivated", _("A suspended data permit was reactivated")),
    AuditAction("access.permit.revoked", _("A data permit was revoked")),
    AuditAction("access.permit.expired", _("A data permit expired")),
    # The public register and the results clock (docs/register.md)
    AuditAction(
        "access.register.decision_published", _("The access body published a decision notice")
    ),
    AuditAction("access.results.summary_changed", _("A permit holder wrote the results summary")),
    AuditAction("access.results.output_added", _("A permit holder recorded a result")),
    AuditAction("access.results.output_removed", _("A permit holder removed a result")),
    AuditAction("access.results.reported", _("A permit's results were reported")),
    AuditAction("access.results.reminded", _("A permit holder was reminded of the results")),
    AuditAction("access.reminder.sent", _("A reminder of a deadline was sent")),
    AuditAction("access.results.overdue_flagged", _("A permit's results were flagged overdue")),
    AuditAction("access.results.clock_extended", _("The access body extended a results clock")),
    # Access tokens and what they rest on
    AuditAction("access.token.issued", _("An access token was issued for a node")),
    AuditAction("access.token.revoked", _("An access token was revoked")),
    AuditAction("access.status_list.created", _("A new token status list was started")),
    AuditAction("access.signing_key.created", _("A token signing key was made")),
    AuditAction("access.signing_key.activated", _("A token signing key began to sign")),
    AuditAction("access.signing_key.retired", _("A token signing key was retired")),
    AuditAction(
        "access.signing_key.rewrapped",
        _("A token signing key was encrypted under a new key-encryption key"),
    ),
    # Nodes
    AuditAction("access.node.secret_issued", _("A node was given a new secret")),
    AuditAction("access.node.key_registered", _("A node's report signing key was registered")),
    AuditAction("access.node.report_received", _("A node reported the accesses it decided")),
    # Committees
    AuditAction("access.committee.created", _("A data access committee was set up")),
    AuditAction("access.committee.updated", _("A data access committee was changed")),
    AuditAction("access.committee.member_added", _("A member joined a data access committee")),
    AuditAction("access.committee.member_removed", _("A member left a data access committee")),
)

# The action a committee's decision records, by the review's outcome.
REVIEW_DECIDED = {
    Review.Status.APPROVED: "access.review.approved",
    Review.Status.REJECTED: "access.review.rejected",
}

# The action the conclusion of an application records, by its outcome.
APPLICATION_DECIDED = {
    Application.Status.APPROVED: "access.application.approved",
    Application.Status.PARTIALLY_APPROVED: "access.application.partially_approved",
    Application.Status.REJECTED: "access.application.rejected",
}
