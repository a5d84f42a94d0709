"""Shared by the access services: the periods of EHDS Art 68(4), the applicant's fields, the
errors (from the workflow layer), the application row lock and the audit helper.
"""

from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db import models
from django.utils import timezone

from access.models import Application
from portal.audit import audit_record
from portal.models import AuditEvent, User
from portal.workflow import Incomplete
from portal.workflow import InvalidTransition as InvalidTransition
from portal.workflow import NotPermitted as NotPermitted

# Calendar months, counted on the portal's local calendar (as access.clocks counts the results
# clock): complete on 30 November, the decision is due on 28 February.
DECISION_PERIOD = relativedelta(months=3)  # three months, Art 68(4)
EXTENSION_PERIOD = relativedelta(months=3)  # once, by three more months
COMPLETION_PERIOD = timedelta(weeks=4)  # to complete an incomplete application


def months_later(moment: datetime, period: relativedelta) -> datetime:
    """``moment`` plus ``period`` of calendar months on the portal's local calendar (the last
    day of a shorter month when the day does not exist there)."""
    return timezone.localtime(moment) + period


# Fields the applicant fills in (everything else is set by the workflow).
APPLICANT_FIELDS = [
    "title", "lay_title", "lay_summary", "organisation", "public_sector_body", "purpose",
    "purpose_description", "ai_use",
    "duo_codes", "disease_codes", "commercial", "intended_use", "expected_benefit",
    "data_from", "data_to", "data_form", "pseudonymisation_justification", "legal_basis",
    "safeguards", "processing_months", "processing_justification", "tools",
    "ethics_approval", "ethics_not_required", "prohibited_uses_confirmed",
]  # fmt: skip

# The workflow layer's errors, under the names the access app's callers know.
IncompleteApplication = Incomplete


def _lock(application: Application) -> Application:
    return Application.objects.select_for_update().get(pk=application.pk)


def _record(action: str, actor: User | None, obj: models.Model, **details: object) -> AuditEvent:
    return audit_record(action, actor=actor, obj=obj, details=details)
