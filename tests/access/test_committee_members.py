"""Adding committee members: people already on the committee are not offered again, and
adding one again is refused with a message."""

from django.urls import reverse

from access.permissions import chairs_of
from portal.models import AuditEvent


def test_it_offers_only_people_not_on_the_committee(access, personas, client_for):
    page = client_for("hdab_admin").get(reverse("access:committee_detail", args=[access.oslo.pk]))

    form = page.context["member_form"]
    offered = set(form.fields["user"].queryset)
    assert personas["committee_member"] not in offered
    assert personas["committee_chair"] not in offered


def test_it_refuses_adding_a_member_again(access, personas, client_for):
    member = personas["committee_member"]
    before = AuditEvent.objects.filter(action="access.committee.member_added").count()

    page = client_for("hdab_admin").post(
        reverse("access:committee_member_add", args=[access.oslo.pk]),
        {"user": member.pk, "chair": "on"},
    )

    assert page.status_code == 200
    assert "is already a member of Oslo DAC" in page.content.decode()
    assert member not in chairs_of(access.oslo)
    assert AuditEvent.objects.filter(action="access.committee.member_added").count() == before
