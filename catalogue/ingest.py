"""Indexing folders of de-identified DICOM files into a dataset's study/series/instance index.

Headers are read and gated (``catalogue.dicom``) in worker processes; the index is written in
this process, a batch per transaction, so a long ingest holds no long transaction and an
interrupted one can simply be run again: every write is get-or-create by UID within the dataset.

Imports point one way: this module builds on ``catalogue.services`` (the dataset's counts and
terms), and nothing there imports it. The command, the upload page and the API call
``ingest_paths`` or ``dataset_ingest_uploads`` here, and read the dataset as ingested from the
report.
"""

import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from django.db import connection, transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from catalogue.dicom import HeaderResult, Status, read_headers
from catalogue.models import Dataset, Instance, Series, Study
from catalogue.services import dataset_refresh_counts
from catalogue.signals import send_studies_indexed
from portal.audit import audit_record
from portal.models import User

BATCH_SIZE = 1000
MAX_DEFAULT_WORKERS = 8
# Below this many files a pool costs more than it saves (when the caller did not choose).
MIN_FILES_FOR_POOL = 64
# Files read per call in this process (progress is reported as each file's result arrives).
IN_PROCESS_CHUNK = 64

Progress = Callable[[int, int], None]


@dataclass
class IngestReport:
    """The outcome of one ingest. Paths are as walked; reasons are for people to read.

    ``dataset`` is the dataset as the ingest left it (counts, modalities and body parts
    recomputed), so that callers need not read it again. ``display_names`` maps each stored path
    back to the name it was uploaded under (uploads only).
    """

    dataset: Dataset
    files: int = 0
    accepted: list[str] = field(default_factory=list)  # newly indexed
    already_indexed: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    new_studies: int = 0
    new_series: int = 0
    new_instances: int = 0
    display_names: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "files": self.files,
            "accepted": len(self.accepted),
            "already_indexed": self.already_indexed,
            "refused": len(self.refused),
            "unreadable": len(self.unreadable),
            "new_studies": self.new_studies,
            "new_series": self.new_series,
            "new_instances": self.new_instances,
        }


class IngestPathError(ValueError):
    """A path given to ingest does not exist or is neither a file nor a folder."""


