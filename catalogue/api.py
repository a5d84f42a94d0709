"""The catalogue's JSON API: search with facets, dataset details, the basket, DICOM upload.

Same access checks as the pages (catalogue.selectors); 404 for anything not visible.
"""

from functools import partial

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import InvalidPage
from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from catalogue import dcat, feasibility, ingest, selectors, services
from catalogue.models import Dataset
from catalogue.vocabularies import CollectionMethod, InteroperabilityLevel
from portal.api_schema import DetailOutput
from portal.ids import IdField
from portal.models import Role


class NodeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    organisation = serializers.CharField()
    country = serializers.CharField()


class DatasetSerializer(serializers.ModelSerializer):
    node = NodeSerializer()
    url = serializers.SerializerMethodField()
    export_warnings = serializers.SerializerMethodField(
        help_text="Values the DCAT export cannot code for EUCAIM, each named (for the node "
        "operator to fix); empty when there is nothing to fix."
    )

    class Meta:
        model = Dataset
        fields = [
            "id", "identifier", "url", "title", "description", "status", "node", "keywords",
            "conditions", "modalities", "body_parts", "health_categories", "access_rights",
            "access_conditions", "duo_codes", "number_of_subjects", "number_of_studies",
            "number_of_series", "number_of_instances", "min_age", "max_age", "sexes",
            "temporal_start", "temporal_end", "publisher_name", "contact_name",
            "contact_email", "licence", "version", "applicable_legislation", "published_at",
            "modified_at", "interoperability_level", "collection_methods", "manufacturers",
            "export_warnings",
        ]  # fmt: skip

    def get_export_warnings(self, obj) -> list[str]:
        return dcat.uncoded_values(obj)

    def get_url(self, obj) -> str:
        request = self.context.get("request")
        path = f"/catalogue/datasets/{obj.pk}/"
        return request.build_absolute_uri(path) if request else path


class SearchPagination(PageNumberPagination):
    page_size = selectors.SEARCH_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = 100


NOT_NEGATIVE = {"type": "number", "minimum": 0}
YEARS = {"type": "integer", "minimum": 0}
SEARCH_PARAMETERS = [
    OpenApiParameter("q", str, description="Free text"),
    OpenApiParameter("condition", str, many=True),
    OpenApiParameter("modality", str, many=True),
    OpenApiParameter("body_part", str, many=True),
    OpenApiParameter("access", str, many=True, description="Access conditions"),
    OpenApiParameter("duo", str, many=True, description="DUO codes, e.g. DUO:0000042"),
    OpenApiParameter("country", str, many=True, description="ISO 3166-1 alpha-2"),
    OpenApiParameter("node", int, many=True),
    OpenApiParameter("age_from", YEARS),
    OpenApiParameter("age_to", YEARS, description="Not below age_from"),
    OpenApiParameter("sort", str, enum=list(selectors.SORTS)),
    OpenApiParameter("page", int, description="A page number (from 1)"),
    OpenApiParameter("page_size", int, description="Results per page (at most 100, 20 by default)"),
]


class FacetValueOutput(serializers.Serializer):
    value = serializers.CharField()
    count = serializers.IntegerField(help_text="Matching datasets with this value.")
    label = serializers.CharField(required=False, help_text="The node's name (node facet only).")


# One list of values with their counts per facet of the search page.
FacetsOutput = type(
    "FacetsOutput",
    (serializers.Serializer,),
    {facet: FacetValueOutput(many=True) for facet in [*selectors.FACETS, "country", "node"]},
)


class DatasetSearchOutput(serializers.Serializer):
    """A page of results, with the counts per facet value over all results."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = DatasetSerializer(many=True)
    facets = FacetsOutput()


REFUSED_CRITERIA = (
    "A value that cannot be a criterion (not a number, not a date, a code the catalogue "
    "cannot hold, a range ending below its start): `errors` names each such parameter → "
    "messages. Nothing is answered with a criterion left out."
)


class DatasetSearchApi(APIView):
    """Search the datasets visible to the caller, with counts per facet value."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="catalogue_datasets_list",
        parameters=SEARCH_PARAMETERS,
        responses={
            200: DatasetSearchOutput,
            400: OpenApiResponse(DetailOutput, description=REFUSED_CRITERIA),
            404: OpenApiResponse(DetailOutput, description="A page past the last one."),
        },
    )
    def get(self, request):
        results = selectors.search(request.user, request.query_params)
        paginator = SearchPagination()
        paginator.django_paginator_class = partial(selectors.CountedPaginator, count=results.total)
        page = paginator.paginate_queryset(results.datasets, request, view=self)
        response = paginator.get_paginated_response(
            DatasetSerializer(page, many=True, context={"request": request}).data
        )
        response.data["facets"] = {
            facet: [
                {"value": e[0], "count": e[1], **({"label": e[2]} if len(e) > 2 else {})}
                for e in entries
            ]
            for facet, entries in results.facets.items()
        }
        return response


