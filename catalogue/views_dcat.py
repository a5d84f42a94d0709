"""The catalogue in HealthDCAT-AP, as Turtle and JSON-LD.

The catalogue export is public and lists the published datasets only; a dataset's own export
follows the dataset's visibility (its node's operators also get its drafts), and is 404 otherwise.
A dataset whose stored description cannot be exported (``dcat.NotExportable``, logged by the
exporter) is left out of the catalogue and its own export answers 404.
"""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from catalogue import dcat
from catalogue.selectors import access_dataset, visible_datasets

TURTLE = "text/turtle; charset=utf-8"
JSONLD = "application/ld+json"
CATALOGUE_MAX_AGE = 300


def _render(graph, fmt: str) -> HttpResponse:
    if fmt == "jsonld":
        return HttpResponse(dcat.to_jsonld(graph), content_type=JSONLD)
    return HttpResponse(dcat.to_turtle(graph), content_type=TURTLE)


def _catalogue(request, fmt: str) -> HttpResponse:
    # Anonymous on purpose: the same public document for everyone, so it can be cached.
    datasets = visible_datasets(AnonymousUser()).select_related("node").order_by("pk")
    graph = dcat.catalogue_graph(datasets, base_url=settings.SITE_URL)
    response = _render(graph, fmt)
    patch_cache_control(response, public=True, max_age=CATALOGUE_MAX_AGE)
    return response


def _dataset(request, pk: int, fmt: str) -> HttpResponse:
    dataset = access_dataset(request.user, pk)
    try:
        graph = dcat.dataset_graph(dataset, base_url=settings.SITE_URL)
    except dcat.NotExportable:
        raise Http404 from None
    response = _render(graph, fmt)
    # Drafts are visible to their node's operators only: never in a shared cache.
    patch_cache_control(response, private=True, no_cache=True)
    return response


@require_safe
def catalogue_ttl(request):
    return _catalogue(request, "ttl")


@require_safe
def catalogue_jsonld(request):
    return _catalogue(request, "jsonld")


@require_safe
def dataset_ttl(request, pk: int):
    return _dataset(request, pk, "ttl")


@require_safe
def dataset_jsonld(request, pk: int):
    return _dataset(request, pk, "jsonld")
