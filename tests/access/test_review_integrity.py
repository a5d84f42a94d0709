"""Nobody reviews their own application.

A researcher who also sits on a committee files an application that committee reviews. The
tests replay what they could do before: vote, ask, comment, read the committee's side, decide
as chair, extend the deadline, change their own permit, through the pages and the API alike.
"""

import json

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from access import services
from access.models import Permit, Review, TeamMember
from access.selectors import review_capacity, stuck_reviews
from portal.models import AuditEvent, Role, User
from tests.conftest import complete_application_fields
from tests.factories import UserFactory

JSON = "application/json"


def api(client, method, name, data=None, **kwargs):
    url = reverse(f"access_api:{name}", kwargs=kwargs)
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, data=json.dumps(data or {}), content_type=JSON)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def insider(db):
    """A researcher who also holds the committee-member role."""
    return UserFactory(
        username="insider",
        first_name="Ines",
        last_name="Insider",
        roles=[Role.RESEARCHER, Role.COMMITTEE_MEMBER],
    )


def _apply(applicant, datasets, *, title="Own study", team=()):
    application = services.application_create(applicant=applicant, title=title, datasets=datasets)
    services.application_update(
        application=application, actor=applicant, **complete_application_fields()
    )
    for email in team:
        services.team_invite(application=application, actor=applicant, email=email)
    return application


@pytest.fixture
def own(access, catalogue, insider):
    """The insider chairs the Oslo committee (beside the usual chair) and applies for the Oslo
    dataset: the Oslo review of that application is their own."""
    services.committee_add_member(committee=access.oslo, user=insider, actor=None, chair=True)
    application = _apply(insider, [catalogue.published])
    services.application_submit(application=application, actor=insider)
    return Review.objects.get(application=application, committee=access.oslo)


# --- The applicant on a committee -------------------------------------------------------------
def test_it_refuses_the_applicant_every_committee_action_through_the_api(own, insider):
    client = logged_in(insider)
    pk = own.pk
    assert api(client, "get", "review", pk=pk).status_code == 404
    assert api(client, "post", "review_vote", {"choice": "approve"}, pk=pk).status_code == 404
    assert api(client, "post", "review_decide", {"approve": True}, pk=pk).status_code == 404
    asked = api(client, "post", "review_clarification", {"question": "Sure?"}, pk=pk)
    assert asked.status_code == 404
    assert api(client, "post", "review_conflict", {}, pk=pk).status_code == 404
    queue = api(client, "get", "reviews").json()
    assert pk not in [r["id"] for r in queue["results"]]
    own.refresh_from_db()
    assert own.status == Review.Status.PENDING
    assert not own.votes.exists()
    assert not Permit.objects.filter(application=own.application).exists()


def test_it_refuses_the_applicant_a_committee_comment(own, insider, access):
    client = logged_in(insider)
    answer = api(
        client,
        "post",
        "application_comments",
        {
            "body": "Internal: approve it",
            "visible_to_applicant": False,
            "committee": access.oslo.pk,
        },
        pk=own.application_id,
    )
    # Their own application: they may write to the committees as its applicant, and that is
    # what the comment becomes (visible to the applicant, tied to no committee).
    assert answer.status_code == 201
    assert answer.json()["committee"] is None
    assert answer.json()["visible_to_applicant"] is True


