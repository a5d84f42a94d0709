"""The access workflow through the JSON API, from a basket to a permit."""

import datetime
import json
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from access import services
from access.models import Application, Permit, Review, TeamMember
from portal.models import AuditEvent
from tests.conftest import complete_application_fields
from tests.factories import UserFactory

JSON = "application/json"


def call(client, method, name, data=None, **kwargs):
    url = reverse(f"access_api:{name}", kwargs=kwargs)
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, data=json.dumps(data or {}), content_type=JSON)


def _review(application, committee):
    return Review.objects.get(application=application, committee=committee)


def _decide_all(application, chair):
    for review in application.reviews.all():
        services.review_decide(review=review, actor=chair, approve=True)


@pytest.fixture
def world(access, personas):
    """``access`` plus the Oslo and Valencia reviews of the submitted application, a permit
    issued by Oslo on another application, and an invitation sent to the citizen."""
    decided = access.new_application("Permitted study", submit=True)
    _decide_all(decided, personas["committee_chair"])
    invitation = services.team_invite(
        application=access.new_application("Team study"),
        actor=personas["researcher"],
        email="citizen@example.org",
    )
    return SimpleNamespace(
        access=access,
        draft=access.draft,
        submitted=access.submitted,
        oslo_review=_review(access.submitted, access.oslo),
        valencia_review=_review(access.submitted, access.valencia),
        permit=Permit.objects.get(application=decided, review__committee=access.oslo),
        invitation=invitation,
    )


# --- The whole way ---------------------------------------------------------------------------


def test_it_goes_from_basket_to_a_permit_for_exactly_the_approved_dataset(
    access, catalogue, client_for
):
    researcher, chair = client_for("researcher"), client_for("committee_chair")
    for dataset in (catalogue.published, catalogue.other_published):
        response = researcher.post(
            reverse("catalogue_api:basket"), {"dataset": dataset.pk}, content_type=JSON
        )
        assert response.status_code == 201

    response = call(researcher, "post", "applications", {"title": "Tumour segmentation"})
    assert response.status_code == 201, response.json()
    created = response.json()
    pk = created["id"]
    assert created["status"] == "draft"
    assert {i["dataset"]["id"] for i in created["items"]} == {
        catalogue.published.pk,
        catalogue.other_published.pk,
    }

    partial = {"purpose": "research_ai", "duo_codes": ["DUO:0000006"], "tools": "Python"}
    response = call(researcher, "patch", "application", partial, pk=pk)
    assert response.status_code == 200 and response.json()["purpose"] == "research_ai"

    stored = model_to_dict(Application.objects.get(pk=pk))
    events = AuditEvent.objects.count()
    response = call(researcher, "post", "application_submit", pk=pk)
    assert response.status_code == 400
    missing = response.json()["missing"]
    assert {"the expected benefit", "safeguards against misuse and re-identification"} <= set(
        missing
    )
    assert not any("purpose from EHDS" in m for m in missing)  # given already
    assert model_to_dict(Application.objects.get(pk=pk)) == stored
    assert AuditEvent.objects.count() == events and not Review.objects.filter(application=pk)
    assert call(researcher, "get", "application_missing", pk=pk).json() == {"missing": missing}

    response = call(researcher, "patch", "application", complete_application_fields(), pk=pk)
    assert response.status_code == 200
    assert call(researcher, "get", "application_missing", pk=pk).json() == {"missing": []}
    response = call(researcher, "post", "application_submit", pk=pk)
    assert response.status_code == 200 and response.json()["status"] == "submitted"

    queue = call(chair, "get", "reviews").json()["results"]
    mine = {r["committee"]["name"]: r["id"] for r in queue if r["application"]["id"] == pk}
    assert set(mine) == {"Oslo DAC", "Valencia DAC"}
    review = call(chair, "get", "review", pk=mine["Oslo DAC"]).json()
    assert [i["dataset"]["id"] for i in review["items"]] == [catalogue.published.pk]
    assert review["items"][0]["prescreen_outcome"]

    decision = {"approve": True, "conditions": "Publish results within 18 months."}
    response = call(chair, "post", "review_decide", decision, pk=mine["Oslo DAC"])
    assert response.status_code == 200 and response.json()["status"] == "approved"
    vote = {"choice": "reject", "reason": "Anonymised data would do."}
    response = call(chair, "post", "review_vote", vote, pk=mine["Valencia DAC"])
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "rejected"
    assert response.json()["tally"] == {
        "eligible": 1, "cast": 1, "approve": 0, "reject": 1, "abstain": 0,
    }  # fmt: skip

    application = call(researcher, "get", "application", pk=pk).json()
    assert application["status"] == "partially_approved"
    assert {i["dataset"]["id"]: i["decision"] for i in application["items"]} == {
        catalogue.published.pk: "approved",
        catalogue.other_published.pk: "rejected",
    }
    permits = call(researcher, "get", "permits").json()
    assert permits["count"] == 1
    (permit,) = permits["results"]
    assert permit["application"]["id"] == pk
    assert [d["id"] for d in permit["datasets"]] == [catalogue.published.pk]
    assert permit["conditions"] == "Publish results within 18 months."
    assert permit["status"] == "active"

    response = call(chair, "post", "review_decide", decision, pk=mine["Oslo DAC"])
    assert response.status_code == 409
    assert response.json() == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": "This review is closed.",
    }
    assert Permit.objects.filter(application=pk).count() == 1


