import os
import time

from django.core.management.base import BaseCommand, CommandError

from catalogue.ingest import IngestPathError, IngestReport, ingest_paths
from catalogue.models import Dataset


class ProgressBar:
    """``[#####.....] 120/1000 files`` on one line of ``out``, redrawn at most 10 times a second."""

    WIDTH = 30
    INTERVAL = 0.1

    def __init__(self, out):
        self.out = out
        self.last_drawn = 0.0
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last_drawn < self.INTERVAL:
            return
        self.last_drawn = now
        filled = self.WIDTH * done // total if total else self.WIDTH
        bar = "#" * filled + "." * (self.WIDTH - filled)
        # ``style_func=str``: no error colouring, stderr is only where progress belongs.
        self.out.write(f"\r[{bar}] {done}/{total} files", style_func=str, ending="")
        self.out.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.out.write("", style_func=str)


class Command(BaseCommand):
    help = (
        "Index the DICOM files under PATH (files or folders, recursively) into a dataset. "
        "Each header must pass the de-identification gate (PS3.15 Basic Profile); refused and "
        "unreadable files are listed with their reason. Running it again adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="The id of the dataset to index into.")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="Processes reading headers (default: one per CPU, at most 8; 1: no pool).",
        )
        parser.add_argument("paths", nargs="+", metavar="PATH", help="A DICOM file or folder.")

    def handle(self, *args, dataset, workers, paths, **options):
        try:
            target = Dataset.objects.select_related("node").get(pk=int(dataset))
        except (ValueError, Dataset.DoesNotExist):
            raise CommandError(f"No dataset with id {dataset!r}.") from None
        if workers is not None and workers < 1:
            raise CommandError("--workers must be at least 1.")
        missing = [path for path in paths if not os.path.exists(path)]
        if missing:
            raise CommandError(f"No such file or folder: {', '.join(missing)}")
        progress = ProgressBar(self.stderr)
        try:
            report = ingest_paths(dataset=target, paths=paths, workers=workers, progress=progress)
        except IngestPathError as exc:
            raise CommandError(str(exc)) from None
        finally:
            progress.finish()
        self._print(report)

    def _print(self, report: IngestReport) -> None:
        dataset = report.dataset
        write = self.stdout.write
        write(
            f'Ingest into dataset {dataset.pk} "{dataset.title}": {report.files} files, '
            f"{dataset.node.gate_profile} de-identification gate"
        )
        write(
            self.style.SUCCESS(
                f"Accepted: {len(report.accepted)} (new instances {report.new_instances}, "
                f"new studies {report.new_studies}, new series {report.new_series})"
            )
        )
        write(f"Already indexed: {report.already_indexed}")
        refused = f"Refused: {len(report.refused)}"
        write(self.style.WARNING(refused) if report.refused else refused)
        for path, reason in report.refused:
            write(f"  {path}: {reason}")
        unreadable = f"Unreadable: {len(report.unreadable)}"
        write(self.style.WARNING(unreadable) if report.unreadable else unreadable)
        for path, reason in report.unreadable:
            write(f"  {path}: {reason}")
        modalities = ", ".join(dataset.modalities) or "none"
        write(
            f"Dataset now: {dataset.number_of_subjects} subjects, "
            f"{dataset.number_of_studies} studies, {dataset.number_of_series} series, "
            f"{dataset.number_of_instances} instances; modalities: {modalities}"
        )
