"""Daily: remind node operators of every published dataset whose description has not been
reviewed for a year (the quality label's review rule, ``catalogue.quality``).

A dataset is reminded once, then again every 30 days while it stays unreviewed."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone

from catalogue.models import Dataset
from catalogue.quality import review_due_filter
from catalogue.services import dataset_remind_review

REMIND_AGAIN_AFTER = timedelta(days=30)


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        now = timezone.now()
        due = Dataset.objects.filter(review_due_filter(now)).filter(
            Q(review_reminded_at__isnull=True) | Q(review_reminded_at__lt=now - REMIND_AGAIN_AFTER)
        )
        for dataset in due.order_by("pk"):
            recipients = dataset_remind_review(dataset=dataset)
            self.stdout.write(f"{dataset.pk} {dataset.title}: {len(recipients)} operators")
