"""Reads and access checks for the catalogue. One access function per object type.

Visibility: anyone sees published datasets; the operators of a node (and access-body
administrators) also see its drafts and retired datasets. Only a node's operators change it.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, overload

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import BooleanField, F, FloatField, Q, QuerySet, Value
from django.db.models.expressions import OrderBy, RawSQL
from django.http import Http404, QueryDict
from django.utils.translation import gettext as _

from access.node.deid.gate import MAX_MODALITY
from catalogue import duo, facets
from catalogue.facets import FacetCounts, FacetEntry, SearchIndex
from catalogue.models import BasketItem, Dataset, DatasetTerm, Node
from catalogue.params import Reader
from catalogue.vocabularies import COUNTRY_NAMES, AccessCondition
from portal.models import AnyUser, Role, User

if TYPE_CHECKING:
    # Django's Paginator is generic in django-stubs only, not at run time.
    _DatasetPaginator = Paginator[Dataset]
else:
    _DatasetPaginator = Paginator


def _is_admin(user: AnyUser) -> bool:
    return user.is_authenticated and user.has_role(Role.HDAB_ADMIN)


def visible_datasets(user: AnyUser) -> QuerySet[Dataset]:
    """Datasets ``user`` may see (anonymous visitors included)."""
    datasets = Dataset.objects.all()
    if _is_admin(user):
        return datasets
    published = Q(status=Dataset.Status.PUBLISHED)
    if user.is_authenticated and user.has_role(Role.NODE_OPERATOR):
        return datasets.filter(published | Q(node__in=Node.objects.filter(operators=user)))
    return datasets.filter(published)


def operated_nodes(user: AnyUser) -> QuerySet[Node]:
    if not (user.is_authenticated and user.has_role(Role.NODE_OPERATOR)):
        return Node.objects.none()
    return Node.objects.filter(operators=user)


def access_node(user: AnyUser, pk: int | str, *, for_write: bool = False) -> Node:
    """The node ``pk`` if ``user`` may see it (anyone) or change it (its operators); else 404."""
    nodes = operated_nodes(user) if for_write else Node.objects.all()
    try:
        return nodes.get(pk=pk)
    except (Node.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def access_dataset(user: AnyUser, pk: int | str, *, for_write: bool = False) -> Dataset:
    """The dataset ``pk`` if ``user`` may see it, or change it when ``for_write``; else 404.

    "Does not exist" and "not yours" are the same answer.
    """
    if for_write:
        datasets = Dataset.objects.filter(node__in=operated_nodes(user))
    else:
        datasets = visible_datasets(user)
    try:
        return datasets.select_related("node").get(pk=pk)
    except (Dataset.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


# --- Search ---------------------------------------------------------------------------------

# Each order's fields in SQL; relevance (empty) orders by rank, or by title when there is no
# text. Search pages follow the same orders from the search index (catalogue.facets).
SORTS: dict[str, tuple[str | OrderBy, ...]] = {
    "relevance": (),
    "title": ("title", "pk"),
    "newest": (F("published_at").desc(nulls_last=True), "-pk"),
    "subjects": ("-number_of_subjects", "pk"),
    "studies": ("-number_of_studies", "pk"),
}
FACETS = [f.value for f in DatasetTerm.Facet if f != DatasetTerm.Facet.KEYWORD]
# Matching and ranking read the stored vector of migration 0008 (GIN-indexed).
_TS_QUERY = "websearch_to_tsquery('simple'::regconfig, %s)"


@dataclass
class SearchQuery:
    """What a person asked the catalogue for: free text, facet values, ages and an order."""

    text: str = ""
    terms: dict[str, list[str]] = field(default_factory=dict)  # facet → values (any of)
    countries: list[str] = field(default_factory=list)
    nodes: list[int] = field(default_factory=list)
    age_from: int | None = None
    age_to: int | None = None
    sort: str = "relevance"


def _text_filter(datasets: QuerySet[Dataset], text: str) -> QuerySet[Dataset]:
    if connection.vendor == "postgresql":
        # Constant SQL; the text is a parameter.
        matches = RawSQL(f"search_vector @@ {_TS_QUERY}", [text], BooleanField())  # noqa: S611
        rank = RawSQL(f"ts_rank(search_vector, {_TS_QUERY})", [text], FloatField())  # noqa: S611
        return datasets.filter(matches).annotate(rank=rank)
    for word in text.split():
        datasets = datasets.filter(search_text__icontains=word)
    return datasets.annotate(rank=Value(0.0, output_field=FloatField()))


def search_datasets(user: AnyUser, query: SearchQuery) -> QuerySet[Dataset]:
    """Datasets visible to ``user`` matching ``query``, in the asked order, as one SQL query
    (search pages read the search index instead; :func:`search`)."""
    datasets = visible_datasets(user)
    if query.text.strip():
        datasets = _text_filter(datasets, query.text.strip())
    for facet, values in query.terms.items():
        if values:
            datasets = datasets.filter(
                pk__in=DatasetTerm.objects.filter(facet=facet, value__in=values).values("dataset")
            )
    if query.countries:
        datasets = datasets.filter(node__country__in=query.countries)
    if query.nodes:
        datasets = datasets.filter(node__in=query.nodes)
    if query.age_to is not None:
        datasets = datasets.filter(Q(min_age__isnull=True) | Q(min_age__lte=query.age_to))
    if query.age_from is not None:
        datasets = datasets.filter(Q(max_age__isnull=True) | Q(max_age__gte=query.age_from))
    order = SORTS.get(query.sort) or SORTS["title"]
    if query.sort == "relevance" and query.text.strip():
        order = ("-rank", "title", "pk")
    return datasets.select_related("node").order_by(*order)


def _text_matches(text: str, *, ranked: bool) -> dict[int, float]:
    """The datasets (any status) whose text matches ``text``, with their rank when ``ranked``
    (0 otherwise, and always on SQLite)."""
    if connection.vendor == "postgresql":
        rank = "ts_rank(search_vector, q)" if ranked else "0"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, {rank} FROM catalogue_dataset, {_TS_QUERY} AS q "  # noqa: S608
                "WHERE search_vector @@ q",
                [text],
            )
            return dict(cursor.fetchall())
    datasets = Dataset.objects.all()
    for word in text.split():
        datasets = datasets.filter(search_text__icontains=word)
    return dict.fromkeys(datasets.values_list("pk", flat=True), 0.0)


def _visible_bits(index: facets.SearchIndex, user: AnyUser, operated: list[int]) -> int:
    """The datasets of ``index`` that ``user`` may see (as :func:`visible_datasets`)."""
    if _is_admin(user):
        return index.all_bits
    bits = index.status_bits.get(Dataset.Status.PUBLISHED, 0)
    for node_id in operated:
        bits |= index.bits["node"].get(str(node_id), 0)
    return bits


class LazyResults[T](Sequence[T]):
    """``total`` results read a slice at a time through ``fetch(start, stop)``: a page costs
    what its own rows cost, whatever the number of results."""

    def __init__(self, total: int, fetch: Callable[[int, int], list[T]]) -> None:
        self._total, self._fetch = total, fetch

    def __len__(self) -> int:
        return self._total

    def count(self) -> int:  # type: ignore[override]
        return self._total

    @overload
    def __getitem__(self, item: int) -> T: ...
    @overload
    def __getitem__(self, item: slice) -> list[T]: ...
    def __getitem__(self, item: int | slice) -> T | list[T]:
        if isinstance(item, slice):
            start, stop, step = item.indices(self._total)
            return self._fetch(start, stop)[::step]
        position = item + self._total if item < 0 else item
        found = self._fetch(position, position + 1) if 0 <= position < self._total else []
        if not found:
            raise IndexError(item)
        return found[0]

    def __iter__(self) -> Iterator[T]:
        return iter(self._fetch(0, self._total))


def _operated_node_ids(user: AnyUser) -> list[int]:
    if _is_admin(user) or not (user.is_authenticated and user.has_role(Role.NODE_OPERATOR)):
        return []
    return list(Node.objects.filter(operators=user).values_list("pk", flat=True))


def _run(user: AnyUser, query: SearchQuery) -> "SearchResults":
    """A search through the search index: the database is asked only for the index's changes
    (catalogue.facets), the datasets matching the free text, and the page's rows."""
    text = query.text.strip()
    sort = query.sort if query.sort in SORTS else "relevance"
    ranked = sort == "relevance" and bool(text)
    operated = _operated_node_ids(user)
    ranks = None
    choices = {f: v for f, v in query.terms.items() if f in FACETS}
    choices["country"] = list(query.countries)
    choices["node"] = [str(n) for n in query.nodes]
    with facets.lock:
        index = facets.current()
        candidates = _visible_bits(index, user, operated)
        if text:
            ranks, text_bits = facets.text_matches(
                index, text, ranked=ranked, ask=lambda: _text_matches(text, ranked=ranked)
            )
            candidates &= text_bits
        if query.age_to is not None:
            candidates &= index.age_bits("to", query.age_to)
        if query.age_from is not None:
            candidates &= index.age_bits("from", query.age_from)
        counts, matches = index.count(candidates, choices)
    order = "title" if sort == "relevance" else sort
    rank = ranks if ranked else None
    return SearchResults(query, counts, matches.bit_count(), index, matches, order, rank)


