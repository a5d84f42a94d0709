"""The committee's side of the application page, and the committee dashboard."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from access.models import Application, Comment, Review, TeamMember, Vote
from portal.models import AuditEvent

INTERNAL = "Internal: the applicant's group had a breach last year."
FOR_APPLICANT = "Please say which scanners produced the images."


def _review(application, committee):
    return Review.objects.get(application=application, committee=committee)


def _detail(application):
    return reverse("access:application_detail", args=[application.pk])


def _text(response) -> str:
    return response.content.decode()


def _access_events():
    return AuditEvent.objects.filter(action__startswith="access.").count()


def test_it_shows_the_pre_screening_to_reviewers_as_advice_only(access, client_for):
    item = access.submitted.items.select_related("dataset").get(dataset__title="Lung CT collection")
    page = _text(client_for("committee_member").get(_detail(access.submitted)))
    assert "(advice)" in page and "not a decision" in page
    for finding in item.prescreen_findings:
        assert finding["code"] in page
    assert "NCU (non-commercial use only)" in page
    applicant_page = _text(client_for("researcher").get(_detail(access.submitted)))
    assert "(advice)" not in applicant_page and "DUO:0000046" not in applicant_page


def test_it_never_shows_internal_comments_to_the_applicant_or_team(access, client_for, personas):
    member = client_for("committee_member")
    oslo = _review(access.submitted, access.oslo)
    url = reverse("access:review_comment", args=[oslo.pk])
    assert member.post(url, {"body": INTERNAL}).status_code == 302
    assert (
        member.post(url, {"body": FOR_APPLICANT, "visible_to_applicant": "on"}).status_code == 302
    )
    assert Comment.objects.get(body=INTERNAL).visible_to_applicant is False

    # A team member who accepted reads the application like the applicant.
    TeamMember.objects.create(
        application=access.submitted,
        email="other_researcher@example.org",
        user=personas["other_researcher"],
        status=TeamMember.Status.ACCEPTED,
    )
    for persona in ["researcher", "other_researcher"]:
        page = _text(client_for(persona).get(_detail(access.submitted)))
        assert FOR_APPLICANT in page, persona
        assert "breach last year" not in page and "Internal to the committee" not in page, persona
    for persona in ["committee_member", "committee_chair", "hdab_admin"]:
        page = _text(client_for(persona).get(_detail(access.submitted)))
        assert "breach last year" in page and FOR_APPLICANT in page, persona

    # The applicant replies; every reviewer reads the reply.
    researcher = client_for("researcher")
    reply = reverse("access:application_comment", args=[access.submitted.pk])
    assert researcher.post(reply, {"body": "Siemens and GE scanners."}).status_code == 302
    assert "Siemens and GE scanners." in _text(member.get(_detail(access.submitted)))


def test_it_shows_the_vote_tally_and_records_votes(access, client_for, personas):
    oslo = _review(access.submitted, access.oslo)
    response = client_for("committee_member").post(
        reverse("access:review_vote", args=[oslo.pk]), {"choice": "approve"}
    )
    assert response.status_code == 302
    assert Vote.objects.get(review=oslo, member=personas["committee_member"]).choice == "approve"
    page = _text(client_for("committee_chair").get(_detail(access.submitted)))
    assert "1 of 2 members who may vote have voted: 1 approve, 0 reject, 0 abstain." in page
    assert 'value="approve" required id="vote-' in page


@pytest.mark.parametrize(
    ("persona", "route", "committee", "data", "field", "message"),
    [
        ("committee_chair", "access:review_decide", "oslo", {"decision": "reject"}, "reason",
         "Give the reasons for rejecting."),
        ("committee_member", "access:review_vote", "oslo", {"choice": "reject"}, "reason",
         "Give the reasons for rejecting."),
        ("committee_chair", "access:review_decide", "oslo",
         {"decision": "approve", "ends_on": "2090-01-01"}, "ends_on", "at most 10 years"),
        ("committee_member", "access:review_vote", "oslo", {"choice": "maybe"}, "choice",
         "Select a valid choice"),
        ("committee_member", "access:review_clarify", "oslo", {"incomplete": "on"}, "question",
         "Write the question"),
        ("committee_member", "access:review_comment", "oslo", {"body": "  "}, "body",
         "This field is required"),
    ],
)  # fmt: skip
def test_it_explains_a_refused_review_action_and_stores_nothing(
    access, client_for, persona, route, committee, data, field, message
):
    review = _review(access.submitted, getattr(access, committee))
    client = client_for(persona)
    before = _access_events(), Vote.objects.count(), Comment.objects.count()
    response = client.post(reverse(route, args=[review.pk]), data)
    assert response.status_code == 200
    html = _text(response)
    assert message in html and 'role="alert"' in html and 'aria-invalid="true"' in html
    kind = route.split("_")[-1]
    assert f'id="{kind}-{review.pk}-{field}' in html
    review.refresh_from_db()
    assert review.status == "pending"
    assert Application.objects.get(pk=access.submitted.pk).status == "submitted"
    assert (_access_events(), Vote.objects.count(), Comment.objects.count()) == before


def test_it_extends_the_deadline_only_with_a_reason(access, client_for):
    chair = client_for("committee_chair")
    url = reverse("access:application_extend", args=[access.submitted.pk])
    due = access.submitted.decision_due
    response = chair.post(url, {"reason": ""})
    assert response.status_code == 200 and "Say why the deadline is extended." in _text(response)
    application = Application.objects.get(pk=access.submitted.pk)
    assert application.decision_due == due and not application.extended
    confirmed = {"reason": "Three committees must agree.", "confirmed": "yes"}
    assert chair.post(url, confirmed).status_code == 302
    assert client_for("committee_member").post(url, {"reason": "x"}).status_code == 404
    page = _text(client_for("researcher").get(_detail(access.submitted)))
    assert "Extended" in page and "Three committees must agree." in page
    assert url not in page
    assert url not in _text(chair.get(_detail(access.submitted)))  # once only


def test_it_takes_a_conflicted_member_out_of_the_vote(access, client_for):
    member = client_for("committee_member")
    oslo = _review(access.submitted, access.oslo)
    response = member.post(
        reverse("access:review_conflict", args=[oslo.pk]),
        {"note": "Co-author of the applicant", "confirmed": "yes"},
    )
    assert response.status_code == 302
    page = _text(member.get(_detail(access.submitted)))
    assert "You declared a conflict of interest" in page
    assert reverse("access:review_vote", args=[oslo.pk]) not in page
    response = member.post(reverse("access:review_vote", args=[oslo.pk]), {"choice": "approve"})
    assert response.status_code == 200 and "cannot vote" in _text(response)


def test_it_pauses_votes_while_a_clarification_is_open(access, client_for):
    oslo = _review(access.submitted, access.oslo)
    chair = client_for("committee_chair")
    chair.post(reverse("access:review_clarify", args=[oslo.pk]), {"question": "Which scanners?"})
    page = _text(chair.get(_detail(access.submitted)))
    assert "Waiting for the applicant" in page
    assert reverse("access:review_decide", args=[oslo.pk]) not in page
    response = chair.post(reverse("access:review_decide", args=[oslo.pk]), {"decision": "approve"})
    assert response.status_code == 302  # refused with a message: the workflow moved on
    assert "waits until the applicant has answered" in _text(chair.get(response.url))
    oslo.refresh_from_db()
    assert oslo.status == "pending"


def _submit_many(access, n):
    for i in range(n):
        access.new_application(f"Queued study {i}", submit=True)


def test_it_lists_the_committee_queue_in_bounded_queries(
    access, client_for, django_assert_max_num_queries
):
    chair = client_for("committee_chair")
    url = reverse("role_dashboard", args=["committee"])
    _submit_many(access, 1)
    with CaptureQueriesContext(connection) as few:
        assert chair.get(url).status_code == 200
    _submit_many(access, 8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = _text(chair.get(url))
    assert page.count("Queued study") == 18  # nine applications, two committees each


def test_it_flags_overdue_and_due_soon_applications_on_the_dashboard(access, client_for):
    late = access.new_application("Late study", submit=True)
    soon = access.new_application("Soon study", submit=True)
    now = timezone.now()
    Application.objects.filter(pk=late.pk).update(decision_due=now - timedelta(days=2))
    Application.objects.filter(pk=soon.pk).update(decision_due=now + timedelta(days=5))
    page = _text(client_for("committee_member").get(reverse("role_dashboard", args=["committee"])))
    rows = {row.split("</a>")[0].split(">")[-1]: row for row in page.split("<tr>")[2:]}
    assert "Overdue" in rows["Late study"] and "Due soon" not in rows["Late study"]
    assert "Due soon" in rows["Soon study"] and "Overdue" not in rows["Soon study"]
    assert "Overdue" not in rows["Submitted study"] and "Due soon" not in rows["Submitted study"]
    # The member sits on Oslo's committee only.
    assert "Valencia DAC" not in page
    detail = _text(client_for("committee_member").get(_detail(late)))
    assert "Overdue" in detail
