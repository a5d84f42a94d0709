"""The access workflow's JSON API: applications, committee reviews, invitations and permits.

Thin, like the pages: parse the input, check access with ``access.selectors`` (404 for anything
the caller may not see, whether or not it exists), call one service, serialise the result. The
services' exceptions become answers in one place, ``ServiceErrorsMixin``: a refused rule is 400
with the service's messages, a transition the workflow does not allow is 409.
"""

from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from access import selectors, services, uploads
from access.models import (
    Application,
    ApplicationDataset,
    Clarification,
    Comment,
    Committee,
    ConflictOfInterest,
    InvalidTransition,
    Permit,
    Review,
    TeamMember,
    Vote,
)
from access.permissions import committees_of
from catalogue.models import Dataset
from catalogue.selectors import visible_datasets
from portal.api_schema import DetailOutput
from portal.ids import IdField
from portal.models import Role

# --- Errors ---------------------------------------------------------------------------------


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The workflow does not allow this now."
    default_code = "conflict"


def translate_service_error(exc: Exception) -> Exception:
    """The DRF exception answering a service's exception (others are returned unchanged)."""
    if isinstance(exc, services.IncompleteApplication):
        return exceptions.ValidationError({"missing": exc.messages})
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(exc.message_dict)
        return exceptions.ValidationError({"detail": exc.messages})
    if isinstance(exc, InvalidTransition):
        return Conflict(str(exc))
    return exc


class ServiceErrorsMixin:
    """Answers the services' ValidationError with 400 and InvalidTransition with 409."""

    def handle_exception(self, exc):
        return super().handle_exception(translate_service_error(exc))