def test_it_creates_a_draft_from_given_datasets(access, catalogue, client_for):
    data = {"title": "Only lungs", "datasets": [catalogue.other_published.pk]}
    response = call(client_for("researcher"), "post", "applications", data)
    assert response.status_code == 201
    assert [i["dataset"]["title"] for i in response.json()["items"]] == ["Lung CT collection"]


def test_it_asks_for_a_clarification_and_takes_the_answer(world, client_for):
    member, researcher = client_for("committee_member"), client_for("researcher")
    pk = world.submitted.pk
    question = {"question": "Which scanners?", "incomplete": True}
    response = call(member, "post", "review_clarification", question, pk=world.oslo_review.pk)
    assert response.status_code == 201 and response.json()["committee"]["name"] == "Oslo DAC"
    application = call(researcher, "get", "application", pk=pk).json()
    assert application["status"] == "clarification_requested"
    assert application["clarifications"][0]["question"] == "Which scanners?"
    response = call(researcher, "patch", "application", {"tools": "Python, R"}, pk=pk)
    assert response.status_code == 200  # the applicant may complete the form meanwhile
    response = call(researcher, "post", "application_clarification_answer",
                    {"answer": "Siemens 3T."}, pk=pk)  # fmt: skip
    assert response.status_code == 200
    assert response.json()["status"] == "under_review"
    assert response.json()["clarifications"][0]["answer"] == "Siemens 3T."
    response = call(researcher, "post", "application_clarification_answer", {"answer": "Again"},
                    pk=pk)  # fmt: skip
    assert response.status_code == 409


def test_it_invites_a_team_member_who_accepts(access, client_for, personas):
    researcher = client_for("researcher")
    data = {"email": "Citizen@Example.org", "role": "Statistician"}
    response = call(researcher, "post", "application_team", data, pk=access.draft.pk)
    assert response.status_code == 201
    assert response.json()["email"] == "citizen@example.org"
    member = TeamMember.objects.get(application=access.draft)
    assert "token" not in response.json() and member.token not in response.content.decode()
    assert call(researcher, "post", "application_team", data, pk=access.draft.pk).status_code == 400

    response = call(client_for("other_researcher"), "post", "invitation", {"accept": True},
                    token=member.token)  # fmt: skip
    assert response.status_code == 404  # addressed to someone else
    citizen = client_for("citizen")
    response = call(citizen, "post", "invitation", {"accept": True}, token=member.token)
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    assert call(citizen, "get", "application", pk=access.draft.pk).status_code == 200
    response = call(citizen, "post", "invitation", {"accept": False}, token=member.token)
    assert response.status_code == 409


def test_it_withdraws_once(access, client_for):
    researcher = client_for("researcher")
    pk = access.submitted.pk
    response = call(researcher, "post", "application_withdraw", {"reason": "Funding ended"}, pk=pk)
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    assert {r["status"] for r in response.json()["reviews"]} == {"closed"}
    assert call(researcher, "post", "application_withdraw", pk=pk).status_code == 409


