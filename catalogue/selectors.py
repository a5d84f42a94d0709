"""Reads and access checks for the catalogue. One access function per object type.

Visibility: anyone sees published datasets; the operators of a node (and access-body
administrators) also see its drafts and retired datasets. Only a node's operators change it.
"""

from dataclasses import dataclass, field, replace

from django.db import connection
from django.db.models import F, FloatField, Q, QuerySet, Value
from django.http import Http404

from catalogue.models import BasketItem, Dataset, DatasetTerm, Node
from portal.models import Role


def _is_admin(user) -> bool:
    return user.is_authenticated and user.has_role(Role.HDAB_ADMIN)


def visible_datasets(user) -> QuerySet[Dataset]:
    """Datasets ``user`` may see (anonymous visitors included)."""
    datasets = Dataset.objects.all()
    if _is_admin(user):
        return datasets
    published = Q(status=Dataset.Status.PUBLISHED)
    if user.is_authenticated and user.has_role(Role.NODE_OPERATOR):
        return datasets.filter(published | Q(node__in=Node.objects.filter(operators=user)))
    return datasets.filter(published)


def operated_nodes(user) -> QuerySet[Node]:
    if not (user.is_authenticated and user.has_role(Role.NODE_OPERATOR)):
        return Node.objects.none()
    return Node.objects.filter(operators=user)


def access_node(user, pk, *, for_write: bool = False) -> Node:
    """The node ``pk`` if ``user`` may see it (anyone) or change it (its operators); else 404."""
    nodes = operated_nodes(user) if for_write else Node.objects.all()
    try:
        return nodes.get(pk=pk)
    except (Node.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def access_dataset(user, pk, *, for_write: bool = False) -> Dataset:
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

SORTS = {
    "relevance": None,
    "title": ("title", "pk"),
    "newest": ("-published_at", "-pk"),
    "subjects": ("-number_of_subjects", "pk"),
    "studies": ("-number_of_studies", "pk"),
}
FACETS = [f.value for f in DatasetTerm.Facet if f != DatasetTerm.Facet.KEYWORD]


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
        # The same expression as the GIN index of migration 0002, so the index is used.
        from django.contrib.postgres.search import SearchQuery as TsQuery
        from django.contrib.postgres.search import SearchRank, SearchVector

        tsquery = TsQuery(text, config="simple", search_type="websearch")
        return (
            datasets.annotate(document=SearchVector("search_text", config="simple"))
            .filter(document=tsquery)
            .annotate(rank=SearchRank(F("document"), tsquery))
        )
    for word in text.split():
        datasets = datasets.filter(search_text__icontains=word)
    return datasets.annotate(rank=Value(0.0, output_field=FloatField()))


def search_datasets(user, query: SearchQuery) -> QuerySet[Dataset]:
    """Datasets visible to ``user`` matching ``query``, in the asked order."""
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


def search_facets(user, query: SearchQuery) -> dict[str, list[tuple]]:
    """Facet counts for a search, the way people expect to combine values.

    A facet where values are chosen is counted without its own choice (its other values stay
    visible with the number of results each would add); every other facet counts the current
    results. All of it is one SQL statement: the datasets matching everything but the facet
    choices are flagged once with which choices they meet, then terms, countries and nodes are
    counted from those flags.
    """
    base = search_datasets(user, replace(query, terms={}, countries=[], nodes=[]))
    base_sql, base_params = base.order_by().values("pk").query.sql_with_params()
    chosen = {f: v for f, v in query.terms.items() if v and f in FACETS}
    dataset, node, term = Dataset._meta.db_table, Node._meta.db_table, DatasetTerm._meta.db_table

    flag_sql, flag_params = [], []
    for facet, values in chosen.items():
        marks = ", ".join(["%s"] * len(values))
        # facet is one of FACETS (an identifier of ours); the values are parameters.
        exists = f"SELECT 1 FROM {term} s WHERE s.dataset_id = d.id AND s.facet = %s"  # noqa: S608
        flag_sql.append(f"EXISTS ({exists} AND s.value IN ({marks})) AS f_{facet}")
        flag_params += [facet, *values]
    if query.countries:
        flag_sql.append(f"n.country IN ({', '.join(['%s'] * len(query.countries))}) AS f_country")
        flag_params += list(query.countries)
    if query.nodes:
        flag_sql.append(f"d.node_id IN ({', '.join(['%s'] * len(query.nodes))}) AS f_node")
        flag_params += list(query.nodes)
    flags = [f"f_{f}" for f in chosen] + ["f_country"] * bool(query.countries)
    flags += ["f_node"] * bool(query.nodes)

    def all_but(flag: str) -> str:
        others = [f for f in flags if f != flag]
        return " AND ".join(others) if others else "1 = 1"

    term_condition = " OR ".join(
        f"(t.facet = '{facet}' AND {all_but(f'f_{facet}')})" for facet in FACETS
    )
    # Only table names, facet names from FACETS and placeholders are formatted in.
    sql = f"""
        WITH flags AS (
            SELECT d.id, d.node_id, n.country, n.name{"".join(", " + f for f in flag_sql)}
            FROM {dataset} d JOIN {node} n ON n.id = d.node_id
            WHERE d.id IN ({base_sql})
        )
        SELECT t.facet, t.value, '', COUNT(*) FROM {term} t JOIN flags ON flags.id = t.dataset_id
        WHERE {term_condition}
        GROUP BY t.facet, t.value
        UNION ALL
        SELECT 'country', country, '', COUNT(*) FROM flags WHERE {all_but("f_country")}
        GROUP BY country
        UNION ALL
        SELECT 'node', CAST(node_id AS VARCHAR(20)), MIN(name), COUNT(*) FROM flags
        WHERE {all_but("f_node")} GROUP BY node_id
    """  # noqa: S608
    counts: dict[str, list[tuple]] = {facet: [] for facet in [*FACETS, "country", "node"]}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*flag_params, *base_params])
        rows = cursor.fetchall()
    for facet, value, label, n in rows:
        counts[facet].append((value, n, label) if facet == "node" else (value, n))
    for facet, entries in counts.items():
        if facet == "node":
            entries.sort(key=lambda e: e[2])
        else:
            entries.sort(key=lambda e: (-e[1], e[0]))
    return counts


def basket_datasets(user) -> QuerySet[Dataset]:
    """The datasets in ``user``'s basket that they can still see, oldest addition first."""
    return (
        visible_datasets(user)
        .filter(pk__in=BasketItem.objects.filter(user=user).values("dataset"))
        .select_related("node")
        .order_by("title")
    )


def basket_ids(user) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(BasketItem.objects.filter(user=user).values_list("dataset_id", flat=True))