class AccessApi(ServiceErrorsMixin, APIView):
    """Signed-in callers only (anonymous ones get 403), JSON bodies only."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]


def _valid(serializer_class, request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class MissingItemsOutput(serializers.Serializer):
    missing = serializers.ListField(child=serializers.CharField())


class MissingOutput(serializers.Serializer):
    """Submit's 400: ``missing`` when incomplete; another refusal answers field → messages (or
    ``detail``) instead."""

    missing = serializers.ListField(child=serializers.CharField(), required=False)


NOT_FOUND = OpenApiResponse(DetailOutput, description="Does not exist or is not visible to you.")
CONFLICT = OpenApiResponse(DetailOutput, description="The workflow does not allow this now.")
INVALID = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Invalid input or a refused rule: field name (or `detail`) → list of messages.",
)
INCOMPLETE = OpenApiResponse(
    MissingOutput,
    description="Incomplete: `missing` lists everything still needed (or field → messages, or "
    "`detail`).",
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


class ReviewSummaryOutput(serializers.ModelSerializer):
    committee = CommitteeRefOutput()
    application = ApplicationBriefOutput()
    overdue = serializers.SerializerMethodField()
    due_soon = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = ["id", "status", "committee", "application", "overdue", "due_soon",
                  "decided_at"]  # fmt: skip

    def get_overdue(self, obj) -> bool:
        return selectors.is_overdue(obj.application)

    def get_due_soon(self, obj) -> bool:
        return selectors.due_soon(obj.application)


class TallyOutput(serializers.Serializer):
    eligible = serializers.IntegerField(help_text="Members who may vote (not conflicted).")
    cast = serializers.IntegerField()
    approve = serializers.IntegerField()
    reject = serializers.IntegerField()
    abstain = serializers.IntegerField()


class VoteOutput(serializers.ModelSerializer):
    member = PersonOutput()

    class Meta:
        model = Vote
        fields = ["member", "choice", "reason", "cast_at"]


class ConflictOutput(serializers.ModelSerializer):
    member = PersonOutput()

    class Meta:
        model = ConflictOfInterest
        fields = ["member", "note", "declared_at"]


class ReviewDetailOutput(serializers.ModelSerializer):
    committee = CommitteeRefOutput()
    application = ApplicationDetailOutput()
    items = ReviewItemOutput(many=True)
    decided_by = PersonOutput(allow_null=True)
    tally = serializers.SerializerMethodField()
    votes = VoteOutput(many=True)
    conflicts = ConflictOutput(many=True)
    decisive_votes = serializers.SerializerMethodField(
        help_text="Your votes that would on their own become the committee's final decision: "
        "choice → the outcome it settles (empty when no single vote of yours decides)."
    )

    class Meta:
        model = Review
        fields = [
            "id", "status", "committee", "application", "items", "tally", "votes", "conflicts",
            "decisive_votes", "reason", "conditions", "decided_by", "decided_at",
        ]  # fmt: skip

    def _tally(self, obj):
        if getattr(obj, "_tally", None) is None:
            obj._tally = services.tally(obj)
        return obj._tally

    @extend_schema_field(TallyOutput)
    def get_tally(self, obj):
        return TallyOutput(self._tally(obj)).data

    @extend_schema_field(
        {
            "type": "object",
            "additionalProperties": {"type": "string", "enum": ["approved", "rejected"]},
        }
    )
    def get_decisive_votes(self, obj) -> dict:
        viewer = self.context.get("viewer")
        if viewer is None or obj.application.status == Application.Status.CLARIFICATION:
            return {}
        return dict(services.decisive_votes(obj, viewer, self._tally(obj)))


def _review_output(user, pk) -> dict:
    review = selectors.access_review(user, pk)
    prefetch_related_objects(
        [review],
        "votes__member",
        "conflicts__member",
        _items(),
    )
    _with_details(review.application)
    return ReviewDetailOutput(review, context={"viewer": user}).data


class PermitOutput(serializers.ModelSerializer):
    application = ApplicationRefOutput()
    committee = CommitteeRefOutput(source="review.committee")
    holder = PersonOutput()
    datasets = DatasetRefOutput(many=True)
    authorised_persons = PersonOutput(many=True)

    class Meta:
        model = Permit
        fields = [
            "id", "number", "status", "status_reason", "application", "committee", "holder",
            "datasets", "authorised_persons", "purpose", "purpose_description", "data_form",
            "conditions", "tools", "starts_on", "ends_on", "issued_at", "changed_at",
        ]  # fmt: skip


def _permits(queryset):
    return queryset.select_related("application", "review__committee", "holder").prefetch_related(
        Prefetch("datasets", queryset=Dataset.objects.select_related("node")),
        "authorised_persons",
    )


class CommentOutput(serializers.ModelSerializer):
    author = PersonOutput()
    committee = CommitteeRefOutput(allow_null=True)

    class Meta:
        model = Comment
        fields = ["id", "body", "author", "committee", "visible_to_applicant", "created_at"]


# --- Applications ---------------------------------------------------------------------------


class ApplicationListApi(ListApi):
    """Applications visible to the caller; researchers start new drafts here."""

    class ApplicationCreateInput(serializers.Serializer):
        title = serializers.CharField(max_length=300)
        datasets = serializers.ListField(
            child=IdField(),
            required=False,
            allow_empty=False,
            help_text="Dataset ids; leave out to apply for the datasets in your basket.",
        )

    @extend_schema(responses={200: ApplicationSummaryOutput(many=True)})
    def get(self, request):
        applications = (
            selectors.visible_applications(request.user)
            .select_related("applicant")
            .prefetch_related(_items())
            .order_by("-created_at", "-pk")
        )
        return self.paginated(request, applications, ApplicationSummaryOutput)

    @extend_schema(
        request=ApplicationCreateInput,
        responses={
            201: ApplicationDetailOutput,
            400: INVALID,
            403: OpenApiResponse(DetailOutput, description="Only researchers apply."),
        },
    )
    def post(self, request):
        if not request.user.has_role(Role.RESEARCHER):
            raise exceptions.PermissionDenied(_("Only researchers can apply for data access."))
        data = _valid(self.ApplicationCreateInput, request)
        datasets = None
        if "datasets" in data:
            wanted = set(data["datasets"])
            datasets = list(
                visible_datasets(request.user).filter(
                    pk__in=wanted, status=Dataset.Status.PUBLISHED
                )
            )
            unknown = wanted - {d.pk for d in datasets}
            if unknown:
                raise exceptions.ValidationError(
                    {
                        "datasets": [
                            _("No published dataset with the id %s.") % pk for pk in sorted(unknown)
                        ]
                    }
                )
        application = services.application_create(
            applicant=request.user, title=data["title"], datasets=datasets
        )
        return Response(_application_output(application), status=status.HTTP_201_CREATED)


class ApplicationUpdateInput(serializers.ModelSerializer):
    """The form's fields; any subset of them in a PATCH. Unknown fields are refused."""

    duo_codes = serializers.ListField(child=serializers.CharField(max_length=20), required=False)
    disease_codes = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False
    )

    class Meta:
        model = Application
        fields = FORM_FIELDS

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {
                name: [
                    _("Upload the file to the ethics-approval endpoint.")
                    if name == "ethics_approval"
                    else _("This field cannot be changed here.")
                ]
                for name in sorted(set(data) - set(self.fields))
            }
            if errors:
                raise exceptions.ValidationError(errors)
        return super().to_internal_value(data)


