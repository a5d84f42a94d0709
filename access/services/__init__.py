"""Every write on applications, reviews, permits, committees, access tokens, signing keys and
the nodes' records.

Each state change runs in a transaction, takes a row lock on the application (or permit) first,
checks the transition against the model's ``ALLOWED_TRANSITIONS``, and appends an audit event
with the actor and reason. Racing requests therefore end in exactly one outcome: the second one
sees the state the first left and is refused with InvalidTransition.

One module per object: ``applications``, ``reviews``, ``permits``, ``committees``, ``tokens``
(access tokens and status lists), ``keys`` (signing keys), ``nodes`` (node credentials,
study maps, access reports, token checks for nodes) and ``exclusions`` (each node's consent
exclusion list), with what they share in ``common``. This
package exposes them all, so callers write ``services.application_submit``.
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
from access.services.exclusions import (
    ExclusionDocument,
    exclusion_list_document,
    exclusion_list_etag,
    exclusions_follow_permit,
    exclusions_follow_subjects,
    exclusions_rebuild,
    use_of,
)
from access.services.keys import (
    Rotation,
    SigningUnavailable,
    active_signer,
    sign,
    signing_key_create,
    signing_key_retire,
    signing_keys_rewrap,
    signing_keys_rotate,
)
from access.services.nodes import (
    OrthancAnswer,
    ReportRefused,
    TokenCheck,
    access_report_receive,
    introspection,
    node_authenticate,
    node_key_register,
    node_secret_issue,
    orthanc_validate,
    study_map_document,
    token_check,
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
from access.services.tokens import (
    IssuedToken,
    check_issue,
    check_lifetime,
    status_list_document,
    status_list_uri,
    token_issue,
    token_revoke,
    tokens_follow_permit,
)

__all__ = [
    "APPLICANT_FIELDS",
    "COMPLETION_PERIOD",
    "DECISION_PERIOD",
    "EXTENSION_PERIOD",
    "PERMIT_CHANGES",
    "ExclusionDocument",
    "IncompleteApplication",
    "InvalidTransition",
    "IssuedToken",
    "NotPermitted",
    "OrthancAnswer",
    "ReportRefused",
    "Rotation",
    "SigningUnavailable",
    "TokenCheck",
    "access_report_receive",
    "active_signer",
    "application_create",
    "application_save_draft",
    "application_set_datasets",
    "application_submit",
    "application_update",
    "application_withdraw",
    "applications_lapse_incomplete",
    "check_issue",
    "check_lifetime",
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
    "exclusion_list_document",
    "exclusion_list_etag",
    "exclusions_follow_permit",
    "exclusions_follow_subjects",
    "exclusions_rebuild",
    "introspection",
    "missing_items",
    "node_authenticate",
    "node_key_register",
    "node_secret_issue",
    "orthanc_validate",
    "permit_change",
    "permits_expire",
    "review_decide",
    "settled_outcome",
    "sign",
    "signing_key_create",
    "signing_key_retire",
    "signing_keys_rewrap",
    "signing_keys_rotate",
    "status_list_document",
    "status_list_uri",
    "study_map_document",
    "tally",
    "team_answer",
    "team_invite",
    "token_check",
    "token_issue",
    "token_revoke",
    "tokens_follow_permit",
    "use_of",
    "vote_cast",
]
