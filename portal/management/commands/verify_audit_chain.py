from django.core.management.base import BaseCommand, CommandError

from portal.audit import verify_chain
from portal.models import AuditEvent


class Command(BaseCommand):
    help = (
        "Verify the audit chain from its first event: every event present, linked to the one "
        "before, and signed with a key in AUDIT_KEYS over its unchanged contents. Names the "
        "first broken, missing or forged event and exits non-zero."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect-head",
            help="The head hash recorded earlier (for example in an external log); the chain "
            "must still contain it, which also catches events removed from the end.",
        )
        parser.add_argument(
            "--progress-every",
            type=int,
            default=10_000,
            help="Write progress to stderr after every N events checked (default 10000).",
        )

    def handle(self, *args, expect_head=None, progress_every=10_000, **options):
        total = AuditEvent.objects.count()

        def progress(checked: int) -> None:
            self.stderr.write(f"checked {checked} of {total} events")
            self.stderr.flush()

        report = verify_chain(progress=progress, every=max(1, progress_every))
        if not report.ok:
            raise CommandError(
                f"Audit chain broken after {report.checked} good events: {report.problem}"
            )
        if expect_head and not AuditEvent.objects.filter(hash=expect_head).exists():
            raise CommandError(
                f"Audit chain is internally consistent but the expected head {expect_head} "
                "is not in it: events were removed from the end or the chain was replaced"
            )
        message = f"Audit chain intact: {report.checked} events, head {report.head_hash}"
        if report.unkeyed:
            message += (
                f" (the first {report.unkeyed} were written before the chain was keyed and are "
                "covered by the signature of the event after them)"
            )
        self.stdout.write(self.style.SUCCESS(message))
