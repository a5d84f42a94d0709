"""The search index: which datasets carry each facet value, who may see them, and their orders.

Each worker process keeps the index in memory as bitsets (Python integers whose bit ``i``
stands for the dataset with id ``i``), so that a search needs no more of the database than its
free text, and counting a facet value is one ``&`` and one ``bit_count()``. Exact counts, not
estimates.

The index follows the database through the change log (:class:`CatalogueChange`): every service
that changes what search shows (a dataset's record, terms or status) appends the dataset's id in
its own transaction (:func:`datasets_changed`). Before each search the process reads the log
from the change it is at (one indexed query; one row when nothing changed) and reloads only the
datasets changed since, so a change, a draft's as any other, costs the next search a few small
queries rather than a rebuild. The whole index is built when a process first searches, when
the log no longer reaches back to where the process is, or when a change says "anything"
(:func:`bump_version`, for rows written behind the services' back).

Choices combine as people expect: a facet with chosen values is counted without its own choice,
every other facet counts the current results.
"""

import bisect
import heapq
import itertools
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery

from catalogue.models import CatalogueChange, CatalogueVersion, Dataset, DatasetTerm

TERM_FACETS = ["condition", "modality", "body_part", "access", "duo"]
FACETS = [*TERM_FACETS, "country", "node"]
# Orders the index keeps besides the title's, with each dataset's sort key.
NUMERIC_SORTS = ("newest", "subjects", "studies")
KEEP_CHANGES = 1000  # log entries kept; a process further behind rebuilds its index
RELOAD_AT_MOST = 200  # changed datasets reloaded one by one; more, and the index is rebuilt
TEXTS_KEPT = 32  # free-text searches whose matches an index keeps, least recently used out
AGES_KEPT = 150  # the datasets matching each age limit up to this are kept, once asked for

# A facet value and how many results carry it; a node's entry also carries the node's name.
type FacetEntry = tuple[str, int] | tuple[str, int, str]
type FacetCounts = dict[str, list[FacetEntry]]

_loads = itertools.count()
# The set bits of each byte value, for turning a bitset back into ids.
_BYTE_BITS = [tuple(i for i in range(8) if b >> i & 1) for b in range(256)]


def bits_of(ids: Iterable[int]) -> int:
    """The bitset of ``ids``."""
    data = bytearray()
    for pk in ids:
        byte = pk >> 3
        if byte >= len(data):
            data.extend(bytes(byte - len(data) + 1024))
        data[byte] |= 1 << (pk & 7)
    return int.from_bytes(data, "little")


def ids_of(bits: int) -> list[int]:
    """The ids whose bits are set, ascending."""
    data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
    return [n * 8 + i for n, byte in enumerate(data) if byte for i in _BYTE_BITS[byte]]


@dataclass(frozen=True)
class Record:
    """What the index holds of one dataset."""

    status: str
    node_id: int
    country: str
    title: str
    min_age: int | None
    max_age: int | None
    published_at: datetime | None
    subjects: int
    studies: int
    terms: frozenset[tuple[str, str]]  # (facet, value), the node and country included
    loaded: int  # which load of a record this is (a process's own count): names its state

    def sort_key(self, sort: str, pk: int) -> tuple[object, ...]:
        """Where the dataset ``pk`` goes in the order ``sort``; the key ends with the id."""
        if sort == "newest":  # most recently published first; never published last
            stamp = self.published_at.timestamp() if self.published_at else 0.0
            return (self.published_at is None, -stamp, -pk, pk)
        return (-(self.subjects if sort == "subjects" else self.studies), pk)


_FOLLOW = (
    f"SELECT seq, stamp, dataset_id FROM {CatalogueChange._meta.db_table} "  # noqa: S608
    "WHERE seq >= %s ORDER BY seq"
)
_FIELDS = ["pk", "status", "node_id", "node__country", "node__name", "title", "min_age",
           "max_age", "published_at", "number_of_subjects", "number_of_studies"]  # fmt: skip


def _age_matches(record: Record, kind: str, age: int) -> bool:
    if kind == "to":
        return record.min_age is None or record.min_age <= age
    return record.max_age is None or record.max_age >= age


