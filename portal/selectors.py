"""Reads for the portal app."""

from datetime import date, datetime, time

from django.db.models import Count, QuerySet
from django.utils import timezone

from portal.models import AuditEvent, RoleAssignment


def audit_events(
    *,
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    actor: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEvent]:
    """Audit events, newest first, filtered. ``action`` matches a code or a namespace prefix."""
    events = AuditEvent.objects.all()
    if action:
        events = events.filter(action__startswith=action)
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    if actor:
        events = events.filter(actor_label=actor)
    if since:
        events = events.filter(
            created_at__gte=timezone.make_aware(datetime.combine(since, time.min))
        )
    if until:
        events = events.filter(
            created_at__lte=timezone.make_aware(datetime.combine(until, time.max))
        )
    return events.order_by("-seq")


def role_counts() -> dict[str, int]:
    rows = (
        RoleAssignment.objects.filter(user__is_active=True).values("role").annotate(n=Count("id"))
    )
    return {row["role"]: row["n"] for row in rows}