class EucaimInput(serializers.Serializer):
    """The EUCAIM properties a node operator sets (the manufacturers come from the index)."""

    interoperability_level = serializers.ChoiceField(
        choices=InteroperabilityLevel.choices, required=False
    )
    collection_methods = serializers.ListField(
        child=serializers.ChoiceField(choices=CollectionMethod.choices),
        allow_empty=False,
        required=False,
    )


class DatasetDetailApi(APIView):
    """A dataset as its page shows it; its node's operators set its EUCAIM properties."""

    def get_permissions(self):
        return [AllowAny()] if self.request.method in ("GET", "HEAD") else [IsAuthenticated()]

    @extend_schema(responses=DatasetSerializer)
    def get(self, request, pk):
        dataset = selectors.access_dataset(request.user, pk)
        return Response(DatasetSerializer(dataset, context={"request": request}).data)

    @extend_schema(
        request=EucaimInput,
        responses={
            200: DatasetSerializer,
            404: OpenApiResponse(DetailOutput, description="Not a dataset of a node you operate."),
        },
    )
    def patch(self, request, pk):
        dataset = selectors.access_dataset(request.user, pk, for_write=True)
        data = EucaimInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            dataset = services.dataset_update(
                dataset=dataset, actor=request.user, **data.validated_data
            )
        except DjangoValidationError as error:
            raise exceptions.ValidationError(error.message_dict) from None
        return Response(DatasetSerializer(dataset, context={"request": request}).data)


def _require_researcher(user):
    if not user.has_role(Role.RESEARCHER):
        raise Http404


class BasketInput(serializers.Serializer):
    dataset = IdField()


NOT_A_RESEARCHER = OpenApiResponse(
    DetailOutput, description="Not a researcher; or (adding) no such published dataset."
)