class ApplicationDetailApi(AccessApi):
    """An application; its applicant edits the draft (or answers a clarification) by PATCH."""

    @extend_schema(responses=answers(ApplicationDetailOutput, invalid=None, conflict=False))
    def get(self, request, pk):
        application = selectors.access_application(request.user, pk)
        return Response(_application_output(application))

    @extend_schema(request=ApplicationUpdateInput, responses=answers(ApplicationDetailOutput))
    def patch(self, request, pk):
        application = selectors.access_own_application(request.user, pk)
        data = _valid(ApplicationUpdateInput, request, partial=True)
        application = services.application_update(
            application=application, actor=request.user, **data
        )
        return Response(_application_output(application))


class EthicsApprovalInput(serializers.Serializer):
    """The file, checked by the same rule as the application page (``access.uploads``)."""

    file = serializers.FileField()

    def validate_file(self, upload):
        return uploads.ethics_document(upload, application=self.context["application"])


class ApplicationEthicsApi(AccessApi):
    """Upload the ethics approval (multipart field ``file``: a PDF or a PNG, JPEG or TIFF image,
    at most ETHICS_FILE_MAX_BYTES, 10 MB by default). It is stored under a generated name."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        responses=answers(ApplicationDetailOutput),
    )
    def post(self, request, pk):
        application = selectors.access_own_application(request.user, pk)
        upload = _valid(EthicsApprovalInput, request, context={"application": application})["file"]
        application = services.application_update(
            application=application, actor=request.user, ethics_approval=upload
        )
        return Response(_application_output(application))


class ApplicationSubmitApi(AccessApi):
    """Submit a complete draft; an incomplete one is refused with everything it still needs."""

    @extend_schema(request=None, responses=answers(ApplicationDetailOutput, invalid=INCOMPLETE))
    def post(self, request, pk):
        application = selectors.access_own_application(request.user, pk)
        application = services.application_submit(application=application, actor=request.user)
        return Response(_application_output(application))


class ApplicationMissingApi(AccessApi):
    """What still stops the caller's application from being submitted."""

    @extend_schema(responses=answers(MissingItemsOutput, invalid=None, conflict=False))
    def get(self, request, pk):
        application = selectors.access_own_application(request.user, pk)
        return Response({"missing": services.missing_items(application)})


class ApplicationWithdrawApi(AccessApi):
    class WithdrawInput(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=WithdrawInput, responses=answers(ApplicationDetailOutput))
    def post(self, request, pk):
        application = selectors.access_own_application(request.user, pk)
        data = _valid(self.WithdrawInput, request)
        application = services.application_withdraw(
            application=application, actor=request.user, reason=data["reason"]
        )
        return Response(_application_output(application))


class ApplicationTeamApi(AccessApi):
    """Invite a person who will get access; they are emailed a link and must accept."""

    class TeamInviteInput(serializers.Serializer):
        email = serializers.EmailField()
        role = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    @extend_schema(request=TeamInviteInput, responses=answers(TeamMemberOutput, code=201))
    def post(self, request, pk):
        application = selectors.access_own_application(request.user, pk)
        data = _valid(self.TeamInviteInput, request)
        member = services.team_invite(
            application=application, actor=request.user, email=data["email"], role=data["role"]
        )
        return Response(TeamMemberOutput(member).data, status=status.HTTP_201_CREATED)


class ApplicationClarificationAnswerApi(AccessApi):
    """Answer the committees' open questions; the application goes back under review."""

    class ClarificationAnswerInput(serializers.Serializer):
        answer = serializers.CharField()

    @extend_schema(
        request=ClarificationAnswerInput,
        responses=answers(ApplicationDetailOutput, invalid=INCOMPLETE),
    )
    def post(self, request, pk):
        application = selectors.access_own_application(request.user, pk)
        data = _valid(self.ClarificationAnswerInput, request)
        application = services.clarification_answer(
            application=application, actor=request.user, answer=data["answer"]
        )
        return Response(_application_output(application))


