"""The public register through the API: anyone may read it, signed in or not. The entries are
those of the register's pages (``access/register.py`` decides what they hold)."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from access import selectors_register
from access.api.common import NOT_FOUND, AccessPagination
from access.forms_register import RegisterSearchForm
from access.register import entry
from portal.api_schema import ProblemOutput


class RegisterDatasetOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    node = serializers.CharField()
    uri = serializers.URLField(help_text="The dataset's DCAT IRI (HealthDCAT-AP export).")


class RegisterOutputOutput(serializers.Serializer):
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    title = serializers.CharField()
    reference = serializers.CharField(help_text="A DOI or a web address.")
    link = serializers.URLField()
    added_on = serializers.DateField()


class RegisterResultsOutput(serializers.Serializer):
    summary = serializers.CharField()
    reported_on = serializers.DateField()
    outputs = RegisterOutputOutput(many=True)


class RegisterPermitOutput(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    data_form = serializers.CharField()
    conditions = serializers.CharField()
    issued_on = serializers.DateField()
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    results_due_on = serializers.DateField()
    datasets = RegisterDatasetOutput(many=True)
    results = RegisterResultsOutput(allow_null=True)


class RegisterDecisionOutput(serializers.Serializer):
    decided_on = serializers.DateField()
    published_on = serializers.DateField()
    justification = serializers.CharField()
    permits = RegisterPermitOutput(many=True)


class RegisterEntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    lay_title = serializers.CharField()
    lay_summary = serializers.CharField()
    organisation = serializers.CharField()
    purpose = serializers.CharField()
    purpose_label = serializers.CharField()
    ai_use = serializers.CharField()
    ai_use_label = serializers.CharField()
    received_on = serializers.DateField()
    outcome = serializers.CharField()
    outcome_label = serializers.CharField()
    publication_due_on = serializers.DateField(
        required=False, help_text="While the decision waits for its notice: when it is due."
    )
    datasets = RegisterDatasetOutput(many=True)
    decision = RegisterDecisionOutput(allow_null=True)


PAST_THE_END = OpenApiResponse(ProblemOutput, description="A page past the last one.")

FILTERS = [
    OpenApiParameter("q", str, description="Words in the lay title, summary or organisation."),
    OpenApiParameter("purpose", str, description="An EHDS Art 53(1) purpose code."),
    OpenApiParameter("dataset", int, description="A dataset id."),
    OpenApiParameter("organisation", str, description="Part of the organisation's name."),
    OpenApiParameter("year", int, description="The year the application was received."),
    OpenApiParameter("outcome", str, description="assessing, decided, approved, …"),
]


class PublicApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []


class RegisterListApi(PublicApi):
    """The register's entries, newest first, filtered as on the register's page."""

    pagination_class = AccessPagination

    @extend_schema(
        parameters=FILTERS, responses={200: RegisterEntryOutput(many=True), 404: PAST_THE_END}
    )
    def get(self, request):
        form = RegisterSearchForm(
            request.query_params or None,
            datasets=selectors_register.register_datasets(),
            years=selectors_register.register_years(),
        )
        filters = form.filters() if request.query_params else selectors_register.RegisterFilters()
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors_register.register_entries(filters, detail=True), request, view=self
        )
        data = RegisterEntryOutput([entry(a) for a in page], many=True).data
        return paginator.get_paginated_response(data)


class RegisterEntryApi(PublicApi):
    @extend_schema(responses={200: RegisterEntryOutput, 404: NOT_FOUND})
    def get(self, request, pk):
        return Response(RegisterEntryOutput(entry(selectors_register.register_entry(pk))).data)
