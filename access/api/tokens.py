"""Access tokens through the API: a permit's tokens, issuing one for a node, one token, and
revoking it.

The token itself is in the answer to its issuance only; the portal keeps its record, never the
token. Refusals come as problem details like every other: not named on the permit (403), the
permit not active or ended (409), nothing granted at that node or a lifetime out of range
(400), no signing key yet (503).
"""

from collections.abc import Mapping

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from access import selectors, services
from access.api.common import AccessApi, ListApi, PersonOutput, _valid, answers
from access.models import AccessToken
from access.node.claims import MAX_LIFETIME
from access.services.tokens import MIN_LIFETIME
from catalogue.models import Node
from portal.api_schema import ProblemOutput

# What a token's status reads as: its status-list entry, or "expired" once past its end.
TOKEN_STATES = [
    ("valid", _("Valid")),
    ("suspended", _("Suspended (its permit is suspended)")),
    ("revoked", _("Revoked")),
    ("expired", _("Expired")),
]
_STATE_OF_ENTRY = {
    AccessToken.Status.VALID: "valid",
    AccessToken.Status.SUSPENDED: "suspended",
    AccessToken.Status.INVALID: "revoked",
}


class SigningUnavailableError(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("The portal cannot sign tokens now.")
    default_code = "signing_unavailable"


UNAVAILABLE = OpenApiResponse(
    ProblemOutput, description="The portal has no signing key yet (the access body makes one)."
)
NOT_AUTHORISED = OpenApiResponse(
    ProblemOutput, description="You see the permit but it does not name you as authorised."
)


# Plain serializers with their fields declared (not read from the models on every request):
# the issuance answer is on the portal's busiest write.


class NodeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    country = serializers.CharField()
    audience = serializers.CharField()
    dicomweb_base_url = serializers.CharField()


class TokenOutput(serializers.Serializer):
    """A token's record (never the token itself)."""

    id = serializers.IntegerField()
    jti = serializers.CharField()
    permit = serializers.CharField(source="permit.number")
    node = NodeOutput()
    holder = PersonOutput()
    scope = serializers.CharField()
    datasets = serializers.ListField(child=serializers.CharField())
    issued_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    status = serializers.SerializerMethodField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    revoke_reason = serializers.CharField()

    @extend_schema_field(serializers.ChoiceField(choices=TOKEN_STATES))
    def get_status(self, obj: AccessToken) -> str:
        if obj.revoked_at is None and obj.expires_at <= timezone.now():
            return "expired"
        return _STATE_OF_ENTRY[AccessToken.Status(obj.status)]


class IssuedTokenOutput(TokenOutput):
    """A token just issued, with the token: shown here once, never again."""

    token = serializers.CharField(help_text="The JWT to send as `Authorization: Bearer <token>`.")
    token_type = serializers.CharField(help_text="Always `Bearer`.")
    expires_in = serializers.IntegerField(help_text="Seconds from now until the token ends.")


def _tokens(queryset: QuerySet[AccessToken]) -> QuerySet[AccessToken]:
    return queryset.select_related("node", "holder", "permit")


class PermitTokensApi(ListApi):
    """A permit's tokens, and a new one for a node (the people the permit authorises)."""

    class TokenIssueInput(serializers.Serializer):
        node = serializers.CharField(
            max_length=200, help_text="The node: its slug (as in its catalogue address) or its "
            "token audience."
        )  # fmt: skip
        lifetime = serializers.IntegerField(
            required=False,
            min_value=MIN_LIFETIME,
            max_value=MAX_LIFETIME,
            help_text="Seconds (default and most: `ACCESS_TOKEN_LIFETIME`, at most an hour). "
            "The token never outlives the permit's last day.",
        )

        def to_internal_value(self, data):
            # A misspelt field (``lifetim``) would silently give the longest token: refused.
            if isinstance(data, Mapping):
                unknown = sorted(set(data) - set(self.fields))
                if unknown:
                    raise exceptions.ValidationError(
                        {name: [_("There is no such field.")] for name in unknown}
                    )
            return super().to_internal_value(data)

    @extend_schema(responses={200: TokenOutput(many=True)})
    def get(self, request, pk):
        permit = selectors.access_permit(request.user, pk)
        return self.paginated(
            request, _tokens(selectors.permit_tokens(request.user, permit)), TokenOutput
        )

    @extend_schema(
        request=TokenIssueInput,
        responses={
            **answers(IssuedTokenOutput, code=201),
            403: NOT_AUTHORISED,
            503: UNAVAILABLE,
        },
    )
    def post(self, request, pk):
        permit = selectors.permit_for_token(request.user, pk)
        data = _valid(self.TokenIssueInput, request)
        node = Node.objects.filter(Q(slug=data["node"]) | Q(audience=data["node"])).first()
        if node is None:
            raise exceptions.ValidationError({"node": [_("There is no such node.")]})
        try:
            issued = services.token_issue(
                permit=permit, node=node, actor=request.user, lifetime=data.get("lifetime")
            )
        except services.SigningUnavailable as error:
            raise SigningUnavailableError(str(error)) from None
        answer = {
            "token": issued.token,
            "token_type": "Bearer",
            "expires_in": max(0, issued.claims.exp - int(timezone.now().timestamp())),
            **TokenOutput(issued.record).data,  # its permit, node and holder are at hand
        }
        response = Response(answer, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class TokenDetailApi(AccessApi):
    @extend_schema(responses=answers(TokenOutput, invalid=None, conflict=False))
    def get(self, request, pk):
        # The selector read the permit, node and holder the answer shows, with the token.
        return Response(TokenOutput(selectors.access_token(request.user, pk)).data)


class TokenRevokeApi(AccessApi):
    """Revoke a token (its holder, the permit's holder, the issuing committee's chair, the
    access body; anyone else gets 404). Nodes refuse it within the status list's time to
    live."""

    class TokenRevokeInput(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="",
                                       max_length=500)  # fmt: skip

    @extend_schema(request=TokenRevokeInput, responses=answers(TokenOutput))
    def post(self, request, pk):
        token = selectors.access_token(request.user, pk, for_write=True)
        data = _valid(self.TokenRevokeInput, request)
        services.token_revoke(token=token, actor=request.user, reason=data["reason"])
        return Response(TokenOutput(_tokens(AccessToken.objects).get(pk=token.pk)).data)
