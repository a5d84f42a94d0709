"""Applications through the API: drafts, the ethics approval, submission, withdrawal, the team,
answers to the committees, comments, the deadline, and the invitation answer.
"""

from collections.abc import Mapping

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from access import selectors, services, uploads
from access.api.common import (
    FORM_FIELDS,
    INCOMPLETE,
    INVALID,
    AccessApi,
    ApplicationDetailOutput,
    ApplicationRefOutput,
    ApplicationSummaryOutput,
    CommitteeRefOutput,
    ListApi,
    MissingItemsOutput,
    PersonOutput,
    TeamMemberOutput,
    _application_output,
    _items,
    _valid,
    answers,
)
from access.limits import APPLICATION_TEXT, LONG_TEXT
from access.models import (
    Application,
    Comment,
    Committee,
    TeamMember,
)
from access.permissions import committees_of
from portal.api_schema import DetailOutput
from portal.ids import IdField
from portal.models import Role


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
        application = services.application_create(
            applicant=request.user, title=data["title"], datasets=data.get("datasets")
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
        extra_kwargs = {name: {"max_length": limit} for name, limit in APPLICATION_TEXT.items()}

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
        application = selectors.access_application(request.user, pk, for_write=True)
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
        application = selectors.access_application(request.user, pk, for_write=True)
        upload = _valid(EthicsApprovalInput, request, context={"application": application})["file"]
        application = services.application_update(
            application=application, actor=request.user, ethics_approval=upload
        )
        return Response(_application_output(application))


class ApplicationSubmitApi(AccessApi):
    """Submit a complete draft; an incomplete one is refused with everything it still needs."""

    @extend_schema(request=None, responses=answers(ApplicationDetailOutput, invalid=INCOMPLETE))
    def post(self, request, pk):
        application = selectors.access_application(request.user, pk, for_write=True)
        application = services.application_submit(application=application, actor=request.user)
        return Response(_application_output(application))


class ApplicationMissingApi(AccessApi):
    """What still stops the caller's application from being submitted."""

    @extend_schema(responses=answers(MissingItemsOutput, invalid=None, conflict=False))
    def get(self, request, pk):
        application = selectors.access_application(request.user, pk, for_write=True)
        return Response({"missing": services.missing_items(application)})


class ApplicationWithdrawApi(AccessApi):
    class WithdrawInput(serializers.Serializer):
        reason = serializers.CharField(
            required=False, allow_blank=True, default="", max_length=LONG_TEXT
        )

    @extend_schema(request=WithdrawInput, responses=answers(ApplicationDetailOutput))
    def post(self, request, pk):
        application = selectors.access_application(request.user, pk, for_write=True)
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
        application = selectors.access_application(request.user, pk, for_write=True)
        data = _valid(self.TeamInviteInput, request)
        member = services.team_invite(
            application=application, actor=request.user, email=data["email"], role=data["role"]
        )
        return Response(TeamMemberOutput(member).data, status=status.HTTP_201_CREATED)


class ApplicationClarificationAnswerApi(AccessApi):
    """Answer the committees' open questions; the application goes back under review."""

    class ClarificationAnswerInput(serializers.Serializer):
        answer = serializers.CharField(max_length=LONG_TEXT)

    @extend_schema(
        request=ClarificationAnswerInput,
        responses=answers(ApplicationDetailOutput, invalid=INCOMPLETE),
    )
    def post(self, request, pk):
        application = selectors.access_application(request.user, pk, for_write=True)
        data = _valid(self.ClarificationAnswerInput, request)
        application = services.clarification_answer(
            application=application, actor=request.user, answer=data["answer"]
        )
        return Response(_application_output(application))


class ApplicationCommentsApi(ListApi):
    """Comments on an application. Committee members comment for one of their committees
    (internal unless ``visible_to_applicant``); the applicant's replies go to every committee."""

    class CommentInput(serializers.Serializer):
        body = serializers.CharField(max_length=LONG_TEXT)
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
        comments = selectors.visible_comments(request.user, application).order_by(
            "created_at", "pk"
        )
        return self.paginated(request, comments, CommentOutput)

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
        reason = serializers.CharField(max_length=LONG_TEXT)

    @extend_schema(request=ExtendDeadlineInput, responses=answers(ApplicationDetailOutput))
    def post(self, request, pk):
        application = selectors.access_application(request.user, pk)
        data = _valid(self.ExtendDeadlineInput, request)
        application = services.deadline_extend(
            application=application, actor=request.user, reason=data["reason"]
        )
        return Response(_application_output(application))


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
        selectors.access_invitation(request.user, token)
        data = _valid(self.InvitationAnswerInput, request)
        member = services.team_answer(token=token, user=request.user, accept=data["accept"])
        return Response(InvitationOutput(member).data)