def test_it_submits_only_once(access, client_for):
    researcher = client_for("researcher")
    assert call(researcher, "post", "application_submit", pk=access.draft.pk).status_code == 200
    response = call(researcher, "post", "application_submit", pk=access.draft.pk)
    assert response.status_code == 409
    assert response.json() == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": "Only a draft can be submitted.",
    }


def test_it_extends_the_deadline_once(access, client_for):
    chair = client_for("committee_chair")
    pk = access.submitted.pk
    due = Application.objects.get(pk=pk).decision_due
    response = call(chair, "post", "application_extend_deadline", {"reason": "Complex"}, pk=pk)
    assert response.status_code == 200 and response.json()["extended"] is True
    new = services.months_later(due, services.EXTENSION_PERIOD)
    assert Application.objects.get(pk=pk).decision_due == new
    response = call(chair, "post", "application_extend_deadline", {"reason": "Again"}, pk=pk)
    assert response.status_code == 409


def test_it_declares_a_conflict_and_withdraws_the_vote(world, client_for):
    member = client_for("committee_member")
    pk = world.oslo_review.pk
    assert call(member, "post", "review_vote", {"choice": "approve"}, pk=pk).status_code == 200
    response = call(member, "post", "review_conflict", {"note": "Co-author"}, pk=pk)
    assert response.status_code == 200
    assert response.json()["votes"] == [] and response.json()["conflicts"][0]["note"] == "Co-author"
    response = call(member, "post", "review_vote", {"choice": "approve"}, pk=pk)
    assert response.status_code == 400
    assert "conflict of interest" in response.json()["errors"]["detail"][0]


def test_it_suspends_and_reactivates_a_permit(world, client_for):
    chair, researcher = client_for("committee_chair"), client_for("researcher")
    pk = world.permit.pk
    response = call(chair, "post", "permit_change", {"change": "suspend", "reason": "Audit"}, pk=pk)
    assert response.status_code == 200 and response.json()["status"] == "suspended"
    assert call(researcher, "get", "permit", pk=pk).json()["status_reason"] == "Audit"
    data = {"change": "revoke", "reason": "Mine"}
    assert call(researcher, "post", "permit_change", data, pk=pk).status_code == 403
    data = {"change": "revoke", "reason": "Breach"}
    assert call(client_for("hdab_admin"), "post", "permit_change", data, pk=pk).status_code == 200
    response = call(chair, "post", "permit_change", {"change": "reactivate"}, pk=pk)
    assert response.status_code == 409


# --- Comments -------------------------------------------------------------------------------


def test_it_never_shows_the_applicant_internal_comments(world, client_for, personas):
    member, researcher = client_for("committee_member"), client_for("researcher")
    pk = world.submitted.pk
    for body, visible in [("Check the scanner list internally", False), ("Which scanners?", True)]:
        data = {"body": body, "visible_to_applicant": visible}
        response = call(member, "post", "application_comments", data, pk=pk)
        assert response.status_code == 201, response.json()
        assert response.json()["committee"]["name"] == "Oslo DAC"  # the member's only committee
    data = {"body": "Siemens 3T.", "visible_to_applicant": False}
    response = call(researcher, "post", "application_comments", data, pk=pk)
    assert response.status_code == 201 and response.json()["visible_to_applicant"] is True

    def bodies(persona):
        response = call(client_for(persona), "get", "application_comments", pk=pk)
        assert response.status_code == 200
        return [c["body"] for c in response.json()["results"]]

    everything = ["Check the scanner list internally", "Which scanners?", "Siemens 3T."]
    assert bodies("researcher") == ["Which scanners?", "Siemens 3T."]
    assert bodies("committee_member") == everything
    assert bodies("hdab_admin") == everything
    for name in ("application", "application_missing"):
        assert "internally" not in call(researcher, "get", name, pk=pk).content.decode()

    # A member of Valencia only does not read Oslo's internal remarks.
    valencia_only = UserFactory(username="valencia_member", roles=["committee_member"])
    services.committee_add_member(committee=world.access.valencia, user=valencia_only, actor=None)
    personas["valencia_member"] = valencia_only
    assert bodies("valencia_member") == ["Which scanners?", "Siemens 3T."]

    # The chair sits on both committees, so must say which one a comment is for.
    chair = client_for("committee_chair")
    response = call(chair, "post", "application_comments", {"body": "Noted"}, pk=pk)
    assert response.status_code == 400 and "committee" in response.json()["errors"]
    data = {"body": "Noted", "committee": world.access.valencia.pk}
    assert call(chair, "post", "application_comments", data, pk=pk).status_code == 201