class ApplicationCommentsApi(AccessApi):
    """Comments on an application. Committee members comment for one of their committees
    (internal unless ``visible_to_applicant``); the applicant's replies go to every committee."""

    class CommentInput(serializers.Serializer):
        body = serializers.CharField()
        visible_to_applicant = serializers.BooleanField(default=False)
        committee = serializers.PrimaryKeyRelatedField(
            queryset=Committee.objects.all(),
            required=False,
            allow_null=True,
            default=None,
            help_text="Your committee; may be left out when you sit on only one reviewing "
            "committee. Ignored for the applicant.",
        )

    @extend_schema(responses=answers(CommentOutput(many=True), invalid=None, conflict=False))
    def get(self, request, pk):
        application = selectors.access_application(request.user, pk)
        comments = selectors.visible_comments(request.user, application)
        return Response(CommentOutput(comments, many=True).data)

    @extend_schema(request=CommentInput, responses=answers(CommentOutput, code=201))
    def post(self, request, pk):
        application = selectors.access_application(request.user, pk)
        data = _valid(self.CommentInput, request)
        committee = data["committee"]
        if committee is None and application.applicant_id != request.user.pk:
            mine = list(
                committees_of(request.user).filter(reviews__application=application).distinct()
            )
            if len(mine) > 1:
                raise exceptions.ValidationError(
                    {"committee": [_("Say which of your committees this comment is for.")]}
                )
            committee = mine[0] if mine else None
        comment = services.comment_add(
            application=application,
            actor=request.user,
            body=data["body"],
            visible_to_applicant=data["visible_to_applicant"],
            committee=committee,
        )
        return Response(CommentOutput(comment).data, status=status.HTTP_201_CREATED)


class ApplicationExtendDeadlineApi(AccessApi):
    """Extend the decision deadline once by three months (a reviewing chair or the access body)."""

    class ExtendDeadlineInput(serializers.Serializer):
        reason = serializers.CharField()

    @extend_schema(request=ExtendDeadlineInput, responses=answers(ApplicationDetailOutput))
    def post(self, request, pk):
        application = selectors.access_application(request.user, pk)
        data = _valid(self.ExtendDeadlineInput, request)
        application = services.deadline_extend(
            application=application, actor=request.user, reason=data["reason"]
        )
        return Response(_application_output(application))


# --- Reviews --------------------------------------------------------------------------------


class ReviewListApi(ListApi):
    """The caller's committee queue: reviews of submitted applications, pending first."""

    @extend_schema(responses={200: ReviewSummaryOutput(many=True)})
    def get(self, request):
        return self.paginated(request, selectors.committee_queue(request.user), ReviewSummaryOutput)


class ReviewDetailApi(AccessApi):
    """A review with the application, the pre-screening per dataset, the votes and the tally."""

    @extend_schema(responses=answers(ReviewDetailOutput, invalid=None, conflict=False))
    def get(self, request, pk):
        return Response(_review_output(request.user, pk))


class ReviewConflictApi(AccessApi):
    """Declare a conflict of interest; a vote already cast is withdrawn."""

    class ConflictInput(serializers.Serializer):
        note = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=ConflictInput, responses=answers(ReviewDetailOutput))
    def post(self, request, pk):
        review = selectors.access_review(request.user, pk)
        data = _valid(self.ConflictInput, request)
        services.conflict_declare(review=review, actor=request.user, note=data["note"])
        return Response(_review_output(request.user, pk))


class ReviewVoteApi(AccessApi):
    """Vote (again); under the majority or unanimity rule the settling vote decides."""

    class VoteInput(serializers.Serializer):
        choice = serializers.ChoiceField(choices=Vote.Choice.choices)
        reason = serializers.CharField(
            required=False, allow_blank=True, default="", help_text="Required to reject."
        )

    @extend_schema(request=VoteInput, responses=answers(ReviewDetailOutput))
    def post(self, request, pk):
        review = selectors.access_review(request.user, pk)
        data = _valid(self.VoteInput, request)
        services.vote_cast(
            review=review, actor=request.user, choice=data["choice"], reason=data["reason"]
        )
        return Response(_review_output(request.user, pk))


