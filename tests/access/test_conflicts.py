"""A member who declares a conflict of interest leaves the review: the conflict is recorded
whatever the application's state, their vote no longer counts, and they take no further part in
it (questions, comments, the deadline, the permit, the application's emails)."""

import json

import pytest
from django.urls import reverse

from access import services
from access.models import Application, ConflictOfInterest, Review
from portal.models import AuditEvent, Role
from tests.factories import UserFactory

JSON = "application/json"


def api(client, method, name, data=None, **kwargs):
    url = reverse(f"access_api:{name}", kwargs=kwargs)
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, data=json.dumps(data or {}), content_type=JSON)


@pytest.fixture
def valencia_review(access, personas):
    """The Valencia committee (majority rule) with the chair and a member, reviewing a
    submitted application."""
    services.committee_add_member(
        committee=access.valencia, user=personas["committee_member"], actor=None
    )
    application = access.new_application("Conflicted study", submit=True)
    return Review.objects.get(application=application, committee=access.valencia)


def test_it_records_a_conflict_during_a_clarification_and_counts_the_votes_on_the_answer(
    valencia_review, personas, client_for
):
    review = valencia_review
    member, chair = personas["committee_member"], personas["committee_chair"]
    services.vote_cast(review=review, actor=member, choice="approve")
    services.clarification_request(review=review, actor=member, question="Which scanners?")

    answer = api(client_for("committee_chair"), "post", "review_conflict", {"note": "co-author"},
                 pk=review.pk)  # fmt: skip

    assert answer.status_code == 200, answer.content
    assert ConflictOfInterest.objects.filter(review=review, member=chair).exists()
    review.refresh_from_db()
    review.application.refresh_from_db()
    # Nothing is decided while the applicant is answering.
    assert review.status == Review.Status.PENDING
    assert review.application.status == Application.Status.CLARIFICATION

    answered = api(client_for("researcher"), "post", "application_clarification_answer",
                   {"answer": "Siemens and GE."}, pk=review.application_id)  # fmt: skip

    assert answered.status_code == 200, answered.content
    review.refresh_from_db()
    # The member's approval is now the majority of the one member left who may vote.
    assert review.status == Review.Status.APPROVED
    assert AuditEvent.objects.filter(action="access.review.approved").exists()


def test_it_never_rejects_while_the_applicant_is_answering(valencia_review, personas, access):
    review = valencia_review
    third = UserFactory(username="third", roles=[Role.COMMITTEE_MEMBER])
    services.committee_add_member(committee=access.valencia, user=third, actor=None)
    member, chair = personas["committee_member"], personas["committee_chair"]
    services.vote_cast(review=review, actor=member, choice="reject", reason="Too broad.")
    services.clarification_request(review=review, actor=chair, question="Narrow it?")

    services.conflict_declare(review=review, actor=chair)

    review.refresh_from_db()
    review.application.refresh_from_db()
    assert review.status == Review.Status.PENDING
    assert review.application.status == Application.Status.CLARIFICATION