def test_it_keeps_internal_comments_from_a_team_member_who_also_reviews(
    access, client_for, personas
):
    both = UserFactory(username="both", roles=["researcher", "committee_member"])
    services.committee_add_member(committee=access.oslo, user=both, actor=None)
    personas["both"] = both
    application = access.new_application("Team and committee")
    member = services.team_invite(application=application, actor=personas["researcher"],
                                  email=both.email)  # fmt: skip
    services.team_answer(token=member.token, user=both, accept=True)
    services.application_submit(application=application, actor=personas["researcher"])
    services.comment_add(
        application=application,
        actor=personas["committee_member"],
        body="Internal",
        visible_to_applicant=False,
        committee=access.oslo,
    )
    response = call(client_for("both"), "get", "application_comments", pk=application.pk)
    assert response.status_code == 200 and response.json()["results"] == []


# --- Invalid input --------------------------------------------------------------------------


def _state(obj):
    obj = type(obj).objects.get(pk=obj.pk)
    related = {
        name: getattr(obj, name).count()
        for name in ("team", "comments", "clarifications", "votes", "conflicts", "items")
        if hasattr(obj, name)
    }
    return model_to_dict(obj), related


def _in_ten_years_and_a_bit():
    return (datetime.date.today() + datetime.timedelta(days=3700)).isoformat()


# (persona, method, route, object, payload, field, part of the message)
INVALID = [
    ("researcher", "post", "applications", None, {}, "title", "required"),
    ("researcher", "post", "applications", None, {"title": "X", "datasets": [999999]},
     "datasets", "No published dataset with the id 999999"),
    ("researcher", "post", "applications", None, {"title": "X", "datasets": []},
     "datasets", "may not be empty"),
    ("researcher", "post", "applications", None, {"title": "   "}, "title", "may not be blank"),
    ("researcher", "post", "applications", None, {"title": "Empty basket"},
     "detail", "in your basket first"),
    ("researcher", "patch", "application", "draft", {"duo_codes": ["DUO:1"], "title": "New"},
     "duo_codes", "Unknown DUO codes: DUO:1"),
    ("researcher", "patch", "application", "draft", {"status": "approved"},
     "status", "cannot be changed here"),
    ("researcher", "patch", "application", "draft", {"ethics_approval": "ethics.pdf"},
     "ethics_approval", "ethics-approval endpoint"),
    ("researcher", "patch", "application", "draft",
     {"data_from": "2024-01-01", "data_to": "2020-01-01"}, "data_to", "before its start"),
    ("researcher", "patch", "application", "draft", {"processing_months": 500},
     "processing_months", "at most 10 years"),
    ("researcher", "patch", "application", "draft", {"purpose": "fun"},
     "purpose", "not a valid choice"),
    ("researcher", "patch", "application", "draft", {"title": ""}, "title", "may not be blank"),
    ("researcher", "post", "application_team", "draft", {"email": "not-an-email"},
     "email", "valid email"),
    ("researcher", "post", "application_withdraw", "draft", {"reason": ["why"]},
     "reason", "Not a valid string"),
    ("researcher", "post", "application_clarification_answer", "submitted", {"answer": " "},
     "answer", "may not be blank"),
    ("researcher", "post", "application_comments", "submitted", {"body": ""},
     "body", "may not be blank"),
    ("committee_member", "post", "application_comments", "submitted",
     {"body": "x", "committee": 999999}, "committee", "Invalid pk"),
    ("committee_member", "post", "application_comments", "submitted",
     {"body": "x", "committee": "valencia"}, "committee", "Incorrect type"),
    ("committee_chair", "post", "application_extend_deadline", "submitted", {},
     "reason", "required"),
    ("committee_member", "post", "review_vote", "oslo_review", {"choice": "maybe"},
     "choice", "not a valid choice"),
    ("committee_member", "post", "review_vote", "oslo_review", {"choice": "reject"},
     "reason", "Give the reasons for rejecting"),
    ("committee_member", "post", "review_conflict", "oslo_review", {"note": {"a": 1}},
     "note", "Not a valid string"),
    ("committee_member", "post", "review_clarification", "oslo_review", {"question": ""},
     "question", "may not be blank"),
    ("committee_chair", "post", "review_decide", "oslo_review", {}, "approve", "required"),
    ("committee_chair", "post", "review_decide", "oslo_review", {"approve": False},
     "reason", "Give the reasons for rejecting"),
    ("committee_chair", "post", "review_decide", "oslo_review",
     {"approve": True, "ends_on": _in_ten_years_and_a_bit()}, "ends_on", "at most 10 years"),
    ("committee_chair", "post", "review_decide", "oslo_review",
     {"approve": True, "ends_on": "next spring"}, "ends_on", "Date has wrong format"),
    ("citizen", "post", "invitation", "invitation", {"accept": "perhaps"},
     "accept", "Must be a valid boolean"),
    ("committee_chair", "post", "permit_change", "permit", {"change": "destroy"},
     "change", "not a valid choice"),
    ("committee_chair", "post", "permit_change", "permit", {"change": "suspend"},
     "reason", "Give the reason"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("persona", "method", "route", "target", "payload", "field", "message"),
    INVALID,
    ids=[f"{c[2]}-{c[5]}-{i}" for i, c in enumerate(INVALID)],
)
def test_it_refuses_invalid_input_and_changes_nothing(
    world, client_for, persona, method, route, target, payload, field, message
):
    obj = getattr(world, target) if target else None
    if target == "invitation":
        kwargs = {"token": obj.token}
    else:
        kwargs = {"pk": obj.pk} if obj else {}
    client = client_for(persona)  # signing in is audited too
    before = _state(obj) if obj else None
    applications, events = Application.objects.count(), AuditEvent.objects.count()

    response = call(client, method, route, payload, **kwargs)

    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in errors, errors
    assert any(message in m for m in errors[field]), errors
    assert AuditEvent.objects.count() == events and Application.objects.count() == applications
    if obj:
        assert _state(obj) == before


def test_it_answers_403_to_a_member_who_may_see_but_not_extend(access, client_for):
    before = Application.objects.get(pk=access.submitted.pk).decision_due
    response = call(
        client_for("committee_member"), "post", "application_extend_deadline",
        {"reason": "Busy"}, pk=access.submitted.pk,
    )  # fmt: skip
    assert response.status_code == 403
    assert "chair" in response.json()["detail"]
    assert Application.objects.get(pk=access.submitted.pk).decision_due == before


def test_it_refuses_malformed_json(access, client_for):
    url = reverse("access_api:application", kwargs={"pk": access.draft.pk})
    response = client_for("researcher").patch(url, "{title: oops", content_type=JSON)
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]


