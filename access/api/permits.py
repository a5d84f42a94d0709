"""Data permits through the API: the list, one permit, and its suspension, reactivation or
revocation.
"""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from access import selectors, services
from access.api.common import (
    AccessApi,
    ApplicationRefOutput,
    CommitteeRefOutput,
    DatasetRefOutput,
    ListApi,
    PersonOutput,
    _valid,
    answers,
)
from access.limits import LONG_TEXT
from access.models import (
    Permit,
)
from catalogue.models import Dataset


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
            required=False,
            allow_blank=True,
            default="",
            max_length=LONG_TEXT,
            help_text="Required to suspend or revoke.",
        )

    @extend_schema(request=PermitChangeInput, responses=answers(PermitOutput))
    def post(self, request, pk):
        permit = selectors.access_permit(request.user, pk, for_change=True)
        data = _valid(self.PermitChangeInput, request)
        services.permit_change(
            permit=permit, actor=request.user, change=data["change"], reason=data["reason"]
        )
        return Response(PermitOutput(_permits(Permit.objects).get(pk=permit.pk)).data)