class ReviewClarificationApi(AccessApi):
    """Ask the applicant a question; ``incomplete`` stops the clock (four weeks to complete)."""

    class ClarificationRequestInput(serializers.Serializer):
        question = serializers.CharField()
        incomplete = serializers.BooleanField(default=False)

    @extend_schema(
        request=ClarificationRequestInput, responses=answers(ClarificationOutput, code=201)
    )
    def post(self, request, pk):
        review = selectors.access_review(request.user, pk)
        data = _valid(self.ClarificationRequestInput, request)
        clarification = services.clarification_request(
            review=review,
            actor=request.user,
            question=data["question"],
            incomplete=data["incomplete"],
        )
        return Response(ClarificationOutput(clarification).data, status=status.HTTP_201_CREATED)


class ReviewDecideApi(AccessApi):
    """The chair decides for the committee. Rejection needs reasons; ``ends_on`` sets the
    permit's end (at most ten years)."""

    class DecisionInput(serializers.Serializer):
        approve = serializers.BooleanField()
        reason = serializers.CharField(
            required=False, allow_blank=True, default="", help_text="Required to reject."
        )
        conditions = serializers.CharField(required=False, allow_blank=True, default="")
        ends_on = serializers.DateField(required=False, allow_null=True, default=None)

    @extend_schema(request=DecisionInput, responses=answers(ReviewDetailOutput))
    def post(self, request, pk):
        review = selectors.access_review(request.user, pk, as_chair=True)
        data = _valid(self.DecisionInput, request)
        services.review_decide(review=review, actor=request.user, **data)
        return Response(_review_output(request.user, pk))


# --- Invitations ----------------------------------------------------------------------------


class InvitationOutput(serializers.ModelSerializer):
    application = ApplicationRefOutput()

    class Meta:
        model = TeamMember
        fields = ["email", "role", "status", "answered_at", "application"]


class InvitationAnswerApi(AccessApi):
    """Accept or decline an invitation to an application's team. The invitation is bound to
    the email address it was sent to; anyone else gets 404."""

    class InvitationAnswerInput(serializers.Serializer):
        accept = serializers.BooleanField()

    @extend_schema(request=InvitationAnswerInput, responses=answers(InvitationOutput))
    def post(self, request, token):
        member = TeamMember.objects.filter(token=token).first()
        if member is None or member.email.lower() != (request.user.email or "").lower():
            raise Http404
        data = _valid(self.InvitationAnswerInput, request)
        member = services.team_answer(token=token, user=request.user, accept=data["accept"])
        return Response(InvitationOutput(member).data)


# --- Permits --------------------------------------------------------------------------------


class PermitListApi(ListApi):
    """Permits the caller holds, is authorised under, issued by their committees, or (the
    access body) all."""

    @extend_schema(responses={200: PermitOutput(many=True)})
    def get(self, request):
        return self.paginated(
            request, _permits(selectors.visible_permits(request.user)), PermitOutput
        )


class PermitDetailApi(AccessApi):
    @extend_schema(responses=answers(PermitOutput, invalid=None, conflict=False))
    def get(self, request, pk):
        permit = selectors.access_permit(request.user, pk)
        return Response(PermitOutput(_permits(Permit.objects).get(pk=permit.pk)).data)


class PermitChangeApi(AccessApi):
    """Suspend, reactivate or revoke a permit (the issuing committee's chair or the access
    body; anyone else gets 404)."""

    class PermitChangeInput(serializers.Serializer):
        change = serializers.ChoiceField(choices=sorted(services.PERMIT_CHANGES))
        reason = serializers.CharField(
            required=False, allow_blank=True, default="", help_text="Required to suspend or revoke."
        )

    @extend_schema(request=PermitChangeInput, responses=answers(PermitOutput))
    def post(self, request, pk):
        permit = selectors.access_permit(request.user, pk, for_change=True)
        data = _valid(self.PermitChangeInput, request)
        services.permit_change(
            permit=permit, actor=request.user, change=data["change"], reason=data["reason"]
        )
        return Response(PermitOutput(_permits(Permit.objects).get(pk=permit.pk)).data)
