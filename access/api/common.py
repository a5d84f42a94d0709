"""What every access endpoint shares: the base views, service errors as answers, the schema's
answers, pagination, and the output serializers of applications that several endpoints send.
"""

from django.db.models import Prefetch, prefetch_related_objects
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from access import services
from access.models import (
    Application,
    ApplicationDataset,
    Clarification,
    Committee,
    Review,
    TeamMember,
)
from catalogue.models import Dataset
from portal.api_schema import ProblemOutput


class AccessApi(APIView):
    """Signed-in callers only (anonymous ones get 403), JSON bodies only. The services'
    refusals become answers in ``portal.api_errors``, as for every API."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]


def _valid(serializer_class, request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class MissingItemsOutput(serializers.Serializer):
    missing = serializers.ListField(child=serializers.CharField())


NOT_FOUND = OpenApiResponse(ProblemOutput, description="Does not exist or is not visible to you.")
CONFLICT = OpenApiResponse(ProblemOutput, description="The workflow does not allow this now.")
INVALID = OpenApiResponse(
    ProblemOutput,
    description="Invalid input or a refused rule: `errors` holds field name (or `detail`) → "
    "messages.",
)
INCOMPLETE = OpenApiResponse(
    ProblemOutput,
    description="Incomplete: `missing` lists everything still needed (or `errors`: field → "
    "messages).",
)


def answers(ok, *, code: int = 200, invalid=INVALID, conflict: bool = True) -> dict:
    """The responses of one operation, for the schema."""
    responses = {code: ok, 404: NOT_FOUND}
    if invalid is not None:
        responses[400] = invalid
    if conflict:
        responses[409] = CONFLICT
    return responses


class AccessPagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


class ListApi(AccessApi):
    pagination_class = AccessPagination

    def paginated(self, request, queryset, serializer_class):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)


# --- Output ---------------------------------------------------------------------------------


class PersonOutput(serializers.Serializer):
    pseudonym = serializers.CharField()
    name = serializers.CharField(source="display_name")


class CommitteeRefOutput(serializers.ModelSerializer):
    class Meta:
        model = Committee
        fields = ["id", "name", "decision_rule"]


class DatasetRefOutput(serializers.ModelSerializer):
    node = serializers.CharField(source="node.name")
    country = serializers.CharField(source="node.country")

    class Meta:
        model = Dataset
        fields = ["id", "identifier", "title", "node", "country"]


class ItemOutput(serializers.ModelSerializer):
    """A requested dataset, the committee it was routed to and that committee's decision."""

    dataset = DatasetRefOutput()
    committee = CommitteeRefOutput(source="review.committee", allow_null=True)

    class Meta:
        model = ApplicationDataset
        fields = ["id", "dataset", "committee", "decision"]


class FindingOutput(serializers.Serializer):
    code = serializers.CharField()
    outcome = serializers.CharField()
    rule = serializers.CharField()


class ReviewItemOutput(ItemOutput):
    """An item with its pre-screening (advice to the committee)."""

    prescreen_findings = FindingOutput(many=True)

    class Meta(ItemOutput.Meta):
        fields = [*ItemOutput.Meta.fields, "prescreen_outcome", "prescreen_findings"]


class TeamMemberOutput(serializers.ModelSerializer):
    class Meta:
        model = TeamMember
        fields = ["id", "email", "role", "status", "invited_at", "answered_at"]


class ReviewOutcomeOutput(serializers.ModelSerializer):
    committee = CommitteeRefOutput()

    class Meta:
        model = Review
        fields = ["id", "committee", "status", "reason", "conditions", "decided_at"]


class ClarificationOutput(serializers.ModelSerializer):
    committee = CommitteeRefOutput()

    class Meta:
        model = Clarification
        fields = [
            "id", "committee", "question", "incomplete", "answer", "requested_at", "answered_at",
        ]  # fmt: skip


class ApplicationRefOutput(serializers.ModelSerializer):
    class Meta:
        model = Application
        fields = ["id", "title"]


class ApplicationSummaryOutput(serializers.ModelSerializer):
    applicant = PersonOutput()
    items = ItemOutput(many=True)

    class Meta:
        model = Application
        fields = [
            "id", "title", "status", "applicant", "organisation", "purpose", "items",
            "created_at", "updated_at", "submitted_at", "decision_due", "decided_at",
        ]  # fmt: skip


FORM_FIELDS = [f for f in services.APPLICANT_FIELDS if f != "ethics_approval"]


class ApplicationDetailOutput(ApplicationSummaryOutput):
    duo_codes = serializers.ListField(child=serializers.CharField())
    disease_codes = serializers.ListField(child=serializers.CharField())
    ethics_approval = serializers.SerializerMethodField()
    team = TeamMemberOutput(many=True)
    reviews = ReviewOutcomeOutput(many=True)
    clarifications = ClarificationOutput(many=True)

    class Meta(ApplicationSummaryOutput.Meta):
        fields = [
            *ApplicationSummaryOutput.Meta.fields,
            *(f for f in FORM_FIELDS if f not in ApplicationSummaryOutput.Meta.fields),
            "ethics_approval", "team", "reviews", "clarifications", "complete_at",
            "completion_due", "extended", "extension_reason",
        ]  # fmt: skip

    def get_ethics_approval(self, obj) -> str | None:
        """The stored file's name, or null; the file is not served through the API."""
        return obj.ethics_approval.name.rsplit("/", 1)[-1] if obj.ethics_approval else None


def _items():
    return Prefetch(
        "items",
        queryset=ApplicationDataset.objects.select_related("dataset__node", "review__committee"),
    )


def _with_details(application: Application) -> Application:
    prefetch_related_objects(
        [application],
        _items(),
        "team",
        Prefetch("reviews", queryset=Review.objects.select_related("committee")),
        Prefetch("clarifications", queryset=Clarification.objects.select_related("committee")),
    )
    return application


def _application_output(application: Application) -> dict:
    return ApplicationDetailOutput(_with_details(application)).data


class ApplicationBriefOutput(serializers.ModelSerializer):
    applicant = PersonOutput()

    class Meta:
        model = Application
        fields = ["id", "title", "status", "applicant", "organisation", "submitted_at",
                  "decision_due"]  # fmt: skip