# --- Ethics approval ------------------------------------------------------------------------


def _upload(client, application, upload):
    url = reverse("access_api:application_ethics", kwargs={"pk": application.pk})
    return client.post(url, {"file": upload} if upload else {})


def test_it_stores_an_ethics_approval_pdf(access, client_for, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    pdf = SimpleUploadedFile("Dr Smith's letter.pdf", b"%PDF-1.7\n1 0 obj\n", "application/pdf")
    response = _upload(client_for("researcher"), access.draft, pdf)
    assert response.status_code == 200, response.json()
    name = response.json()["ethics_approval"]
    assert name.startswith(f"application-{access.draft.pk}-ethics") and name.endswith(".pdf")
    stored = Application.objects.get(pk=access.draft.pk).ethics_approval
    assert stored.read().startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (None, "No file was submitted."),
        (SimpleUploadedFile("approval.pdf", b"just text, not a PDF"), "PNG, JPEG or TIFF"),
        (SimpleUploadedFile("a.pdf", b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024)), "10 MB"),
    ],
    ids=["missing", "not-a-pdf", "too-large"],
)
def test_it_refuses_other_ethics_files(access, client_for, settings, tmp_path, upload, message):
    settings.MEDIA_ROOT = tmp_path
    before = _state(access.draft)
    response = _upload(client_for("researcher"), access.draft, upload)
    assert response.status_code == 400
    assert message in response.json()["errors"]["file"][0]
    assert _state(access.draft) == before and not any(tmp_path.iterdir())


# --- Lists stay cheap -----------------------------------------------------------------------


def _queries(client, name):
    with CaptureQueriesContext(connection) as queries:
        response = call(client, "get", name)
    assert response.status_code == 200
    return len(queries), response.json()["count"]


