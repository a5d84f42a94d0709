"""The audit chain says what changed on a committee, and what a conflict declaration undid."""

from access import services
from access.models import Review
from portal.models import AuditEvent


def test_it_records_only_the_changed_fields_of_a_committee_with_old_and_new(access, catalogue):
    services.committee_update(
        committee=access.oslo,
        actor=None,
        name="Oslo imaging DAC",
        description="",
        decision_rule="chair",
        nodes=[catalogue.own_node],
        datasets=[catalogue.published],
    )

    event = AuditEvent.objects.filter(action="access.committee.updated").get()
    assert event.details["changes"] == {
        "name": {"old": "Oslo DAC", "new": "Oslo imaging DAC"},
        "datasets": {"old": [], "new": [catalogue.published.pk]},
    }


def test_it_records_nothing_when_nothing_changed(access, catalogue):
    services.committee_update(
        committee=access.oslo, actor=None, name="Oslo DAC", nodes=[catalogue.own_node]
    )

    assert not AuditEvent.objects.filter(action="access.committee.updated").exists()


def test_it_records_the_vote_a_conflict_withdrew(access, personas):
    review = Review.objects.get(application=access.submitted, committee=access.oslo)
    member = personas["committee_member"]
    services.vote_cast(review=review, actor=member, choice="approve")

    services.conflict_declare(review=review, actor=member)

    event = AuditEvent.objects.filter(action="access.review.conflict_declared").get()
    assert event.details["vote_withdrawn"] == "approve"