def search_facets(user: AnyUser, query: SearchQuery) -> dict[str, list[FacetEntry] | int]:
    """Counts per facet value for a search; ``"total"`` holds the number of results."""
    results = _run(user, query)
    return {**results.facets, "total": results.total}


SEARCH_PAGE_SIZE = 20  # results per page, unless the API's caller asks for another size


TERM_LENGTH = 200  # characters of a dataset's term (DatasetTerm.value)


def parse_search(params: QueryDict) -> SearchQuery:
    """Read a search from query parameters (shared by the page and the API).

    A value that cannot be a filter is refused, never left out: ``ValidationError`` naming
    each such parameter (:mod:`catalogue.params`). Modalities are text of at most 16
    characters, cancer types and body parts of at most 200; access conditions, DUO codes and
    countries codes the catalogue knows, in any case; nodes ids; ages whole numbers not below
    zero, ``age_to`` not below ``age_from``; the order one of :data:`SORTS`. A value of these
    that no dataset has matches nothing. The free text is cut to 200 characters, and refused
    with a control character other than spacing.
    """
    read = Reader(params)
    age_from = read.number("age_from", whole=True)
    age_to = read.number("age_to", whole=True)
    read.ordered("age_from", age_from, "age_to", age_to)
    found = {
        "condition": read.texts("condition", limit=TERM_LENGTH),
        "modality": read.texts("modality", limit=MAX_MODALITY),
        "body_part": read.texts("body_part", limit=TERM_LENGTH),
        "access": read.codes("access", AccessCondition.values, what=_("an access condition")),
        "duo": read.codes("duo", duo.BY_CODE, what=_("a DUO code a dataset can carry")),
    }
    query = SearchQuery(
        text=read.free_text("q", cut=200),
        terms={facet: list(values) for facet, values in found.items() if values},
        countries=list(
            read.codes("country", COUNTRY_NAMES, what=_("a country code of the catalogue"))
        ),
        nodes=list(read.ids("node", what=_("a node id"))),
        age_from=None if age_from is None else int(age_from),
        age_to=None if age_to is None else int(age_to),
        sort=read.code("sort", SORTS, what=_("an order: %s") % ", ".join(SORTS), lower=True)
        or "relevance",
    )
    read.check()
    return query


