from django.urls import reverse

from access.models import Committee
from access.permissions import is_chair, is_member
from portal.models import AuditEvent


def test_it_lets_the_access_body_create_a_committee_and_add_members(
    client_for, personas, catalogue
):
    client = client_for("hdab_admin")
    response = client.post(
        reverse("access:committee_create"),
        {"name": "Lyon DAC", "decision_rule": "unanimous", "datasets": [catalogue.published.pk]},
    )
    committee = Committee.objects.get(name="Lyon DAC")
    assert response.status_code == 302
    assert list(committee.datasets.all()) == [catalogue.published]
    url = reverse("access:committee_member_add", args=[committee.pk])
    client.post(url, {"user": personas["committee_chair"].pk, "chair": "on"})
    client.post(url, {"user": personas["committee_member"].pk})
    assert is_chair(personas["committee_chair"], committee)
    assert is_member(personas["committee_member"], committee)
    assert not is_chair(personas["committee_member"], committee)
    page = client.get(reverse("access:committee_detail", args=[committee.pk])).content.decode()
    assert "Chair" in page and personas["committee_member"].username in page
    client.post(
        reverse(
            "access:committee_member_remove", args=[committee.pk, personas["committee_member"].pk]
        )
    )
    assert not is_member(personas["committee_member"], committee)
    actions = set(
        AuditEvent.objects.filter(object_type="access.committee").values_list("action", flat=True)
    )
    assert {
        "access.committee.created",
        "access.committee.member_added",
        "access.committee.member_removed",
    } <= actions


def test_it_refuses_people_without_the_committee_role(client_for, personas):
    client = client_for("hdab_admin")
    client.post(reverse("access:committee_create"), {"name": "X", "decision_rule": "chair"})
    committee = Committee.objects.get(name="X")
    response = client.post(
        reverse("access:committee_member_add", args=[committee.pk]),
        {"user": personas["researcher"].pk},
        follow=True,
    )
    assert "committee member role" in response.content.decode()
    assert not is_member(personas["researcher"], committee)


def test_it_explains_a_bad_committee_and_stores_nothing(client_for, access):
    client = client_for("hdab_admin")
    response = client.post(
        reverse("access:committee_create"), {"name": "Oslo DAC", "decision_rule": "chair"}
    )
    assert response.status_code == 200
    assert "already exists" in str(response.context["form"].errors)
    assert Committee.objects.filter(name="Oslo DAC").count() == 1
    response = client.post(
        reverse("access:committee_detail", args=[access.oslo.pk]),
        {"name": "Oslo DAC", "decision_rule": "sometimes"},
    )
    assert response.status_code == 200
    access.oslo.refresh_from_db()
    assert access.oslo.decision_rule == "chair"


def test_it_stores_the_access_bodys_changes_to_a_committee(client_for, access):
    client = client_for("hdab_admin")
    response = client.post(
        reverse("access:committee_detail", args=[access.oslo.pk]),
        {
            "name": "Oslo imaging DAC",
            "description": "Decides on Oslo's imaging datasets.",
            "decision_rule": "majority",
            "datasets": [d.pk for d in access.oslo.datasets.all()],
        },
    )
    assert response.status_code == 302
    access.oslo.refresh_from_db()
    assert access.oslo.name == "Oslo imaging DAC"
    assert access.oslo.description == "Decides on Oslo's imaging datasets."
    assert access.oslo.decision_rule == "majority"
    assert AuditEvent.objects.filter(
        action="access.committee.updated", object_id=str(access.oslo.pk)
    ).exists()