def test_it_refuses_the_applicant_every_committee_action_on_the_pages(own, insider):
    client = logged_in(insider)
    pk = own.pk
    posts = {
        "review_vote": {"choice": "approve", "reason": ""},
        "review_decide": {"decision": "approve", "reason": "", "conditions": "", "ends_on": ""},
        "review_clarify": {"question": "Anything?"},
        "review_comment": {"body": "Looks fine", "visible_to_applicant": ""},
        "review_conflict": {"note": ""},
    }
    for name, data in posts.items():
        assert client.post(reverse(f"access:{name}", args=[pk]), data).status_code == 404, name
    page = client.get(reverse("access:application_detail", args=[own.application_id]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Review by Oslo DAC" not in html
    assert "Cast the vote" not in html
    assert "Decide for the committee" not in html
    assert "Pre-screening" not in html
    own.refresh_from_db()
    assert own.status == Review.Status.PENDING
    assert not own.votes.exists()
    assert not own.application.clarifications.exists()


def test_it_hides_the_other_members_votes_and_reasons_from_the_applicant(own, insider, personas):
    services.vote_cast(
        review=own, actor=personas["committee_member"], choice="reject", reason="Private reason"
    )
    services.comment_add(
        application=own.application,
        actor=personas["committee_member"],
        body="Internal remark",
        visible_to_applicant=False,
        committee=own.committee,
    )
    client = logged_in(insider)
    assert api(client, "get", "review", pk=own.pk).status_code == 404
    comments = api(client, "get", "application_comments", pk=own.application_id).json()
    assert "Internal remark" not in json.dumps(comments)
    page = client.get(reverse("access:application_detail", args=[own.application_id]))
    assert "Private reason" not in page.content.decode()
    assert "Internal remark" not in page.content.decode()


def test_it_refuses_the_services_too(own, insider):
    with pytest.raises(services.NotPermitted):
        services.vote_cast(review=own, actor=insider, choice="approve")
    with pytest.raises(services.NotPermitted):
        services.review_decide(review=own, actor=insider, approve=True)
    with pytest.raises(services.NotPermitted):
        services.clarification_request(review=own, actor=insider, question="?")
    with pytest.raises(services.NotPermitted):
        services.deadline_extend(application=own.application, actor=insider, reason="More time")


def test_it_leaves_the_applicant_out_of_the_tally(own, insider, personas):
    """Only the other member may vote: their approval is a majority of one, not of two."""
    capacity = review_capacity(own)
    assert insider.pk not in capacity.voters
    assert capacity.voters == {personas["committee_chair"].pk, personas["committee_member"].pk}
    assert capacity.deciders == {personas["committee_chair"].pk}
    assert services.tally(own)["eligible"] == 2


def test_it_tells_the_committee_without_telling_the_applicant(
    access, catalogue, insider, django_capture_on_commit_callbacks
):
    services.committee_add_member(committee=access.oslo, user=insider, actor=None)
    application = _apply(insider, [catalogue.published])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(application=application, actor=insider)
    to_committee = [m for m in mail.outbox if "New data access application" in m.subject]
    assert {m.to[0] for m in to_committee} == {
        "committee_chair@example.org",
        "committee_member@example.org",
    }


# --- Team members on a committee --------------------------------------------------------------
@pytest.mark.parametrize("answer", ["invited", "accepted"])
def test_it_excludes_team_members_invited_or_accepted(access, catalogue, personas, answer):
    chair = personas["committee_chair"]
    application = _apply(personas["researcher"], [catalogue.published], team=[chair.email])
    member = application.team.get()
    if answer == "accepted":
        services.team_answer(token=member.token, user=chair, accept=True)
        services.application_submit(application=application, actor=personas["researcher"])
    else:
        # An unanswered invitation blocks submission; it can be answered later only while
        # the application is open, so the invitation is made after submission here.
        member.delete()
        services.application_submit(application=application, actor=personas["researcher"])
        TeamMember.objects.create(application=application, email=chair.email)
    review = Review.objects.get(application=application, committee=access.oslo)
    client = logged_in(chair)
    assert api(client, "post", "review_decide", {"approve": True}, pk=review.pk).status_code == 404
    assert api(client, "get", "review", pk=review.pk).status_code == 404
    review.refresh_from_db()
    assert review.status == Review.Status.PENDING
    page = client.get(reverse("access:application_detail", args=[application.pk]))
    if answer == "invited":
        assert page.status_code == 404  # not on the team yet, and out of the committee's side
    else:
        assert "Decide for the committee" not in page.content.decode()


def test_it_lets_a_member_who_declined_the_invitation_review(access, catalogue, personas):
    """Otherwise an applicant could silence a committee member by inviting them."""
    chair = personas["committee_chair"]
    application = _apply(personas["researcher"], [catalogue.published], team=[chair.email])
    services.team_answer(token=application.team.get().token, user=chair, accept=False)
    services.application_submit(application=application, actor=personas["researcher"])
    review = Review.objects.get(application=application, committee=access.oslo)
    answer = api(logged_in(chair), "post", "review_decide", {"approve": True}, pk=review.pk)
    assert answer.status_code == 200
    assert answer.json()["status"] == "approved"


# --- Deadlines and permits --------------------------------------------------------------------
def test_it_refuses_a_chair_extending_their_own_deadline(own, insider):
    client = logged_in(insider)
    answer = api(
        client,
        "post",
        "application_extend_deadline",
        {"reason": "More time"},
        pk=own.application_id,
    )
    assert answer.status_code == 403
    url = reverse("access:application_extend", args=[own.application_id])
    assert client.post(url, {"reason": "More time"}).status_code == 404
    own.application.refresh_from_db()
    assert not own.application.extended


def test_it_refuses_a_chair_changing_their_own_permit(access, catalogue, insider, personas):
    application = _apply(insider, [catalogue.published])
    services.application_submit(application=application, actor=insider)
    review = Review.objects.get(application=application, committee=access.oslo)
    services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    permit = Permit.objects.get(application=application)
    services.permit_change(
        permit=permit, actor=personas["committee_chair"], change="suspend", reason="Audit"
    )
    # Made chair afterwards, the holder tries to lift the suspension of their own permit.
    services.committee_add_member(committee=access.oslo, user=insider, actor=None, chair=True)
    client = logged_in(insider)
    # They see their permit, so are refused (403), not told it does not exist.
    answer = api(client, "post", "permit_change", {"change": "reactivate"}, pk=permit.pk)
    assert answer.status_code == 403
    page = client.post(reverse("access:permit_change", args=[permit.pk]), {"change": "reactivate"})
    assert page.status_code == 403
    assert (
        "Reactivate"
        not in client.get(reverse("access:permit_detail", args=[permit.pk])).content.decode()
    )
    with pytest.raises(services.NotPermitted):
        services.permit_change(permit=permit, actor=insider, change="reactivate")
    permit.refresh_from_db()
    assert permit.status == Permit.Status.SUSPENDED


# --- Warnings to the access body and the committee --------------------------------------------
def test_it_warns_the_access_body_when_seating_an_applicant(access, catalogue, insider, client_for):
    application = _apply(insider, [catalogue.published])
    services.application_submit(application=application, actor=insider)
    client = client_for("hdab_admin")
    answer = client.post(
        reverse("access:committee_member_add", args=[access.oslo.pk]),
        {"user": insider.pk, "chair": "on"},
        follow=True,
    )
    text = answer.content.decode()
    assert "excluded from those reviews" in text
    assert f"#{application.pk}" in text
    event = AuditEvent.objects.filter(action="access.committee.member_added").order_by("seq").last()
    assert event.details["excluded_from"] == [application.pk]
    # The committee page keeps saying so.
    page = client.get(reverse("access:committee_detail", args=[access.oslo.pk])).content.decode()
    assert "Members left out of open reviews" in page
    assert "Ines Insider (the applicant)" in page


def test_it_flags_a_review_nobody_may_decide(
    access, catalogue, insider, personas, client_for, django_capture_on_commit_callbacks, settings
):
    """The Valencia committee (majority rule) has one member, the chair; when the chair's own
    application is routed there, nobody may vote or decide."""
    settings.HDAB_EMAIL = "hdab@example.org"
    personas["committee_chair"].role_assignments.create(role=Role.RESEARCHER)
    chair = User.objects.get(pk=personas["committee_chair"].pk)
    application = _apply(chair, [catalogue.other_published], title="Chair's own study")
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(application=application, actor=chair)
    alert = [m for m in mail.outbox if m.to == ["hdab@example.org"]]
    assert len(alert) == 1
    assert "Valencia DAC cannot decide" in alert[0].body
    assert "is the applicant" in alert[0].body
    review = Review.objects.get(application=application, committee=access.valencia)

    stuck = stuck_reviews()
    assert [r.pk for r, _c in stuck] == [review.pk]
    why = stuck[0][1].why
    assert why.startswith("Nobody may vote or decide")
    assert "is the applicant" in why

    admin = client_for("hdab_admin")
    dashboard = admin.get(reverse("role_dashboard", args=["hdab"])).content.decode()
    assert "Reviews nobody may decide" in dashboard
    assert "Chair&#x27;s own study" in dashboard or "Chair's own study" in dashboard
    committee_page = admin.get(reverse("access:committee_detail", args=[access.valencia.pk]))
    assert "Reviews nobody may decide" in committee_page.content.decode()
    assert "is the applicant" in committee_page.content.decode()
    detail = admin.get(reverse("access:application_detail", args=[application.pk]))
    assert "Valencia DAC cannot decide" in detail.content.decode()

    # Another member joins: the flag goes.
    services.committee_add_member(
        committee=access.valencia, user=personas["committee_member"], actor=None
    )
    assert stuck_reviews() == []
    dashboard = admin.get(reverse("role_dashboard", args=["hdab"])).content.decode()
    assert "Reviews nobody may decide" not in dashboard


def test_it_flags_a_chair_rule_review_whose_only_chair_is_conflicted(access, personas, client_for):
    review = Review.objects.get(application=access.submitted, committee=access.oslo)
    services.conflict_declare(review=review, actor=personas["committee_chair"], note="Co-author")
    stuck = stuck_reviews(access.oslo)
    assert [r.pk for r, _c in stuck] == [review.pk]
    assert stuck[0][1].why.startswith("No chair may decide")
    assert "declared a conflict of interest" in stuck[0][1].why
    page = client_for("committee_member").get(
        reverse("access:application_detail", args=[access.submitted.pk])
    )
    assert "No chair may decide" in page.content.decode()


def test_it_warns_a_member_whose_vote_alone_decides(access, personas, client_for):
    """Valencia decides by majority and has one member: their vote is final on its own."""
    review = Review.objects.get(application=access.submitted, committee=access.valencia)
    client = client_for("committee_chair")
    page = client.get(reverse("access:application_detail", args=[access.submitted.pk]))
    html = page.content.decode()
    assert "You are the only member who may vote" in html
    assert "Voting “Approve” decides the review: Approved." in html
    detail = api(client, "get", "review", pk=review.pk).json()
    assert detail["decisive_votes"] == {
        "approve": "approved",
        "reject": "rejected",
        "abstain": "rejected",
    }
    committee_page = client_for("hdab_admin").get(
        reverse("access:committee_detail", args=[access.valencia.pk])
    )
    assert "Reviews one vote decides alone" in committee_page.content.decode()


def test_it_does_not_warn_when_no_single_vote_decides(access, personas, client_for):
    """Oslo decides by the chair's decision: votes never settle it."""
    review = Review.objects.get(application=access.submitted, committee=access.oslo)
    detail = api(client_for("committee_member"), "get", "review", pk=review.pk).json()
    assert detail["decisive_votes"] == {}
    page = client_for("committee_member").get(
        reverse("access:application_detail", args=[access.submitted.pk])
    )
    assert "decides the review" not in page.content.decode()


def test_it_asks_before_a_vote_becomes_the_final_decision(access, client_for):
    review = Review.objects.get(application=access.submitted, committee=access.valencia)
    chair = client_for("committee_chair")
    url = reverse("access:review_vote", args=[review.pk])
    asked = chair.post(url, {"choice": "approve", "reason": ""})
    assert asked.status_code == 200
    text = asked.content.decode()
    assert "the committee&#x27;s final decision is approved" in text
    assert "You are the only member who may vote" in text
    review.refresh_from_db()
    assert not review.votes.exists() and review.status == Review.Status.PENDING
    done = chair.post(url, {"choice": "approve", "reason": "", "confirmed": "yes"})
    assert done.status_code == 302
    review.refresh_from_db()
    assert review.status == Review.Status.APPROVED


def test_it_records_a_vote_that_decides_nothing_at_once(access, personas, client_for):
    services.committee_add_member(
        committee=access.valencia, user=personas["committee_member"], actor=None
    )
    services.committee_add_member(
        committee=access.valencia,
        user=UserFactory(username="third", roles=[Role.COMMITTEE_MEMBER]),
        actor=None,
    )
    review = Review.objects.get(application=access.submitted, committee=access.valencia)
    answer = client_for("committee_member").post(
        reverse("access:review_vote", args=[review.pk]), {"choice": "approve", "reason": ""}
    )
    assert answer.status_code == 302
    assert review.votes.get().choice == "approve"


def test_it_keeps_a_vote_when_its_voter_is_deleted_in_the_admin(access, personas, client_for):
    """Deleting a member must not silently change an open review's tally."""
    review = Review.objects.get(application=access.submitted, committee=access.oslo)
    services.vote_cast(review=review, actor=personas["committee_member"], choice="approve")
    member = personas["committee_member"]
    answer = client_for("hdab_admin").post(
        f"/admin/portal/user/{member.pk}/delete/", {"post": "yes"}
    )
    assert answer.status_code == 200
    assert "Cannot delete" in answer.content.decode()
    assert User.objects.filter(pk=member.pk).exists()
    assert review.votes.get().member == member
    assert not AuditEvent.objects.filter(action="portal.user.deleted").exists()
