from django.core.management.base import BaseCommand

from access.services import permits_expire


class Command(BaseCommand):
    help = "Expire data permits whose end date has passed. Safe to run as often as you like."

    def handle(self, *args, **options):
        expired = permits_expire()
        for permit in expired:
            self.stdout.write(f"expired {permit.number} (ended {permit.ends_on})")
        self.stdout.write(self.style.SUCCESS(f"{len(expired)} permit(s) expired"))