@dataclass
class SearchIndex:
    """One process's index, at the change ``seq`` (stamped ``stamp``) of the log. Bitsets per
    facet value (``bits``), per status, of every dataset, and per age limit asked for; the
    datasets in title order (as the database orders titles) and in the other orders (by key).
    Memory grows with the number of datasets and the highest dataset id (a bit per id)."""

    seq: int = -1
    stamp: str = ""
    records: dict[int, Record] = field(default_factory=dict)
    bits: dict[str, dict[str, int]] = field(default_factory=lambda: {f: {} for f in FACETS})
    status_bits: dict[str, int] = field(default_factory=dict)
    all_bits: int = 0
    node_names: dict[str, str] = field(default_factory=dict)
    title_order: list[int] = field(default_factory=list)
    orders: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)  # sort → keys
    titles: list[tuple[str, int]] | None = None  # (title, id) in title order, when kept
    _positions: dict[str, dict[int, int]] = field(default_factory=dict)
    _order_ids: dict[str, list[int]] = field(default_factory=dict)
    _ages: dict[tuple[str, int], int] = field(default_factory=dict)
    # Free text → (rank of each matching dataset, their bitset), for the texts last asked; any
    # change of a dataset empties it (its text, and so what matches, may have changed).
    _texts: "OrderedDict[tuple[str, bool], tuple[dict[int, float], int]]" = field(
        default_factory=OrderedDict
    )

    # --- Building and following the log ---------------------------------------------------

    def _add(self, pk: int, record: Record) -> None:
        bit = 1 << pk
        self.records[pk] = record
        self.all_bits |= bit
        self.status_bits[record.status] = self.status_bits.get(record.status, 0) | bit
        for facet, value in record.terms:
            values = self.bits[facet]
            values[value] = values.get(value, 0) | bit
        for (kind, age), bits in self._ages.items():
            if _age_matches(record, kind, age):
                self._ages[kind, age] = bits | bit

    def _remove(self, pk: int) -> Record | None:
        record = self.records.pop(pk, None)
        if record is None:
            return None
        keep = ~(1 << pk)
        self.all_bits &= keep
        self.status_bits[record.status] &= keep
        for facet, value in record.terms:
            values = self.bits[facet]
            values[value] &= keep
            if not values[value]:
                del values[value]
        for key, bits in self._ages.items():
            self._ages[key] = bits & keep
        return record

    def _load(
        self, rows: Iterable[tuple], terms: Iterable[tuple[int, str, str]], *, whole: bool = False
    ) -> list[int]:
        """Add datasets from rows of ``_FIELDS`` and their terms; their ids, in row order.
        ``whole``: into an empty index, every bitset made once from its ids."""
        by_dataset: dict[int, set[tuple[str, str]]] = {}
        for dataset_id, facet, value in terms:
            by_dataset.setdefault(dataset_id, set()).add((facet, value))
        loaded = []
        for row in rows:
            pk, status, node_id, country, name, title, low, high, published, subjects, studies = row
            own = by_dataset.get(pk, set())
            own |= {("country", country), ("node", str(node_id))}
            self.node_names[str(node_id)] = name
            record = Record(
                status, node_id, country, title, low, high, published, subjects, studies,
                frozenset(own), next(_loads),
            )  # fmt: skip
            if whole:
                self.records[pk] = record
            else:
                self._add(pk, record)
            loaded.append(pk)
        if whole:
            ids: dict[tuple[str, str], list[int]] = {}
            for pk, record in self.records.items():
                ids.setdefault(("", record.status), []).append(pk)
                for term in record.terms:
                    ids.setdefault(term, []).append(pk)
            self.all_bits = bits_of(self.records)
            for (facet, value), members in ids.items():
                if facet:
                    self.bits[facet][value] = bits_of(members)
                else:
                    self.status_bits[value] = bits_of(members)
        return loaded

    @classmethod
    def build(cls) -> "SearchIndex":
        index = cls()
        index.seq, index.stamp = latest_change()
        rows = Dataset.objects.order_by("title", "pk").values_list(*_FIELDS)
        terms = DatasetTerm.objects.filter(facet__in=TERM_FACETS).values_list(
            "dataset_id", "facet", "value"
        )
        index.title_order = index._load(
            rows.iterator(chunk_size=5000), terms.iterator(chunk_size=20_000), whole=True
        )
        for sort in NUMERIC_SORTS:
            index.orders[sort] = sorted(r.sort_key(sort, pk) for pk, r in index.records.items())
        titles = sorted((r.title, pk) for pk, r in index.records.items())
        # Where the database orders titles by code point (collation "C", or SQLite's), a title
        # is placed here; otherwise the database is asked where each new title goes.
        index.titles = titles if [key[-1] for key in titles] == index.title_order else None
        return index

    def reload(self, ids: set[int]) -> None:
        """Bring the changed datasets ``ids`` up to date (their rows, terms and places)."""
        self._texts.clear()
        old = {pk: self._remove(pk) for pk in ids}
        rows = Dataset.objects.filter(pk__in=ids).values_list(*_FIELDS)
        terms = DatasetTerm.objects.filter(dataset__in=ids, facet__in=TERM_FACETS).values_list(
            "dataset_id", "facet", "value"
        )
        self._load(list(rows), terms)
        for sort in NUMERIC_SORTS:
            keys = self.orders[sort]
            for pk, record in old.items():
                if record is not None:
                    del keys[bisect.bisect_left(keys, record.sort_key(sort, pk))]
            for pk in ids:
                if pk in self.records:
                    bisect.insort(keys, self.records[pk].sort_key(sort, pk))
        moved = {
            pk
            for pk, record in old.items()
            if record is None or pk not in self.records or record.title != self.records[pk].title
        }
        if moved and self.titles is not None:
            for pk in moved:
                record = old[pk]
                if record is not None:
                    place = bisect.bisect_left(self.titles, (record.title, pk))
                    del self.titles[place], self.title_order[place]
                if pk in self.records:
                    key = (self.records[pk].title, pk)
                    place = bisect.bisect_left(self.titles, key)
                    self.titles.insert(place, key)
                    self.title_order.insert(place, pk)
        elif moved:
            self._place_titles(moved)
        self._positions.clear()
        self._order_ids.clear()

    def _place_titles(self, ids: set[int]) -> None:
        """Move the datasets ``ids`` (new, renamed or gone) to their places in the title order.
        The database compares titles (its collation decides): one query, with an indexed
        look-up per dataset for the title that follows it among the others."""
        title, pk_ = OuterRef("title"), OuterRef("pk")
        following = (
            Dataset.objects.filter(Q(title__gt=title) | Q(title=title, pk__gt=pk_))
            .exclude(pk__in=ids)
            .order_by("title", "pk")
            .values("pk")[:1]
        )
        places = (
            Dataset.objects.filter(pk__in=ids)
            .order_by("title", "pk")
            .annotate(following=Subquery(following))
            .values_list("pk", "following")
        )
        order = [pk for pk in self.title_order if pk not in ids]
        placed = set(order)
        for pk, after in places:
            if after is not None and after not in placed:
                # A dataset newer than this index's change: read the whole order instead.
                everything = Dataset.objects.order_by("title", "pk").values_list("pk", flat=True)
                self.title_order = [pk for pk in everything if pk in self.records]
                return
            # Datasets changed together follow each other in the order they are placed in.
            order.insert(order.index(after) if after is not None else len(order), pk)
            placed.add(pk)
        self.title_order = order

    def follow(self) -> "SearchIndex":
        """This index brought up to date with the log, or a new one where it cannot be."""
        changed = changes_since(self.seq, self.stamp)
        if changed is None:
            return SearchIndex.build()  # rolled back, pruned, never built, or "anything"
        (seq, stamp), ids = changed
        if not ids:
            return self
        if len(ids) > RELOAD_AT_MOST:
            return SearchIndex.build()
        self.reload(ids)
        self.seq, self.stamp = seq, stamp
        return self

    # --- Reading ---------------------------------------------------------------------------

    def age_bits(self, kind: str, age: int) -> int:
        """Datasets whose typical ages reach down to ``age`` (``kind`` "to") or up to it
        ("from"); a dataset that does not say is kept."""
        key = (kind, age)
        if key in self._ages:
            return self._ages[key]
        bits = bits_of(pk for pk, record in self.records.items() if _age_matches(record, kind, age))
        if 0 <= age <= AGES_KEPT:  # ages people ask for; any other is counted, not kept
            self._ages[key] = bits
        return bits

    def position(self, sort: str) -> dict[int, int]:
        """Each dataset's place in the order ``sort`` (or the title order)."""
        if sort not in self._positions:
            ids = self.order_ids(sort)
            self._positions[sort] = {pk: n for n, pk in enumerate(ids)}
        return self._positions[sort]

    def order_ids(self, sort: str) -> Sequence[int]:
        """The datasets in the order ``sort`` (or in title order)."""
        if sort not in self.orders:
            return self.title_order
        if sort not in self._order_ids:
            self._order_ids[sort] = [key[-1] for key in self.orders[sort]]  # type: ignore[misc]
        return self._order_ids[sort]

    def page(
        self, matches: int, total: int, sort: str, start: int, stop: int,
        ranks: dict[int, float] | None = None,
    ) -> list[int]:  # fmt: skip
        """The ids of results ``start`` to ``stop`` of the datasets ``matches`` in the order
        ``sort`` (by ``ranks``, best first, then title, when given)."""
        if stop <= start or not total:
            return []
        # Where the process serves requests in threads, the index may have moved on since the
        # matches were found: only datasets it still holds are placed.
        matches &= self.all_bits
        if ranks is not None:
            title = self.position("title")
            best = heapq.nsmallest(stop, ids_of(matches), key=lambda pk: (-ranks[pk], title[pk]))
            return best[start:stop]
        # Walk the order while the matches are dense; sort the matches when they are few.
        if stop * len(self.records) <= 2 * total * total:
            data = matches.to_bytes((matches.bit_length() + 7) // 8, "little")
            found = []
            for pk in self.order_ids(sort):
                if data[pk >> 3] >> (pk & 7) & 1 if pk >> 3 < len(data) else False:
                    found.append(pk)
                    if len(found) == stop:
                        break
            return found[start:]
        place = self.position(sort)
        return sorted(ids_of(matches), key=place.__getitem__)[start:stop]

    def count(self, candidates: int, choices: dict[str, list[str]]) -> tuple[FacetCounts, int]:
        """Facet counts among ``candidates`` (the datasets matching everything but the facet
        ``choices``), and the candidates that meet all choices (a bitset)."""
        chosen: dict[str, int] = {}
        for facet, values in choices.items():
            if values:
                bits = 0
                for value in values:
                    bits |= self.bits[facet].get(value, 0)
                chosen[facet] = bits

        def meeting(except_facet: str | None = None) -> int:
            result = candidates
            for facet, bits in chosen.items():
                if facet != except_facet:
                    result &= bits
            return result

        counts: FacetCounts = {}
        for facet in FACETS:
            pool = meeting(facet)
            entries: list[FacetEntry] = []
            for value, bits in self.bits[facet].items():
                n = (pool & bits).bit_count()
                if n:
                    entries.append(
                        (value, n, self.node_names[value]) if facet == "node" else (value, n)
                    )
            if facet == "node":
                entries.sort(key=lambda e: (self.node_names[e[0]], e[0]))
            else:
                entries.sort(key=lambda e: (-e[1], e[0]))
            counts[facet] = entries
        return counts, meeting()


# Held while a search reads the index (and while the index follows the log), so that one
# search sees one state even where a process serves requests in threads.
lock = threading.Lock()
_current = SearchIndex()


def text_matches(
    index: SearchIndex, text: str, *, ranked: bool, ask: Callable[[], dict[int, float]]
) -> tuple[dict[int, float], int]:
    """The datasets matching the free ``text`` (their rank, and their bitset), from what
    ``index`` kept since the catalogue last changed, else from ``ask()`` (the database), then
    kept (call holding :data:`lock`, with the index just brought up to date: a change committed
    meanwhile reaches the index at its next search, which empties what it kept)."""
    key = (text, ranked)
    found = index._texts.get(key)
    if found is not None:
        index._texts.move_to_end(key)
        return found
    ranks = ask()
    found = (ranks, bits_of(ranks))
    index._texts[key] = found
    if len(index._texts) > TEXTS_KEPT:
        index._texts.popitem(last=False)
    return found


def latest_change() -> tuple[int, str]:
    """The number and stamp of the latest change in the log ((-1, "") when there is none)."""
    latest = CatalogueChange.objects.order_by("-seq").values_list("seq", "stamp").first()
    return latest or (-1, "")


def changes_since(seq: int, stamp: str) -> tuple[tuple[int, str], set[int]] | None:
    """The latest change and the datasets changed since the change ``(seq, stamp)``; None
    when the log cannot tell (that change rolled back or pruned, or a change of "anything").
    Every reader of the log runs it before answering: one indexed query, no ORM to compile."""
    with connection.cursor() as cursor:
        cursor.execute(_FOLLOW, [max(seq, 0)])
        changes = cursor.fetchall()
    if not changes or changes[0][:2] != (seq, stamp):
        return None
    later = [c for c in changes if c[0] > seq]
    if not later:
        return (seq, stamp), set()
    ids = {c[2] for c in later}
    if None in ids:
        return None
    return (later[-1][0], later[-1][1]), ids


def current() -> SearchIndex:
    """This process's index, brought up to date first (call holding :data:`lock`)."""
    global _current
    _current = _current.follow()
    return _current


def _append(dataset_ids: Iterable[int] | None) -> None:
    with transaction.atomic():
        # The row lock numbers changes in the order they commit.
        version, _ = CatalogueVersion.objects.select_for_update().get_or_create(
            pk=1, defaults={"version": ""}
        )
        version.seq += 1
        version.version = uuid.uuid4().hex
        version.save(update_fields=["seq", "version"])
        ids: list[int | None] = [None]
        if dataset_ids is not None:
            wanted = sorted(set(dataset_ids))
            if len(wanted) <= RELOAD_AT_MOST:
                ids = list(wanted)
        CatalogueChange.objects.bulk_create(
            CatalogueChange(seq=version.seq, stamp=version.version, dataset_id=pk) for pk in ids
        )
        CatalogueChange.objects.filter(seq__lt=version.seq - KEEP_CHANGES).delete()


def datasets_changed(dataset_ids: Iterable[int]) -> None:
    """Tell every process's search index that these datasets changed (call inside the
    changing transaction: changes are numbered in the order they commit)."""
    _append(dataset_ids)


def bump_version() -> None:
    """Tell every process's search index that anything may have changed (rows written behind
    the services' back): each rebuilds its index at its next search."""
    _append(None)
