"""Daily: remind committees of decisions due soon or overdue, applicants of incomplete
applications, holders of permits ending soon; reject applications not completed in time.

Each reminder goes once for the date it is about (``access.models.Reminder``): running the
command again the same day, or every day, sends nothing twice. A deadline that moves (extended,
or restarted when an incomplete application is completed) is reminded of again."""

from datetime import date, datetime, timedelta

from django.core.management.base import BaseCommand
from django.db import models, transaction
from django.utils import timezone

from access import notifications
from access.models import Application, Permit, Reminder, Review
from access.services import applications_lapse_incomplete
from portal.audit import audit_record

DUE_SOON = timedelta(days=14)
PERMIT_NOTICE = timedelta(days=45)  # extensions are asked one month before the end


def _first_time(obj: models.Model, stage: str, about: date | datetime) -> bool:
    """Record the reminder of ``stage`` about ``obj`` for the date ``about``; False when it
    was sent already."""
    key = f"{obj._meta.model_name}:{obj.pk}:{stage}:{about.isoformat()}"
    _reminder, created = Reminder.objects.get_or_create(key=key)
    if created:
        audit_record(
            "access.reminder.sent",
            actor=None,
            obj=obj,
            details={"stage": stage, "about": about.isoformat()},
        )
    return created


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        now = timezone.now()
        lapsed = applications_lapse_incomplete(now=now)
        reviews = (
            Review.objects.filter(
                status=Review.Status.PENDING,
                application__status__in=Application.OPEN,
                application__decision_due__lt=now + DUE_SOON,
            )
            .select_related("application", "committee")
            .order_by("application__decision_due")
        )
        sent = 0
        with transaction.atomic():  # emails go out when this commits
            for review in reviews:
                due = review.application.decision_due
                overdue = due < now
                if _first_time(review, "overdue" if overdue else "due_soon", due):
                    notifications.review_reminder(review, overdue=overdue)
                    sent += 1
            incomplete = Application.objects.filter(
                status=Application.Status.CLARIFICATION,
                completion_due__isnull=False,
                completion_due__lt=now + timedelta(days=7),
            ).select_related("applicant")
            for application in incomplete:
                if _first_time(application, "incomplete", application.completion_due):
                    notifications.completion_reminder(application)
                    sent += 1
            # Permit dates are the portal's local dates (as in permits_expire), not UTC's.
            today = timezone.localdate(now)
            ending = Permit.objects.filter(
                status=Permit.Status.ACTIVE,
                ends_on__lte=today + PERMIT_NOTICE,
                ends_on__gte=today,
            ).select_related("holder")
            for permit in ending:
                if _first_time(permit, "ending", permit.ends_on):
                    notifications.permit_expiring(permit)
                    sent += 1
        self.stdout.write(f"{len(lapsed)} incomplete application(s) lapsed")
        self.stdout.write(self.style.SUCCESS(f"{sent} reminder(s) sent"))
