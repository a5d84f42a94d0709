"""Daily, and after an ingest: decide every node's consent exclusion list again.

Each consent change and each permit change updates the lists in its own transaction; this
catches what changes with no write: a donation whose period has ended, and the subjects of
studies indexed since (which ``CONSENT_DEFAULT=deny`` excludes until they consent)."""

from django.core.management.base import BaseCommand, CommandError

from access.services import exclusions_rebuild
from catalogue.models import Node


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["rebuild"])
        parser.add_argument("nodes", nargs="*", help="slugs or audiences (default: every node)")

    def handle(self, *args, **options):
        nodes = list(Node.objects.order_by("pk"))
        if options["nodes"]:
            wanted = set(options["nodes"])
            nodes = [n for n in nodes if n.slug in wanted or n.audience in wanted]
            if len(nodes) != len(wanted):
                raise CommandError("Unknown node: give slugs or audiences.")
        for node in nodes:
            changed = exclusions_rebuild(node=node)
            self.stdout.write(f"{node.slug}: {changed} entries changed")