@pytest.mark.parametrize(
    ("persona", "name"),
    [
        ("researcher", "applications"),
        ("committee_chair", "applications"),
        ("hdab_admin", "applications"),
        ("committee_chair", "reviews"),
        ("researcher", "permits"),
        ("committee_member", "permits"),
        ("hdab_admin", "permits"),
    ],
)
def test_it_lists_with_a_bounded_number_of_queries(
    access, personas, client_for, django_assert_max_num_queries, persona, name
):
    client = client_for(persona)
    _decide_all(access.new_application("First", submit=True), personas["committee_chair"])
    few, few_rows = _queries(client, name)
    for n in range(4):
        application = access.new_application(f"More {n}")
        colleague = UserFactory(username=f"colleague{n}", roles=["researcher"])
        member = services.team_invite(application=application, actor=personas["researcher"],
                                      email=colleague.email)  # fmt: skip
        services.team_answer(token=member.token, user=colleague, accept=True)
        services.application_submit(application=application, actor=personas["researcher"])
        _decide_all(application, personas["committee_chair"])
    with django_assert_max_num_queries(few):
        response = call(client, "get", name)
    assert response.json()["count"] > few_rows
    assert few <= 12


# --- Schema ---------------------------------------------------------------------------------

API_PATHS = [
    "/api/access/register/",
    "/api/access/register/{id}/",
    "/api/access/applications/",
    "/api/access/applications/{id}/",
    "/api/access/applications/{id}/ethics-approval/",
    "/api/access/applications/{id}/submit/",
    "/api/access/applications/{id}/missing/",
    "/api/access/applications/{id}/withdraw/",
    "/api/access/applications/{id}/team/",
    "/api/access/applications/{id}/clarification-answer/",
    "/api/access/applications/{id}/comments/",
    "/api/access/applications/{id}/extend-deadline/",
    "/api/access/reviews/",
    "/api/access/reviews/{id}/",
    "/api/access/reviews/{id}/conflict/",
    "/api/access/reviews/{id}/vote/",
    "/api/access/reviews/{id}/clarification/",
    "/api/access/reviews/{id}/terms/",
    "/api/access/reviews/{id}/decide/",
    "/api/access/invitations/{token}/",
    "/api/access/permits/",
    "/api/access/permits/{id}/",
    "/api/access/permits/{id}/change/",
    "/api/access/permits/{id}/tokens/",
    "/api/access/permits/{id}/results/",
    "/api/access/permits/{id}/results/outputs/",
    "/api/access/permits/{id}/results/outputs/{output_pk}/",
    "/api/access/tokens/{id}/",
    "/api/access/tokens/{id}/revoke/",
]


def test_it_describes_every_endpoint_in_the_schema(client):
    response = client.get(reverse("api_schema"), {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    access_paths = sorted(p for p in schema["paths"] if p.startswith("/api/access/"))
    assert access_paths == sorted(API_PATHS)
    for path in API_PATHS:
        for method, operation in schema["paths"][path].items():
            ok = [code for code in operation["responses"] if code.startswith("2")]
            assert ok, (path, method)
            assert "404" in operation["responses"] or path.count("{") == 0, (path, method)
    submit = schema["paths"]["/api/access/applications/{id}/submit/"]["post"]["responses"]
    problem = submit["400"]["content"]["application/problem+json"]["schema"]["$ref"]
    assert problem.endswith("ProblemOutput")
    assert "missing" in schema["components"]["schemas"]["ProblemOutput"]["properties"]


def test_it_takes_a_session_and_its_csrf_token(access, personas):
    from django.test import Client

    researcher = personas["researcher"]
    researcher.set_password("a long test passphrase")
    researcher.save(update_fields=["password"])
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("login"))
    response = client.post(
        reverse("login"),
        {
            "username": "researcher",
            "password": "a long test passphrase",
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 302
    url = reverse("access_api:application_submit", kwargs={"pk": access.draft.pk})
    response = client.post(url, "{}", content_type=JSON)
    assert response.status_code == 403  # a session alone is not enough to write
    assert "CSRF" in response.json()["detail"]
    token = client.cookies["csrftoken"].value  # rotated when signing in
    response = client.post(url, "{}", content_type=JSON, headers={"X-CSRFToken": token})
    assert response.status_code == 200
