"""The OpenAPI schema documents every status code the API answers, not only the happy path.

Each view documents what is particular to it (its result, its 400 body, 404, 409) with
``extend_schema``. ``AutoSchema`` adds the answers every operation of a kind may give, where
the view has not described them itself:

- 403 on every operation that needs a signed-in caller, and on every write (a session without
  its CSRF token);
- 400 (a body that cannot be parsed), 413 (a body over the size limits, or an upload over
  Django's limits on files and fields) and 415 (a body that is not JSON, or not multipart for an
  upload) on every operation that takes a body;
- 404 on every operation with an id in its path (also ``application/problem+json``, the answer
  when the path itself names nothing, see ``portal.api_errors``), and on paginated lists (a page
  past the end).
"""

from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.parsers import FileUploadParser, MultiPartParser
from rest_framework.permissions import AllowAny

from portal.api_errors import PROBLEM_JSON


class DetailOutput(serializers.Serializer):
    detail = serializers.CharField()


class ProblemOutput(serializers.Serializer):
    """Every error the API answers: RFC 9457 problem details (``portal.api_errors``)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Invalid input or a refused rule: field name (or `detail`) → messages; for "
        "a list or an object, its position or key → messages.",
    )
    missing = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="An incomplete submission: every item still needed.",
    )


WRITES = {"POST", "PUT", "PATCH", "DELETE"}
WITH_BODY = {"POST", "PUT", "PATCH"}


class AutoSchema(openapi.AutoSchema):
    def _needs_sign_in(self) -> bool:
        return not all(isinstance(p, AllowAny) for p in self.view.get_permissions())

    def _uploads(self) -> bool:
        return any(
            isinstance(p, MultiPartParser | FileUploadParser) for p in self.view.get_parsers()
        )

    def _common_answers(self) -> dict[str, OpenApiResponse]:
        answers = {}
        if self.method in WITH_BODY:
            answers["400"] = OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Invalid input: `errors` holds field name (or `detail`) → messages.",
            )
        if self._needs_sign_in() or self.method in WRITES:
            answers["403"] = OpenApiResponse(
                DetailOutput,
                description="Not signed in; a write without the CSRF token; or you may see "
                "this but not do it.",
            )
        if "{" in self.path or (self.method == "GET" and self._is_list_view()):
            answers["404"] = OpenApiResponse(
                DetailOutput, description="Does not exist or is not visible to you."
            )
        if self.method in WITH_BODY:
            answers["413"] = OpenApiResponse(
                DetailOutput,
                description="The body is over the size limits"
                + (", or has too many files or fields." if self._uploads() else "."),
            )
            answers["415"] = OpenApiResponse(
                DetailOutput, description="The body's content type is not accepted here."
            )
        return answers

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, answer in self._common_answers().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(answer, code, direction=direction)
        # Every error comes as problem details, whatever the view declared for its body.
        problem = self.resolve_serializer(ProblemOutput, direction).ref
        for code, answer in responses.items():
            if int(code) >= 400:
                answer["content"] = {PROBLEM_JSON: {"schema": problem}}
        return dict(sorted(responses.items()))
