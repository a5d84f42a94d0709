"""Daily: remind permit holders 3 months and 1 month before their results are due (EHDS
Art 61(4): 18 months after the end of processing), and flag overdue results to the access
body. Each reminder and flag goes out once, however often this runs."""

from django.core.management.base import BaseCommand

from access.services import results_reminders_send


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        run = results_reminders_send()
        for permit, before in run.reminded:
            self.stdout.write(f"{permit.number}: reminded ({before} before the results are due)")
        for permit in run.flagged:
            self.stdout.write(f"{permit.number}: results overdue, flagged to the access body")
        self.stdout.write(
            f"{len(run.reminded)} reminders sent, {len(run.flagged)} overdue results flagged"
        )