class BasketApi(APIView):
    """The caller's basket (researchers only)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: DatasetSerializer(many=True), 404: NOT_A_RESEARCHER})
    def get(self, request):
        _require_researcher(request.user)
        datasets = selectors.basket_datasets(request.user)
        return Response(DatasetSerializer(datasets, many=True, context={"request": request}).data)

    @extend_schema(
        request=BasketInput,
        responses={
            200: OpenApiResponse(
                DatasetSerializer(many=True), description="Already in the basket: the basket."
            ),
            201: OpenApiResponse(DatasetSerializer(many=True), description="Added: the basket."),
            404: NOT_A_RESEARCHER,
        },
    )
    def post(self, request):
        _require_researcher(request.user)
        data = BasketInput(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = selectors.access_dataset(request.user, data.validated_data["dataset"])
        if dataset.status != Dataset.Status.PUBLISHED:
            raise Http404
        created = services.basket_add(user=request.user, dataset=dataset)
        datasets = selectors.basket_datasets(request.user)
        return Response(
            DatasetSerializer(datasets, many=True, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class BasketItemApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        _require_researcher(request.user)
        if not services.basket_remove(user=request.user, dataset_id=pk):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)


class FeasibilityCountOutput(serializers.Serializer):
    count = serializers.IntegerField(
        allow_null=True, help_text="Rounded to FEASIBILITY_ROUNDING; null when suppressed."
    )
    suppressed = serializers.BooleanField(
        help_text="True when the exact count is below FEASIBILITY_MIN_COUNT."
    )


class FeasibilityCellsOutput(serializers.Serializer):
    subjects = FeasibilityCountOutput()
    studies = FeasibilityCountOutput()
    series = FeasibilityCountOutput()


class FeasibilityDatasetOutput(FeasibilityCellsOutput):
    id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField()


class FeasibilityNodeOutput(FeasibilityCellsOutput):
    id = serializers.IntegerField()
    name = serializers.CharField()
    country = serializers.CharField()
    datasets = FeasibilityDatasetOutput(many=True)


class FeasibilityOutput(serializers.Serializer):
    minimum_count = serializers.IntegerField(help_text="Counts below this are suppressed.")
    rounding = serializers.IntegerField(help_text="Shown counts are multiples of this.")
    total = FeasibilityCellsOutput()
    datasets_matched = serializers.IntegerField(help_text="Matching datasets, on every page.")
    page = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    nodes = FeasibilityNodeOutput(
        many=True,
        help_text="The nodes of this page's datasets; a node's counts cover all its datasets.",
    )
    apply_url = serializers.CharField(
        help_text="Add the datasets to the basket (POST basket/), then apply from this page."
    )


def _cells(cells: feasibility.Cells) -> dict:
    return {
        name: {"count": c.value, "suppressed": c.suppressed}
        for name, c in (
            ("subjects", cells.subjects),
            ("studies", cells.studies),
            ("series", cells.series),
        )
    }


def _page_url(request, number: int) -> str:
    params = request.query_params.copy()
    params["page"] = str(number)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


NOT_A_RESEARCHER_NOR_ACCESS_BODY = OpenApiResponse(
    DetailOutput, description="Neither a researcher nor the access body, or no such page."
)


class FeasibilityApi(APIView):
    """Subjects, studies and series of published datasets matching criteria, per node and
    dataset (researchers and the access body). Small counts suppressed, all counts rounded.
    Dataset rows come a page at a time; total and node counts always cover every dataset.
    A criterion that cannot be read is refused (400), never left out of the counts."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="catalogue_feasibility",
        parameters=[
            OpenApiParameter("modality", str, many=True, description="DICOM modality, e.g. MR"),
            OpenApiParameter("body_part", str, many=True, description="DICOM body part"),
            OpenApiParameter("manufacturer", str, many=True, description="DICOM Manufacturer"),
            OpenApiParameter("model", str, many=True, description="Manufacturer's model name"),
            OpenApiParameter("field_strength_from", NOT_NEGATIVE, description="Tesla"),
            OpenApiParameter("field_strength_to", NOT_NEGATIVE, description="Tesla"),
            OpenApiParameter("slice_thickness_from", NOT_NEGATIVE, description="Millimetres"),
            OpenApiParameter("slice_thickness_to", NOT_NEGATIVE, description="Millimetres"),
            OpenApiParameter("study_date_from", OpenApiTypes.DATE),
            OpenApiParameter("study_date_to", OpenApiTypes.DATE),
            OpenApiParameter("age_from", YEARS, description="Age at the study, in years"),
            OpenApiParameter("age_to", YEARS, description="Age at the study, in years"),
            OpenApiParameter("sex", str, many=True, enum=list(feasibility.SEXES)),
            OpenApiParameter("condition", str, many=True),
            OpenApiParameter("access", str, many=True, description="Access conditions"),
            OpenApiParameter("duo", str, many=True, description="DUO codes"),
            OpenApiParameter("country", str, many=True, description="ISO 3166-1 alpha-2"),
            OpenApiParameter("node", int, many=True),
            OpenApiParameter("page", int, description="A page of dataset rows (from 1)"),
        ],
        responses={
            200: FeasibilityOutput,
            400: OpenApiResponse(DetailOutput, description=REFUSED_CRITERIA),
            404: NOT_A_RESEARCHER_NOR_ACCESS_BODY,
        },
    )
    def get(self, request):
        if not (request.user.has_role(Role.RESEARCHER) or request.user.has_role(Role.HDAB_ADMIN)):
            raise Http404
        try:
            answer = feasibility.count(
                feasibility.parse(request.query_params),
                request.query_params.get("page", 1),
                strict=True,
            )
        except InvalidPage as error:
            raise Http404 from error
        page = answer.page
        return Response(
            {
                "minimum_count": answer.minimum,
                "rounding": answer.rounding,
                "total": _cells(answer.total),
                "datasets_matched": page.paginator.count,
                "page": page.number,
                "next": _page_url(request, page.next_page_number()) if page.has_next() else None,
                "previous": _page_url(request, page.previous_page_number())
                if page.has_previous()
                else None,
                "nodes": [
                    {
                        "id": node.node_id,
                        "name": node.name,
                        "country": node.country,
                        **_cells(node.cells),
                        "datasets": [
                            {
                                "id": row.dataset_id,
                                "title": row.title,
                                "url": request.build_absolute_uri(
                                    reverse("catalogue:dataset_detail", args=[row.dataset_id])
                                ),
                                **_cells(row.cells),
                            }
                            for row in node.datasets
                        ],
                    }
                    for node in answer.nodes
                ],
                "apply_url": request.build_absolute_uri(reverse("catalogue:basket")),
            }
        )


class IngestReportSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    already_indexed = serializers.IntegerField()
    refused = serializers.ListField(child=serializers.DictField())
    unreadable = serializers.ListField(child=serializers.DictField())
    dataset = DatasetSerializer()


class DatasetIngestApi(APIView):
    """Upload DICOM files (multipart field ``files``) into a dataset of the caller's node."""

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}},
        responses=IngestReportSerializer)  # fmt: skip
    def post(self, request, pk):
        dataset = selectors.access_dataset(request.user, pk, for_write=True)
        uploads = request.FILES.getlist("files")
        if not uploads:
            raise exceptions.ValidationError(
                {"files": ["Upload at least one DICOM file in the field 'files'."]}
            )
        report = ingest.dataset_ingest_uploads(dataset=dataset, uploads=uploads, actor=request.user)
        names = report.display_names
        return Response(
            {
                "accepted": len(report.accepted),
                "already_indexed": report.already_indexed,
                "refused": [
                    {"file": names.get(str(p), str(p)), "reason": r} for p, r in report.refused
                ],
                "unreadable": [
                    {"file": names.get(str(p), str(p)), "reason": r} for p, r in report.unreadable
                ],
                "dataset": DatasetSerializer(report.dataset, context={"request": request}).data,
            }
        )
