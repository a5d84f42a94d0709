"""Daily: remind committees of decisions due soon or overdue, applicants of incomplete
applications, holders of permits ending soon; reject applications not completed in time."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from access import notifications
from access.models import Application, Permit, Review
from access.services import applications_lapse_incomplete

DUE_SOON = timedelta(days=14)
PERMIT_NOTICE = timedelta(days=45)  # extensions are asked one month before the end


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
                notifications.review_reminder(review, overdue=review.application.decision_due < now)
                sent += 1
            incomplete = Application.objects.filter(
                status=Application.Status.CLARIFICATION,
                completion_due__isnull=False,
                completion_due__lt=now + timedelta(days=7),
            ).select_related("applicant")
            for application in incomplete:
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
                notifications.permit_expiring(permit)
                sent += 1
        self.stdout.write(f"{len(lapsed)} incomplete application(s) lapsed")
        self.stdout.write(self.style.SUCCESS(f"{sent} reminder(s) sent"))
