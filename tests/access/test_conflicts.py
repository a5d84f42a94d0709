"""A member who declares a conflict of interest leaves the review: the conflict is recorded
whatever the application's state, their vote no longer counts, and they take no further part in
it (questions, comments, the deadline, the permit, the application's emails)."""

import json

import pytest
from django.core import mail
from django.urls import reverse

from access import services
from access.models import Application, ConflictOfInterest, Permit, Review
from portal.models import AuditEvent, Role
from tests.conftest import complete_application_fields
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


@pytest.fixture
def conflicted(access, personas, catalogue):
    """An application for the Valencia dataset only, whose chair (also Valencia's only chair)
    declared a conflict; ``committee_member`` sits on Valencia too."""
    services.committee_add_member(
        committee=access.valencia, user=personas["committee_member"], actor=None
    )
    researcher = personas["researcher"]
    application = services.application_create(
        applicant=researcher, title="Lung study", datasets=[catalogue.other_published]
    )
    services.application_update(
        application=application, actor=researcher, **complete_application_fields()
    )
    services.application_submit(application=application, actor=researcher)
    review = Review.objects.get(application=application)
    services.conflict_declare(review=review, actor=personas["committee_chair"], note="Co-author")
    return review


def test_it_refuses_a_conflicted_member_questions_and_comments(conflicted, client_for):
    chair = client_for("committee_chair")
    pk = conflicted.application_id

    asked = api(chair, "post", "review_clarification", {"question": "Why?", "incomplete": True},
                pk=conflicted.pk)  # fmt: skip
    commented = api(chair, "post", "application_comments",
                    {"body": "Internal", "visible_to_applicant": False,
                     "committee": conflicted.committee_id}, pk=pk)  # fmt: skip

    assert asked.status_code == 403
    assert "conflict of interest" in asked.json()["detail"]
    assert commented.status_code == 403
    application = Application.objects.get(pk=pk)
    assert application.status == Application.Status.UNDER_REVIEW
    assert application.decision_due is not None  # the clock still runs
    assert not application.clarifications.exists()
    assert not application.comments.exists()
    page = chair.get(reverse("access:application_detail", args=[pk])).content.decode()
    assert "Request clarification" not in page
    assert "Add the comment" not in page


def test_it_refuses_a_conflicted_chair_the_deadline(conflicted, client_for):
    chair = client_for("committee_chair")
    pk = conflicted.application_id

    extended = api(chair, "post", "application_extend_deadline", {"reason": "Busy"}, pk=pk)

    assert extended.status_code == 403
    assert not Application.objects.get(pk=pk).extended
    page = chair.get(reverse("access:application_detail", args=[pk])).content.decode()
    assert "Extend the deadline" not in page


def test_it_refuses_a_conflicted_chair_the_permit(conflicted, personas, client_for):
    services.vote_cast(review=conflicted, actor=personas["committee_member"], choice="approve")
    permit = Permit.objects.get(review=conflicted)

    changed = api(client_for("committee_chair"), "post", "permit_change",
                  {"change": "suspend", "reason": "Audit"}, pk=permit.pk)  # fmt: skip

    assert changed.status_code == 403
    permit.refresh_from_db()
    assert permit.status == Permit.Status.ACTIVE


def test_it_sends_a_conflicted_member_none_of_the_applications_emails(
    conflicted, personas, django_capture_on_commit_callbacks
):
    services.clarification_request(
        review=conflicted, actor=personas["committee_member"], question="Which scanners?"
    )
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.clarification_answer(
            application=conflicted.application, actor=personas["researcher"], answer="Siemens."
        )

    recipients = {address for message in mail.outbox for address in message.to}
    assert personas["committee_member"].email in recipients
    assert personas["committee_chair"].email not in recipients
