"""A permit's results through the API (EHDS Art 61(4)): its holder reads and records the summary
for the public and the outputs released (publications, software, models), as on the permit's
results page. Anyone else gets 404. The register shows them once both are there
(``access/register.py``); the services decide, record and audit (``access.services.register``).
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from access import services
from access.api.common import NOT_FOUND, AccessApi, _valid, answers
from access.clocks import results_due
from access.models import Permit, ResultOutput
from access.selectors_register import access_permit_results, results_of


class ResultOutputOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ResultOutput.Kind.choices)
    kind_label = serializers.CharField(source="get_kind_display")
    title = serializers.CharField()
    reference = serializers.CharField(help_text="A DOI (10.xxxx/…) or a web address.")
    link = serializers.URLField(help_text="The address to follow (a DOI through doi.org).")
    added_at = serializers.DateTimeField()


class PermitResultsOutput(serializers.Serializer):
    permit = serializers.CharField(help_text="The permit's number.")
    lay_summary = serializers.CharField(help_text="The summary of the results for the public.")
    reported_at = serializers.DateTimeField(
        allow_null=True, help_text="When there were first both a summary and an output."
    )
    due_on = serializers.DateField(
        help_text="18 months after the permit's end, or the day the access body extended it to."
    )
    outputs = ResultOutputOutput(many=True)


def _answer(permit: Permit, code: int = status.HTTP_200_OK) -> Response:
    results = results_of(permit)
    return Response(
        PermitResultsOutput(
            {
                "permit": permit.number,
                "lay_summary": results.lay_summary if results else "",
                "reported_at": results.reported_at if results else None,
                "due_on": results_due(permit, results),
                "outputs": list(results.outputs.all()) if results else [],
            }
        ).data,
        status=code,
    )


class PermitResultsApi(AccessApi):
    """The results of a permit the caller holds, and its summary for the public."""

    class SummaryInput(serializers.Serializer):
        lay_summary = serializers.CharField(help_text="Plain language, for the public register.")

    @extend_schema(responses=answers(PermitResultsOutput, invalid=None, conflict=False))
    def get(self, request, pk):
        return _answer(access_permit_results(request.user, pk))

    @extend_schema(request=SummaryInput, responses=answers(PermitResultsOutput, conflict=False))
    def put(self, request, pk):
        permit = access_permit_results(request.user, pk)
        data = _valid(self.SummaryInput, request)
        services.results_update(permit=permit, actor=request.user, lay_summary=data["lay_summary"])
        return _answer(permit)


class ResultOutputsApi(AccessApi):
    """Record an output released under a permit the caller holds."""

    class OutputInput(serializers.Serializer):
        kind = serializers.ChoiceField(choices=ResultOutput.Kind.choices)
        title = serializers.CharField(max_length=300)
        reference = serializers.CharField(
            max_length=500, help_text="A DOI (10.xxxx/…, doi:…, or a doi.org address) or https://…"
        )

    @extend_schema(
        request=OutputInput, responses=answers(PermitResultsOutput, code=201, conflict=False)
    )
    def post(self, request, pk):
        permit = access_permit_results(request.user, pk)
        data = _valid(self.OutputInput, request)
        services.result_output_add(permit=permit, actor=request.user, **data)
        return _answer(permit, status.HTTP_201_CREATED)


class ResultOutputApi(AccessApi):
    """Remove an output recorded by mistake (the audit log keeps it)."""

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Removed."),
            404: NOT_FOUND,
        }
    )
    def delete(self, request, pk, output_pk):
        permit = access_permit_results(request.user, pk)
        output = get_object_or_404(ResultOutput, results__permit=permit, pk=output_pk)
        services.result_output_remove(output=output, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