def collect_files(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Every regular file under ``paths`` (folders recursively, in name order), each once.

    Symbolic links to files are followed; links to folders are not (no cycles). Hidden files
    are included: whether a file is DICOM is for the reader to say.
    """
    found: dict[str, None] = {}
    for given in paths:
        path = os.fspath(given)
        if os.path.isdir(path):
            for root, folders, names in os.walk(path):
                folders.sort()
                for name in sorted(names):
                    full = os.path.join(root, name)
                    if os.path.isfile(full):
                        found[full] = None
        elif os.path.isfile(path):
            found[path] = None
        elif os.path.lexists(path):
            raise IngestPathError(f"{path} is neither a regular file nor a folder")
        else:
            raise IngestPathError(f"{path} does not exist")
    return list(found)


def _pool_context():
    """Workers start from a fresh interpreter (no copied database connections or threads)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([read_headers.__module__])  # the header reader
        return context
    return multiprocessing.get_context("spawn")


def default_workers(files: int) -> int:
    if files < MIN_FILES_FOR_POOL:
        return 1
    cpus = getattr(os, "process_cpu_count", os.cpu_count)()  # the former is Python 3.13+
    return max(1, min(cpus or 1, MAX_DEFAULT_WORKERS))


def _read_all(files: list[str], workers: int, profile: str) -> Iterator[HeaderResult]:
    """The header of each file, in the order of ``files``, read in chunks."""
    if workers <= 1 or len(files) <= 1:
        for start in range(0, len(files), IN_PROCESS_CHUNK):
            yield from read_headers(files[start : start + IN_PROCESS_CHUNK], profile)
        return
    size = max(1, min(256, len(files) // (workers * 8)))
    chunks = [files[start : start + size] for start in range(0, len(files), size)]
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context())
    try:
        for results in pool.map(partial(read_headers, profile=profile), chunks):
            yield from results
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _insert_instances(rows: list[tuple[int, str]]) -> None:
    """Insert (series id, SOP Instance UID) rows, skipping those already there.

    One row per file makes this the hot path of ingest: multi-row INSERT statements cost a
    fraction of ``bulk_create``, which builds a model object for every row. ON CONFLICT DO
    NOTHING is understood by both PostgreSQL and SQLite.
    """
    meta, quote = Instance._meta, connection.ops.quote_name
    table = quote(meta.db_table)
    series = quote(str(meta.get_field("series").column))
    sop = quote(str(meta.get_field("sop_instance_uid").column))
    per_statement = max(1, min(500, (connection.features.max_query_params or 1000) // 2))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = ", ".join(["(%s, %s)"] * len(chunk))
            # Only quoted names from the model go into the statement; values are parameters.
            cursor.execute(
                f"INSERT INTO {table} ({series}, {sop}) VALUES {values} "  # noqa: S608
                "ON CONFLICT DO NOTHING",
                [value for row in chunk for value in row],
            )


class _Batch:
    """Writes one batch of accepted headers to the index of ``dataset`` (in a transaction)."""

    def __init__(self, dataset: Dataset, report: IngestReport):
        self.dataset = dataset
        self.report = report

    def write(self, results: list[HeaderResult]) -> None:
        with transaction.atomic():
            # Concurrent ingests into one dataset take turns batch by batch (PostgreSQL).
            Dataset.objects.select_for_update().filter(pk=self.dataset.pk).first()
            self._write(results)

    def _write(self, results: list[HeaderResult]) -> None:
        dataset = self.dataset
        # Looked up level by level so that every query runs on a unique index: (dataset, study
        # UID), then (study, series UID), then (series, SOP UID).
        studies: dict[str, tuple[int, str]] = {}
        study_uids: dict[int, str] = {}
        for pk, uid, subject in Study.objects.filter(
            dataset=dataset, study_instance_uid__in={r.study_uid for r in results}
        ).values_list("pk", "study_instance_uid", "subject"):
            studies[uid] = (pk, subject)
            study_uids[pk] = uid
        series: dict[str, tuple[int, str]] = {}
        series_uids: dict[int, str] = {}
        if study_uids:
            for pk, uid, study_pk in Series.objects.filter(
                study_id__in=list(study_uids),
                series_instance_uid__in={r.series_uid for r in results},
            ).values_list("pk", "series_instance_uid", "study_id"):
                series[uid] = (pk, study_uids[study_pk])
                series_uids[pk] = uid
        self._fill_manufacturers(results, series)
        instances: dict[str, tuple[str, str]] = {}
        if series_uids:
            for sop, series_pk in Instance.objects.filter(
                series_id__in=list(series_uids), sop_instance_uid__in={r.sop_uid for r in results}
            ).values_list("sop_instance_uid", "series_id"):
                series_uid = series_uids[series_pk]
                instances[sop] = (series_uid, series[series_uid][1])
        new_studies: dict[str, HeaderResult] = {}
        new_series: dict[str, HeaderResult] = {}
        new_instances: list[HeaderResult] = []
        for result in results:
            problem = self._conflict(result, studies, series, instances, new_studies, new_series)
            if problem == "indexed":
                self.report.already_indexed += 1
                continue
            if problem:
                self.report.refused.append((result.path, problem))
                continue
            if result.study_uid not in studies:
                new_studies.setdefault(result.study_uid, result)
            if result.series_uid not in series:
                new_series.setdefault(result.series_uid, result)
            instances[result.sop_uid] = (result.series_uid, result.study_uid)
            new_instances.append(result)
        if not new_instances:
            return

        Study.objects.bulk_create(
            [
                Study(
                    dataset=dataset,
                    study_instance_uid=uid,
                    subject=r.patient_id,
                    study_date=r.study_date,
                    study_year=r.study_date.year if r.study_date else None,
                    age=r.age,
                    sex=r.sex,
                )
                for uid, r in new_studies.items()
            ],
            ignore_conflicts=True,
        )
        send_studies_indexed((dataset.node_id, r.patient_id) for r in new_studies.values())
        study_pks = {uid: pk for uid, (pk, _) in studies.items()}
        study_pks.update(
            Study.objects.filter(
                dataset=dataset, study_instance_uid__in=list(new_studies)
            ).values_list("study_instance_uid", "pk")
        )
        Series.objects.bulk_create(
            [
                Series(
                    study_id=study_pks[r.study_uid],
                    series_instance_uid=uid,
                    modality=r.modality,
                    body_part=r.body_part,
                    manufacturer=r.manufacturer,
                    model=r.model,
                    field_strength=r.field_strength,
                    slice_thickness=r.slice_thickness,
                )
                for uid, r in new_series.items()
            ],
            ignore_conflicts=True,
        )
        series_pks = {uid: pk for uid, (pk, _) in series.items()}
        series_pks.update(
            Series.objects.filter(
                study__dataset=dataset, series_instance_uid__in=list(new_series)
            ).values_list("series_instance_uid", "pk")
        )
        _insert_instances([(series_pks[r.series_uid], r.sop_uid) for r in new_instances])
        touched = {series_pks[r.series_uid] for r in new_instances}
        per_series = (
            Instance.objects.filter(series=OuterRef("pk"))
            .order_by()
            .values("series")
            .annotate(n=Count("pk"))
            .values("n")
        )
        Series.objects.filter(pk__in=touched).update(
            instance_count=Coalesce(Subquery(per_series), 0)
        )
        self.report.new_studies += len(new_studies)
        self.report.new_series += len(new_series)
        self.report.new_instances += len(new_instances)
        self.report.accepted.extend(r.path for r in new_instances)

    @staticmethod
    def _fill_manufacturers(results: list[HeaderResult], series: dict) -> None:
        """Give series indexed before the Manufacturer was read (an empty one) the value of a
        file read again, so that re-ingesting fills ``eucaim:hasEquipmentManufacturer``."""
        pks: dict[str, set[int]] = {}
        for result in results:
            if result.manufacturer and result.series_uid in series:
                pks.setdefault(result.manufacturer, set()).add(series[result.series_uid][0])
        for manufacturer, series_pks in pks.items():
            Series.objects.filter(pk__in=series_pks, manufacturer="").update(
                manufacturer=manufacturer
            )

    @staticmethod
    def _conflict(result, studies, series, instances, new_studies, new_series) -> str:
        """ "" to index the file, "indexed" if it already is, else why it must be refused."""
        known = instances.get(result.sop_uid)
        if known is not None:
            if known == (result.series_uid, result.study_uid):
                return "indexed"
            return (
                f"SOPInstanceUID {result.sop_uid} is already indexed in series {known[0]} of "
                f"study {known[1]}, not in series {result.series_uid} of study {result.study_uid}"
            )
        if result.study_uid in studies:
            subject = studies[result.study_uid][1]
        elif result.study_uid in new_studies:
            subject = new_studies[result.study_uid].patient_id
        else:
            subject = None
        if subject is not None and subject != result.patient_id:
            return (
                f"PatientID {result.patient_id!r} differs from {subject!r}, the subject already "
                f"indexed for study {result.study_uid} in this dataset"
            )
        if result.series_uid in series:
            owner = series[result.series_uid][1]
        elif result.series_uid in new_series:
            owner = new_series[result.series_uid].study_uid
        else:
            owner = None
        if owner is not None and owner != result.study_uid:
            return (
                f"SeriesInstanceUID {result.series_uid} is already indexed in study {owner}, "
                f"not in study {result.study_uid}"
            )
        return ""


def ingest_paths(
    *,
    dataset: Dataset,
    paths: Iterable[str | os.PathLike],
    workers: int | None = None,
    actor=None,
    progress: Progress | None = None,
) -> IngestReport:
    """Read, gate and index every file under ``paths`` into ``dataset``'s index.

    Files that fail the de-identification gate are refused and files that are not readable
    DICOM are reported as unreadable; neither stops the ingest. ``workers`` processes read the
    headers (1: read here, no pool; None: one per CPU, at most 8). ``progress(done, total)`` is
    called as files are read. Raises :class:`IngestPathError` if a path does not exist.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files = collect_files(paths)
    if workers is None:
        workers = default_workers(len(files))
    report = IngestReport(dataset=dataset, files=len(files))
    batch_writer = _Batch(dataset, report)
    batch: list[HeaderResult] = []
    if progress:
        progress(0, len(files))
    profile = str(dataset.node.gate_profile)  # a plain str crosses to the workers
    for done, result in enumerate(_read_all(files, workers, profile), start=1):
        if result.status == Status.ACCEPTED:
            batch.append(result)
            if len(batch) >= BATCH_SIZE:
                batch_writer.write(batch)
                batch = []
        elif result.status == Status.REFUSED:
            report.refused.append((result.path, result.reason))
        else:
            report.unreadable.append((result.path, result.reason))
        if progress:
            progress(done, len(files))
    if batch:
        batch_writer.write(batch)
    with transaction.atomic():
        refreshed = dataset_refresh_counts(dataset=dataset)
        audit_record(
            "catalogue.dataset.ingested",
            actor=actor,
            obj=dataset,
            details={
                **report.counts(),
                "gate_profile": profile,
                "subjects": refreshed.number_of_subjects,
                "studies": refreshed.number_of_studies,
                "series": refreshed.number_of_series,
                "instances": refreshed.number_of_instances,
            },
        )
    report.dataset = refreshed
    return report


def dataset_index_headers(
    *,
    dataset: Dataset,
    headers: list[HeaderResult],
    gate_profile: str,
    refused: int = 0,
    unreadable: int = 0,
    source: str = "node indexer",
) -> IngestReport:
    """Index header values that were read and gated elsewhere (by the node's own indexer, under
    ``gate_profile``), in one transaction: all of them or, on any error, none.

    Values already indexed are skipped, so a batch sent again changes nothing and records no
    audit event; conflicting values (a SOP Instance UID indexed in another series...) are
    refused one by one, as in :func:`ingest_paths`. ``refused`` and ``unreadable`` count the
    files the node's gate refused or could not read, for the audit event.
    """
    report = IngestReport(dataset=dataset, files=len(headers) + refused + unreadable)
    with transaction.atomic():
        Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
        _Batch(dataset, report)._write(headers)
        if report.new_instances or report.refused:
            refreshed = dataset_refresh_counts(dataset=dataset)
            audit_record(
                "catalogue.dataset.ingested",
                obj=dataset,
                details={
                    **report.counts(),
                    "refused": len(report.refused) + refused,
                    "unreadable": unreadable,
                    "gate_profile": gate_profile,
                    "source": source,
                    "subjects": refreshed.number_of_subjects,
                    "studies": refreshed.number_of_studies,
                    "series": refreshed.number_of_series,
                    "instances": refreshed.number_of_instances,
                },
            )
            report.dataset = refreshed
    return report


def dataset_ingest_uploads(*, dataset: Dataset, uploads, actor: User | None) -> IngestReport:
    """Index uploaded DICOM files (the page's and the API's upload).

    Each upload is written to a private temporary folder under a generated name (the uploaded
    name is never used as a path), ingested, and deleted. The report's ``display_names`` maps
    each stored path back to the uploaded name.
    """
    with tempfile.TemporaryDirectory(prefix="ingest-") as folder:
        names: dict[str, str] = {}
        for number, upload in enumerate(uploads):
            path = Path(folder) / f"{number:06d}.dcm"
            with path.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            names[str(path)] = upload.name
        report = ingest_paths(
            dataset=dataset, paths=[Path(p) for p in names], workers=1, actor=actor
        )
    report.display_names = names
    return report
