"""Data access applications, committees and their reviews, data permits (EHDS Arts 67–68), and
the access tokens, signing keys and node records that take a permit holder to the images.

Workflows are data: each stateful model has a ``Status`` and an ``ALLOWED_TRANSITIONS`` table,
and only the services in ``access/services`` change status, under a row lock, writing an audit
event for every transition.

One module per object: ``committees``, ``applications``, ``reviews``, ``permits``, ``tokens``
(signing keys, token status lists, access tokens), ``nodes`` (node credentials and the access
reports nodes send back), ``exclusions`` (each node's consent exclusion list) and ``register``
(decision notices and reported results). This package
exposes them all, so callers write ``from access.models import Permit``.
"""

from access.models.applications import (
    AiUse,
    Application,
    ApplicationDataset,
    ProhibitedUse,
    TeamMember,
)
from access.models.committees import Committee
from access.models.exclusions import ExclusionEntry, ExclusionListState
from access.models.nodes import NodeAccessEvent, NodeAccessReport, NodeCredential
from access.models.permits import Permit
from access.models.register import (
    DecisionPublication,
    PermitResults,
    RegisterOutcome,
    ResultOutput,
)
from access.models.reminders import Reminder
from access.models.reviews import (
    Clarification,
    Comment,
    ConflictOfInterest,
    RefusalGround,
    Review,
    Vote,
)
from access.models.tokens import AccessToken, SigningKey, TokenStatusList

# The EHDS Art 53 purposes are defined in catalogue.purposes (consent uses them too); they are
# re-exported here so that imports from access.models keep working.
from catalogue.purposes import PUBLIC_SECTOR_PURPOSES, Purpose
from portal.workflow import InvalidTransition  # the workflow layer's

__all__ = [
    "PUBLIC_SECTOR_PURPOSES",
    "AccessToken",
    "AiUse",
    "Application",
    "ApplicationDataset",
    "Clarification",
    "Comment",
    "Committee",
    "ConflictOfInterest",
    "DecisionPublication",
    "ExclusionEntry",
    "ExclusionListState",
    "InvalidTransition",
    "NodeAccessEvent",
    "NodeAccessReport",
    "NodeCredential",
    "Permit",
    "PermitResults",
    "ProhibitedUse",
    "Purpose",
    "RefusalGround",
    "RegisterOutcome",
    "Reminder",
    "ResultOutput",
    "Review",
    "SigningKey",
    "TeamMember",
    "TokenStatusList",
    "Vote",
]
