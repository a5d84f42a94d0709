"""Cohort feasibility counts from the feasibility entries held in memory, as columns.

A question that matches most of the index (a series range, or series and study criteria
together, over a million entries) costs PostgreSQL a scan of every entry and a sort per
dataset for its distinct subjects and studies: several hundred milliseconds here, whatever the
indexes. Held by each worker process as columns (numpy arrays, one value per entry), the same
question is a few vectorised comparisons and three weighted counts per dataset id, exact like
the aggregate (``tests/catalogue/test_feasibility_index.py`` compares both with a plain count).

The columns follow the database through the catalogue's change log, as the search index does
(:mod:`catalogue.facets`): ingest rebuilds a dataset's entries in the transaction that logs
the dataset as changed, so before each question the process reloads the entries of the
datasets changed since it last looked (one indexed query when nothing changed), and builds the
whole anew when the log says "anything" or no longer reaches back, in a thread, while the
database answers (:func:`counts`). Memory: about 80 bytes an entry (80 MB a worker at a
million entries).
"""

import threading
from datetime import date

import numpy as np
from django.conf import settings
from django.db import connection

from catalogue import facets
from catalogue.models import FeasibilityEntry

_COLUMNS = ("dataset_id", "subject", "study_id", "study_date", "age", "sex", "modality",
            "body_part", "manufacturer", "model", "field_strength", "slice_thickness",
            "series_count")  # fmt: skip
CODED = ("sex", "modality", "body_part", "manufacturer", "model")  # kept as codes
MEASURED = ("study_date", "age", "field_strength", "slice_thickness")  # NaN where unknown
CHUNK = 50_000  # rows converted at a time
REBUILD_GROWTH = 2  # read anew once reloads have numbered this many times the first subjects

lock = threading.Lock()


def _select(dataset_ids: set[int] | None) -> tuple[str, tuple]:
    """The statement reading the entries of ``dataset_ids`` (all with None), to run on a
    chunked cursor: the rows as the driver gives them, without the ORM's per-value work."""
    entries = FeasibilityEntry.objects.order_by()
    if dataset_ids is not None:
        entries = entries.filter(dataset_id__in=sorted(dataset_ids))
    return entries.values_list(*_COLUMNS).query.sql_with_params()


def _measure(value: date | float) -> float:
    """A criterion's bound as the columns hold it (days for a date)."""
    return float(value.toordinal()) if isinstance(value, date) else float(value)


