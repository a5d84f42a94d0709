"""What the search page shows, worked out cheaply: the filters written once per page, and each
result's summary rendered once per state of the dataset (per process and language) and then
reused by every search that shows it, so that a search page reads no dataset rows unless one of
its results changed (``catalogue.facets`` names each dataset's state: ``Record.loaded``)."""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from html import escape
from typing import Any

from django.contrib.humanize.templatetags.humanize import intcomma
from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.formats import get_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from catalogue import duo, selectors
from catalogue.facets import FacetCounts
from catalogue.models import Dataset
from catalogue.vocabularies import COUNTRY_NAMES, AccessCondition, Modality

FACET_LABELS = {
    "condition": gettext_lazy("Cancer type"),
    "modality": gettext_lazy("Modality"),
    "body_part": gettext_lazy("Body part"),
    "access": gettext_lazy("Access conditions"),
    "duo": gettext_lazy("Data-use conditions"),
    "country": gettext_lazy("Country"),
    "node": gettext_lazy("Node"),
}
VALUE_LABELS = {
    "modality": dict(Modality.choices),
    "access": dict(AccessCondition.choices),
    "duo": {code: duo.label(code) for code in duo.BY_CODE},
    "country": COUNTRY_NAMES,
}
SORT_CHOICES = [
    ("relevance", gettext_lazy("Relevance")),
    ("title", gettext_lazy("Title")),
    ("newest", gettext_lazy("Newest")),
    ("subjects", gettext_lazy("Most subjects")),
    ("studies", gettext_lazy("Most studies")),
]
ROWS_KEPT = 5000  # rendered results kept per process


class Numbers:
    """Counts written as the intcomma filter writes them, the separator looked up once per
    page rather than once per number."""

    def __init__(self) -> None:
        grouping = get_format("NUMBER_GROUPING")
        self.separator = get_format("THOUSAND_SEPARATOR") if grouping == 3 else None

    def __call__(self, n: int) -> str:
        if -1000 < n < 1000:
            return str(n)
        if self.separator is None:  # a grouping other than by thousands
            return intcomma(n)
        return f"{n:,}".replace(",", self.separator)


# One filter of the search page: a checkbox of the search form (the form attribute ties it to
# the form, so that the result list with its own basket forms is not nested inside it).
FACET_OPTION = (
    '<label class="facet-option"><input type="checkbox" form="search-form" name="{}" '
    'value="{}"{}>\n              {} <span class="count">({})</span></label>'
)


def facet_groups(counts: FacetCounts, params: QueryDict) -> list[dict[str, object]]:
    """The filters beside the results. The options are written here, a few dozen of them on
    every search, rather than by the template engine's loop, which costs several times more
    (every value escaped)."""
    number = Numbers()
    groups: list[dict[str, object]] = []
    for facet in [*selectors.FACETS, "country", "node"]:
        selected = set(params.getlist(facet))
        labels = VALUE_LABELS.get(facet, {})
        options = []
        for entry in counts.get(facet, []):
            value, n = entry[0], entry[1]
            label = entry[2] if len(entry) > 2 else labels.get(value, value)
            checked = " checked" if value in selected else ""
            options.append(
                FACET_OPTION.format(facet, escape(value), checked, escape(str(label)), number(n))
            )
        if options:
            html = "\n".join(options)  # every value in it escaped above
            groups.append({"label": str(FACET_LABELS[facet]), "options": mark_safe(html)})  # noqa: S308
    return groups


@dataclass(frozen=True)
class ResultRow:
    """One result as the list shows it: its summary (HTML), and what the basket button needs."""

    pk: int
    title: str
    published: bool
    html: SafeString


_rows: OrderedDict[tuple[int, int, str], ResultRow] = OrderedDict()
_rows_lock = threading.Lock()
_FIELDS = ["pk", "title", "description", "status", "number_of_subjects", "number_of_studies",
           "modalities", "node__name", "node__country"]  # fmt: skip


def _render(values: dict[str, Any], number: Numbers) -> ResultRow:
    published = values["status"] == Dataset.Status.PUBLISHED
    country = values["node__country"]
    html = render_to_string(
        "catalogue/_search_result.html",
        {
            "title": values["title"],
            "url": reverse("catalogue:dataset_detail", args=[values["pk"]]),
            "status": "" if published else Dataset.Status(values["status"]).label,
            "node": values["node__name"],
            "country": COUNTRY_NAMES.get(country, country),
            "counts": _("%(s)s subjects, %(st)s studies")
            % {
                "s": number(values["number_of_subjects"]),
                "st": number(values["number_of_studies"]),
            },
            "modalities": ", ".join(values["modalities"]),
            "summary": Truncator(values["description"]).words(40),
        },
    )
    # The template escaped every value.
    return ResultRow(values["pk"], values["title"], published, mark_safe(html.strip()))  # noqa: S308


def result_rows(keys: list[tuple[int, int]]) -> list[ResultRow]:
    """The rows of the results ``keys`` ((id, state) pairs, in order): the rendered ones
    reused, the others read (one query for them all) and rendered."""
    language = get_language() or ""
    with _rows_lock:
        found = {pk: _rows.get((pk, loaded, language)) for pk, loaded in keys}
    missing = [pk for pk, row in found.items() if row is None]
    if missing:
        number = Numbers()
        rows = Dataset.objects.filter(pk__in=missing).values(*_FIELDS)
        fresh = {values["pk"]: _render(values, number) for values in rows}
        found.update(fresh)
        with _rows_lock:
            for pk, loaded in keys:
                if pk in fresh:
                    _rows[(pk, loaded, language)] = fresh[pk]
            while len(_rows) > ROWS_KEPT:
                _rows.popitem(last=False)
    return [row for pk, _loaded in keys if (row := found.get(pk)) is not None]


class ResultRows(selectors.LazyResults[ResultRow]):
    """The results of a search as rows of the result list, read a page at a time."""

    def __init__(self, results: selectors.SearchResults) -> None:
        super().__init__(results.total, lambda start, stop: result_rows(results.keys(start, stop)))