class CountedPaginator(_DatasetPaginator):
    """A paginator told the number of results (the facet counting found it already)."""

    def __init__(self, object_list: Sequence[object], per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)  # type: ignore[arg-type]
        self._known_count = count

    @property
    def count(self) -> int:
        return self._known_count


@dataclass(frozen=True)
class SearchResults:
    """One search as the page and the API answer it: the query read from the parameters, the
    counts per facet value and the number of matches; the matches themselves, in order, are
    read a page at a time (:attr:`datasets`, :meth:`keys`)."""

    query: SearchQuery
    facets: FacetCounts
    total: int
    _index: SearchIndex
    _matches: int
    _order: str  # the order's name in the index ("title" for relevance without text)
    _ranks: dict[int, float] | None  # by relevance, best first, when given

    def _ids(self, start: int, stop: int) -> list[int]:
        with facets.lock:
            ids: list[int] = self._index.page(
                self._matches, self.total, self._order, start, stop, self._ranks
            )
        return ids

    def keys(self, start: int, stop: int) -> list[tuple[int, int]]:
        """The ids of results ``start`` to ``stop``, each with the index's name for the state
        of the dataset it holds (``Record.loaded``): a key for what is shown of it."""
        ids = self._ids(start, stop)
        records = self._index.records
        return [(pk, record.loaded) for pk in ids if (record := records.get(pk)) is not None]

    def _datasets(self, start: int, stop: int) -> list[Dataset]:
        ids = self._ids(start, stop)
        if not ids:
            return []
        rows = Dataset.objects.filter(pk__in=ids).select_related("node")
        by_pk = {d.pk: d for d in rows.defer("search_text", "search_vector")}
        return [by_pk[pk] for pk in ids if pk in by_pk]

    @property
    def datasets(self) -> LazyResults[Dataset]:
        """The matching datasets in order; each slice read costs one query."""
        return LazyResults(self.total, self._datasets)

    def paginator(self, per_page: int = SEARCH_PAGE_SIZE) -> CountedPaginator:
        """Pages of the matches; the number of matches is known, so it is not counted again."""
        return CountedPaginator(self.datasets, per_page, count=self.total)


