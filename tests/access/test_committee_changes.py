"""Changing a committee's members or decision rule counts the votes of its pending reviews
again, and the committee never loses its last chair."""

import pytest
from django.urls import reverse

from access import services
from access.models import Review
from access.permissions import chairs_of, is_member
from portal.models import AuditEvent, Role
from tests.factories import UserFactory


@pytest.fixture
def three(access, personas):
    """Valencia under the unanimity rule with three members: the chair, ``committee_member``
    and a third, reviewing a submitted application; the first two approved."""
    third = UserFactory(username="third", roles=[Role.COMMITTEE_MEMBER])
    services.committee_add_member(
        committee=access.valencia, user=personas["committee_member"], actor=None
    )
    services.committee_add_member(committee=access.valencia, user=third, actor=None)
    services.committee_update(committee=access.valencia, actor=None, decision_rule="unanimous")
    application = access.new_application("Lung study", submit=True)
    review = Review.objects.get(application=application, committee=access.valencia)
    for member in ("committee_chair", "committee_member"):
        services.vote_cast(review=review, actor=personas[member], choice="approve")
    review.third = third
    return review


def test_it_decides_when_the_member_who_had_not_voted_leaves(three, access, client_for):
    client_for("hdab_admin").post(
        reverse("access:committee_member_remove", args=[access.valencia.pk, three.third.pk])
    )

    three.refresh_from_db()
    assert not is_member(three.third, access.valencia)
    assert three.status == Review.Status.APPROVED
    assert AuditEvent.objects.filter(action="access.review.approved").exists()


def test_it_decides_when_the_rule_changes(three, access):
    services.committee_update(committee=access.valencia, actor=None, decision_rule="majority")

    three.refresh_from_db()
    assert three.status == Review.Status.APPROVED


def test_it_refuses_removing_the_last_chair(access, personas, client_for):
    chair = personas["committee_chair"]

    page = client_for("hdab_admin").post(
        reverse("access:committee_member_remove", args=[access.valencia.pk, chair.pk]),
        follow=True,
    )

    assert "is the only chair of Valencia DAC" in page.content.decode()
    assert list(chairs_of(access.valencia)) == [chair]
    assert not AuditEvent.objects.filter(action="access.committee.member_removed").exists()


def test_it_removes_a_chair_when_another_chairs(access, personas):
    second = UserFactory(username="second", roles=[Role.COMMITTEE_MEMBER])
    services.committee_add_member(committee=access.valencia, user=second, actor=None, chair=True)

    services.committee_remove_member(
        committee=access.valencia, user=personas["committee_chair"], actor=None
    )

    assert list(chairs_of(access.valencia)) == [second]
    event = AuditEvent.objects.filter(action="access.committee.member_removed").get()
    assert event.details["chair"] is True