class Columns:
    """Every feasibility entry as one position in each column."""

    def __init__(self) -> None:
        self.seq, self.stamp = -1, ""
        self.codes: dict[str, dict[str, int]] = {name: {} for name in CODED}
        # Subjects (dataset, pseudonym) and studies (id) numbered from 0 as first read, with
        # the dataset each belongs to.
        self.numbers: dict[str, dict] = {"subject": {}, "study": {}}
        self.owners: dict[str, list[int]] = {"subject": [], "study": []}
        self.owner_arrays: dict[str, np.ndarray] = {}
        self.first_subjects = 0  # subjects numbered by the whole read
        self.data: dict[str, np.ndarray] = self._empty()

    @staticmethod
    def _empty() -> dict[str, np.ndarray]:
        data = {name: np.zeros(0, np.int64) for name in ("dataset", "subject", "study", "series")}
        data.update({name: np.zeros(0, np.int32) for name in CODED})
        data.update({name: np.zeros(0, np.float64) for name in MEASURED})
        return data

    def _read(self, dataset_ids: set[int] | None) -> dict[str, np.ndarray]:
        """The entries of ``dataset_ids`` (all with None) as columns, read a chunk of rows at a
        time (a million rows as Python objects would take a gigabyte)."""
        sql, params = _select(dataset_ids)
        parts = [self._empty()]
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(CHUNK):
                parts.append(self._columns(rows))
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def _columns(self, rows: list[tuple]) -> dict[str, np.ndarray]:
        by_name = dict(zip(_COLUMNS, zip(*rows, strict=True), strict=True))
        count = len(rows)
        datasets = by_name["dataset_id"]
        data = {
            "dataset": np.array(datasets, np.int64),
            "series": np.array(by_name["series_count"], np.int64),
            # None becomes NaN in a float array.
            "study_date": np.array(
                [None if d is None else d.toordinal() for d in by_name["study_date"]], np.float64
            ),
        }
        for name in ("age", "field_strength", "slice_thickness"):
            data[name] = np.array(by_name[name], np.float64)
        for name in CODED:
            codes = self.codes[name]
            for value in set(by_name[name]) - codes.keys():
                codes[value] = len(codes)
            data[name] = np.fromiter(map(codes.__getitem__, by_name[name]), np.int32, count)
        keys = {
            "subject": list(zip(datasets, by_name["subject"], strict=True)),
            "study": by_name["study_id"],
        }
        for kind, kind_keys in keys.items():
            numbers, owners = self.numbers[kind], self.owners[kind]
            owner_of = dict(zip(kind_keys, datasets, strict=True))
            for key in owner_of.keys() - numbers.keys():
                numbers[key] = len(owners)
                owners.append(owner_of[key])
            data[kind] = np.fromiter(map(numbers.__getitem__, kind_keys), np.int64, count)
            self.owner_arrays[kind] = np.array(owners, np.int64)
        return data

    @classmethod
    def build(cls) -> "Columns":
        columns = cls()
        latest = facets.latest_change()
        columns.seq, columns.stamp = latest
        columns.data = columns._read(None)
        columns.first_subjects = len(columns.owners["subject"])
        return columns

    def reload(self, dataset_ids: set[int]) -> None:
        """Replace the entries of the changed datasets ``dataset_ids``."""
        keep = ~np.isin(self.data["dataset"], np.array(sorted(dataset_ids), np.int64))
        fresh = self._read(dataset_ids)
        self.data = {
            name: np.concatenate([column[keep], fresh[name]]) for name, column in self.data.items()
        }

    def follow(self) -> "Columns | None":
        """These columns brought up to date with the change log; None where they cannot be
        and must be read anew."""
        changed = facets.changes_since(self.seq, self.stamp)
        if changed is None:
            return None
        (self.seq, self.stamp), dataset_ids = changed
        if dataset_ids:
            self.reload(dataset_ids)
            if len(self.owners["subject"]) > REBUILD_GROWTH * max(self.first_subjects, 1000):
                return None  # numbers taken again and again by datasets reloaded many times
        return self

    # --- Reading ---------------------------------------------------------------------------

    def _coded(self, name: str, values: tuple[str, ...]) -> np.ndarray:
        known = [self.codes[name][v] for v in values if v in self.codes[name]]
        return np.isin(self.data[name], np.array(known, np.int32))

    def matching(self, criteria) -> np.ndarray:
        """Which entries meet the series and study criteria (a boolean per entry)."""
        data = self.data
        match = np.ones(len(data["dataset"]), bool)
        for name in ("modality", "body_part", "manufacturer", "model", "sex"):
            if values := getattr(criteria, name):
                match &= self._coded(name, values)
        ranges = (
            ("field_strength", criteria.field_strength_from, criteria.field_strength_to),
            ("slice_thickness", criteria.slice_thickness_from, criteria.slice_thickness_to),
            ("age", criteria.age_from, criteria.age_to),
            ("study_date", criteria.date_from, criteria.date_to),
        )
        for name, low, high in ranges:
            # NaN (unknown) fails every comparison, as NULL does in SQL.
            if low is not None:
                match &= data[name] >= _measure(low)
            if high is not None:
                match &= data[name] <= _measure(high)
        return match

    def counts(self, criteria) -> dict[int, tuple[int, int, int]]:
        """Dataset id -> exact (subjects, studies, series) with an entry meeting the criteria,
        for every dataset of the index (drafts included: the caller keeps the published)."""
        data = self.data
        match = self.matching(criteria)
        datasets = data["dataset"][match]
        if not datasets.size:
            return {}
        size = int(datasets.max()) + 1
        series = np.bincount(datasets, weights=data["series"][match], minlength=size)
        per = {}
        for kind in ("subject", "study"):
            owners = self.owner_arrays[kind]
            hit = np.zeros(len(owners), bool)
            hit[data[kind][match]] = True
            per[kind] = np.bincount(owners[hit], minlength=size)
        return {
            int(pk): (int(per["subject"][pk]), int(per["study"][pk]), int(series[pk]))
            for pk in np.flatnonzero(per["study"])
        }


_current: Columns | None = None  # None until read, and while read anew
_reading: threading.Thread | None = None


def _read_in_background() -> None:
    global _current, _reading
    try:
        columns = Columns.build()
        with lock:
            _current = columns
    finally:
        with lock:
            _reading = None
        connection.close()  # this thread's own connection


def counts(criteria) -> dict[int, tuple[int, int, int]] | None:
    """This process's columns, brought up to date, asked about ``criteria``. Where they must
    be read whole (the first question, or after a change of "anything"), a thread reads them
    and None is answered meanwhile: the caller asks the database, so no question waits
    seconds for them (with ``FEASIBILITY_MEMORY_BACKGROUND`` false they are read first)."""
    global _current, _reading
    with lock:
        if _current is not None:
            _current = _current.follow()
        if _current is None and not settings.FEASIBILITY_MEMORY_BACKGROUND:
            _current = Columns.build()
        if _current is not None:
            return _current.counts(criteria)
        if _reading is None:
            _reading = threading.Thread(
                target=_read_in_background, name="feasibility-columns", daemon=True
            )
            _reading.start()
        return None