def search(user: AnyUser, params: QueryDict) -> SearchResults:
    """The search the query parameters ``params`` ask for, over the datasets ``user`` may see."""
    return _run(user, parse_search(params))


def basket_datasets(user: User) -> QuerySet[Dataset]:
    """The datasets in ``user``'s basket that they can still see, oldest addition first."""
    return (
        visible_datasets(user)
        .filter(pk__in=BasketItem.objects.filter(user=user).values("dataset"))
        .select_related("node")
        .order_by("title")
    )


def basket_ids(user: AnyUser) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(BasketItem.objects.filter(user=user).values_list("dataset_id", flat=True))


@dataclass(frozen=True)
class BasketEntry:
    """A dataset of a basket, with the applications of its owner that already ask for it."""

    dataset: Dataset
    # Applications (access.models.Application: the catalogue does not import access for types).
    applications: tuple[object, ...] = ()


# Apps above the catalogue tell the basket what already asks for its datasets: each registers a
# function (user, dataset ids) → {dataset id: [applications, newest first]} (access does, for the
# applications a researcher filed). The catalogue imports none of them.
BasketClaims = Callable[[User, list[int]], Mapping[int, Sequence[object]]]
_BASKET_CLAIMS: list[BasketClaims] = []


def register_basket_claims(provider: BasketClaims) -> None:
    """Register a function telling which of a user's applications include which datasets."""
    if provider not in _BASKET_CLAIMS:
        _BASKET_CLAIMS.append(provider)


def basket_entries(user: User) -> list[BasketEntry]:
    """The datasets of ``basket_datasets(user)``, each with the applications ``user`` filed that
    include it and are not withdrawn, newest first: the basket does not push "Apply" for those.
    A fixed number of queries, however many datasets and applications."""
    datasets = list(basket_datasets(user))
    applications: dict[int, list[object]] = {}
    if datasets:
        for provider in _BASKET_CLAIMS:
            for dataset_id, claims in provider(user, [d.pk for d in datasets]).items():
                applications.setdefault(dataset_id, []).extend(claims)
    return [BasketEntry(d, tuple(applications.get(d.pk, ()))) for d in datasets]
