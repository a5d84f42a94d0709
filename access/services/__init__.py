"""Every write on applications, reviews, permits and committees.

Each state change runs in a transaction, takes a row lock on the application (or permit) first,
checks the transition against the model's ``ALLOWED_TRANSITIONS``, and appends an audit event
with the actor and reason. Racing requests therefore end in exactly one outcome: the second one
sees the state the first left and is refused with InvalidTransition.

One module per object: ``applications``, ``reviews``, ``permits``, ``committees``, with what
they share in ``common``. This package exposes them all, so callers write
``services.application_submit``.
"""

from access.services.applications import (
    application_create,
    application_save_draft,
    application_set_datasets,
    application_submit,
    application_update,
    application_withdraw,
    applications_lapse_incomplete,
    clarification_answer,
    deadline_extend,
    missing_items,
    team_answer,
    team_invite,
)
from access.services.committees import (
    committee_add_member,
    committee_create,
    committee_remove_member,
    committee_update,
)
from access.services.common import (
    APPLICANT_FIELDS,
    COMPLETION_PERIOD,
    DECISION_PERIOD,
    EXTENSION_PERIOD,
    IncompleteApplication,
    InvalidTransition,
    NotPermitted,
)
from access.services.permits import (
    PERMIT_CHANGES,
    check_permit_end,
    permit_change,
    permits_expire,
)
from access.services.reviews import (
    clarification_request,
    comment_add,
    conflict_declare,
    decisive_votes,
    review_decide,
    settled_outcome,
    tally,
    vote_cast,
)

__all__ = [
    "APPLICANT_FIELDS",
    "COMPLETION_PERIOD",
    "DECISION_PERIOD",
    "EXTENSION_PERIOD",
    "PERMIT_CHANGES",
    "IncompleteApplication",
    "InvalidTransition",
    "NotPermitted",
    "application_create",
    "application_save_draft",
    "application_set_datasets",
    "application_submit",
    "application_update",
    "application_withdraw",
    "applications_lapse_incomplete",
    "check_permit_end",
    "clarification_answer",
    "clarification_request",
    "comment_add",
    "committee_add_member",
    "committee_create",
    "committee_remove_member",
    "committee_update",
    "conflict_declare",
    "deadline_extend",
    "decisive_votes",
    "missing_items",
    "permit_change",
    "permits_expire",
    "review_decide",
    "settled_outcome",
    "tally",
    "team_answer",
    "team_invite",
    "vote_cast",
]
