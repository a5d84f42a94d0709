"""The applicant's pages: from a basket to a permit with the test client, and every refusal
on the way shown on the page with nothing stored."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from access import services
from access.models import Application, Permit, Review, TeamMember
from portal.models import AuditEvent

PARTIAL = {
    "title": "Lesion detection in breast and lung",
    "organisation": "Instituto de Oncologia",
    "purpose": "research_ai",
    "duo_codes": ["DUO:0000006"],
    "action": "save",
}
COMPLETE = {
    **PARTIAL,
    "lay_title": "Finding tumours earlier on scans",
    "lay_summary": "We teach a computer program to spot small tumours on scans.",
    "ai_use": "trained",
    "purpose_description": "Train and validate a lesion detection model.",
    "disease_codes": "breast cancer, lung cancer",
    "intended_use": "Model training in the secure processing environment.",
    "expected_benefit": "Earlier detection of cancer.",
    "data_from": "2015-01-01",
    "data_to": "2024-12-31",
    "data_form": "pseudonymised",
    "pseudonymisation_justification": "Longitudinal follow-up needs linked studies.",
    "legal_basis": "GDPR Art 6(1)(e), public interest task of the institute.",
    "safeguards": "No export of images; outputs checked before release.",
    "processing_months": "24",
    "processing_justification": "Two training rounds.",
    "tools": "Python, PyTorch, GPU nodes of the processing environment.",
    "ethics_not_required": "Approved under the national secondary-use framework.",
    "prohibited_uses_confirmed": "on",
}
REJECTION = "The purpose does not need pseudonymised lung data."


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _stored(application):
    """Everything stored about an application, to show that a refusal changed nothing."""
    row = Application.objects.filter(pk=application.pk).values().get()
    items = list(application.items.order_by("pk").values_list("dataset_id", "decision"))
    return row, items, AuditEvent.objects.filter(action__startswith="access.").count()


def _review(application, committee):
    return Review.objects.get(application=application, committee=committee)


def _text(response) -> str:
    return response.content.decode()


def test_it_takes_a_researcher_from_basket_to_a_partial_approval(
    access, catalogue, client_for, personas
):
    researcher = client_for("researcher")
    for dataset in [catalogue.published, catalogue.other_published]:
        researcher.post(reverse("catalogue:basket_add", args=[dataset.pk]))

    page = researcher.get(reverse("access:application_create"))
    assert catalogue.published.title in _text(page)
    assert catalogue.other_published.title in _text(page)
    response = researcher.post(reverse("access:application_create"), {"title": PARTIAL["title"]})
    application = Application.objects.get(title=PARTIAL["title"])
    edit = reverse("access:application_edit", args=[application.pk])
    assert response.status_code == 302 and response.url == edit
    assert set(application.items.values_list("dataset", flat=True)) == {
        catalogue.published.pk,
        catalogue.other_published.pk,
    }

    # A partial draft is saved as it is.
    response = researcher.post(edit, PARTIAL)
    assert response.status_code == 302 and response.url == edit
    application.refresh_from_db()
    assert application.purpose == "research_ai" and application.duo_codes == ["DUO:0000006"]

    # Submitting it lists every missing item; the stored application does not change.
    before = _stored(application)
    response = researcher.post(edit, {**PARTIAL, "action": "submit"})
    assert response.status_code == 200
    missing = services.missing_items(application)
    assert len(missing) == 12 and response.context["missing"] == missing
    html = _text(response)
    box = html[html.index('role="alert" id="missing"') :]
    for item in missing:
        assert escape(item) in box
    assert _stored(application) == before

    # Completed, it is submitted and routed to both committees.
    response = researcher.post(edit, {**COMPLETE, "action": "submit"})
    detail = reverse("access:application_detail", args=[application.pk])
    assert response.status_code == 302 and response.url == detail
    application.refresh_from_db()
    assert application.status == "submitted" and application.disease_codes == [
        "breast cancer",
        "lung cancer",
    ]

    # The Oslo chair approves; Valencia's only member rejects, which settles its majority.
    chair = client_for("committee_chair")
    oslo, valencia = _review(application, access.oslo), _review(application, access.valencia)
    response = chair.post(
        reverse("access:review_decide", args=[oslo.pk]),
        {"decision": "approve", "conditions": "Publish results within 18 months.",
         "confirmed": "yes"},  # on the confirmation page (tests/access/test_confirmations.py)
    )  # fmt: skip
    assert response.status_code == 302 and response.url == f"{detail}#review-{oslo.pk}"
    response = chair.post(
        reverse("access:review_vote", args=[valencia.pk]),
        {"choice": "reject", "reason": REJECTION, "confirmed": "yes"},  # it decides alone
    )
    assert response.status_code == 302

    page = _text(researcher.get(detail))
    assert "Partially approved" in page
    assert REJECTION in page and "Publish results within 18 months." in page
    permit = Permit.objects.get(application=application)
    assert list(permit.datasets.all()) == [catalogue.published]
    assert reverse("access:permit_detail", args=[permit.pk]) in page
    permits = _text(researcher.get(reverse("access:permit_list")))
    assert permits.count(permit.number) == 1 and catalogue.published.title in permits
    listing = _text(researcher.get(reverse("access:application_list")))
    assert PARTIAL["title"] in listing and "Partially approved" in listing


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"duo_codes": ["DUO:9999999"]}, "duo_codes", "Select a valid choice"),
        ({"data_from": "2024-01-01", "data_to": "2020-01-01"}, "data_to", "before its start"),
        ({"processing_months": "240"}, "processing_months", "at most 10 years"),
        ({"title": ""}, "title", "This field is required"),
        ({"data_from": "not a date"}, "data_from", "Enter a valid date"),
    ],
)
def test_it_explains_bad_fields_and_keeps_the_draft(access, client_for, change, field, message):
    before = _stored(access.draft)
    response = client_for("researcher").post(
        reverse("access:application_edit", args=[access.draft.pk]),
        {**COMPLETE, "title": "Changed title", **change},
    )
    assert response.status_code == 200
    assert message in str(response.context["form"].errors[field])
    assert 'aria-invalid="true"' in _text(response)
    assert _stored(access.draft) == before


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            SimpleUploadedFile("approval.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024)),
            "limit is 10 MB",
        ),
        (SimpleUploadedFile("approval.docx", b"PK\x03\x04 word"), "PDF or an image"),
        (SimpleUploadedFile("approval.pdf", b"MZ\x90\x00 not a pdf"), "PDF or an image"),
    ],
    ids=["too-big", "wrong-type", "wrong-content"],
)
def test_it_refuses_an_ethics_file_that_is_too_big_or_not_a_pdf_or_image(
    access, client_for, upload, message
):
    before = _stored(access.draft)
    response = client_for("researcher").post(
        reverse("access:application_edit", args=[access.draft.pk]),
        {**COMPLETE, "ethics_approval": upload},
    )
    assert response.status_code == 200
    assert message in str(response.context["form"].errors["ethics_approval"])
    assert _stored(access.draft) == before


def test_it_keeps_the_ethics_approval_behind_the_access_check(access, client_for, settings):
    researcher = client_for("researcher")
    upload = SimpleUploadedFile(
        "approval.pdf", b"%PDF-1.7 approval", content_type="application/pdf"
    )
    edit = reverse("access:application_edit", args=[access.draft.pk])
    response = researcher.post(edit, {**COMPLETE, "ethics_approval": upload, "action": "submit"})
    assert response.status_code == 302
    application = Application.objects.get(pk=access.draft.pk)
    assert application.status == "submitted" and application.ethics_approval.name
    url = reverse("access:ethics_file", args=[application.pk])
    page = _text(researcher.get(reverse("access:application_detail", args=[application.pk])))
    assert url in page and f"/{settings.MEDIA_URL}" not in page
    for persona in ["researcher", "committee_member", "hdab_admin"]:
        response = client_for(persona).get(url)
        assert response.status_code == 200, persona
        assert b"".join(response.streaming_content) == b"%PDF-1.7 approval"
        assert response["Content-Disposition"].startswith("attachment")
        assert response["Cache-Control"] == "private, no-store"
    for persona in ["outsider", "other_researcher", "node_operator"]:
        assert client_for(persona).get(url).status_code == 404, persona


def test_it_removes_a_dataset_from_a_draft_but_not_the_last(access, catalogue, client_for):
    edit = reverse("access:application_edit", args=[access.draft.pk])
    researcher = client_for("researcher")
    response = researcher.post(
        edit, {**COMPLETE, "remove_datasets": [catalogue.other_published.pk]}
    )
    assert response.status_code == 302
    assert list(access.draft.items.values_list("dataset", flat=True)) == [catalogue.published.pk]
    before = _stored(access.draft)
    response = researcher.post(
        edit, {**COMPLETE, "title": "Changed", "remove_datasets": [catalogue.published.pk]}
    )
    assert response.status_code == 200
    assert "Keep at least one dataset" in str(response.context["form"].errors["remove_datasets"])
    assert _stored(access.draft) == before


def test_it_invites_a_team_member_who_accepts_on_the_invitation_page(access, client_for):
    researcher = client_for("researcher")
    invite = reverse("access:team_invite", args=[access.draft.pk])
    response = researcher.post(invite, {"email": "not-an-email"})
    assert response.status_code == 200 and "valid email" in _text(response)
    assert not access.draft.team.exists()
    response = researcher.post(invite, {"email": "other_researcher@example.org", "role": "Analyst"})
    assert response.status_code == 302
    member = access.draft.team.get()
    page = _text(researcher.get(reverse("access:application_edit", args=[access.draft.pk])))
    assert "other_researcher@example.org" in page and "Invited" in page

    colleague = client_for("other_researcher")
    url = reverse("access:invitation", args=[member.token])
    page = _text(colleague.get(url))
    assert "Draft study" in page and 'value="accept"' in page and 'value="decline"' in page
    assert client_for("citizen").get(url).status_code == 404
    assert colleague.post(url, {"answer": "accept"}).status_code == 302
    member.refresh_from_db()
    assert member.status == TeamMember.Status.ACCEPTED
    listing = _text(colleague.get(reverse("access:application_list")))
    assert "Draft study" in listing and "Team member" in listing


def test_it_withdraws_after_confirmation(access, client_for):
    researcher = client_for("researcher")
    url = reverse("access:application_withdraw", args=[access.submitted.pk])
    page = researcher.get(url)
    assert page.status_code == 200 and "cannot be reopened" in _text(page)
    assert Application.objects.get(pk=access.submitted.pk).status == "submitted"
    response = researcher.post(url, {"reason": "Funding ended."})
    assert response.status_code == 302
    assert Application.objects.get(pk=access.submitted.pk).status == "withdrawn"
    assert researcher.get(url).status_code == 302  # nothing left to withdraw


def _ask(access, client_for, question="Which scanners were used?"):
    review = _review(access.submitted, access.oslo)
    response = client_for("committee_member").post(
        reverse("access:review_clarify", args=[review.pk]),
        {"question": question, "incomplete": "on"},
    )
    assert response.status_code == 302


def test_it_saves_changes_and_answers_a_clarification_on_the_edit_page(access, client_for):
    _ask(access, client_for)
    researcher = client_for("researcher")
    detail = reverse("access:application_detail", args=[access.submitted.pk])
    page = _text(researcher.get(detail))
    assert "Which scanners were used?" in page and "Application incomplete" in page
    edit = reverse("access:application_edit", args=[access.submitted.pk])
    page = _text(researcher.get(edit))
    assert "Which scanners were used?" in page and 'value="answer"' in page
    fields = {**COMPLETE, "title": "Submitted study", "action": "answer"}

    # An empty answer is refused before anything is saved.
    before = _stored(access.submitted)
    response = researcher.post(edit, {**fields, "tools": "Python only", "answer": ""})
    assert response.status_code == 200 and "answer" in response.context["answer_form"].errors
    assert _stored(access.submitted) == before

    # A change that leaves an item missing is saved, and the answer lists what is missing.
    response = researcher.post(edit, {**fields, "tools": "", "answer": "Siemens 3T."})
    assert response.status_code == 200
    assert "the tools and computing resources" in response.context["missing"]
    application = Application.objects.get(pk=access.submitted.pk)
    assert application.status == "clarification_requested" and application.tools == ""

    response = researcher.post(edit, {**fields, "tools": "Python only", "answer": "Siemens 3T."})
    assert response.status_code == 302 and response.url == detail
    application = Application.objects.get(pk=access.submitted.pk)
    assert application.status == "under_review" and application.tools == "Python only"
    assert application.decision_due is not None and application.completion_due is None
    assert "Siemens 3T." in _text(researcher.get(detail))


def test_it_answers_a_clarification_on_the_application_page(access, client_for):
    _ask(access, client_for)
    researcher = client_for("researcher")
    answer = reverse("access:application_answer", args=[access.submitted.pk])
    assert answer in _text(
        researcher.get(reverse("access:application_detail", args=[access.submitted.pk]))
    )
    response = researcher.post(answer, {"answer": ""})
    assert response.status_code == 200 and "This field is required" in _text(response)
    assert Application.objects.get(pk=access.submitted.pk).status == "clarification_requested"
    assert researcher.post(answer, {"answer": "Siemens 3T."}).status_code == 302
    assert Application.objects.get(pk=access.submitted.pk).status == "under_review"
    assert client_for("committee_member").post(answer, {"answer": "x"}).status_code == 404


def test_it_lists_my_applications_with_an_overdue_badge(access, client_for, personas):
    from datetime import timedelta

    from django.utils import timezone

    Application.objects.filter(pk=access.submitted.pk).update(
        decision_due=timezone.now() - timedelta(days=1)
    )
    page = _text(client_for("researcher").get(reverse("access:application_list")))
    assert "Draft study" in page and "Submitted study" in page
    assert page.count("Overdue") == 1
    assert reverse("access:application_edit", args=[access.draft.pk]) in page
    assert "Draft study" not in _text(
        client_for("other_researcher").get(reverse("access:application_list"))
    )


def test_it_links_the_applicants_pages_from_the_navigation(client_for, personas):
    page = _text(client_for("researcher").get(reverse("home")))
    assert reverse("access:application_list") in page and reverse("access:permit_list") in page
    assert reverse("access:application_list") not in _text(
        client_for("citizen").get(reverse("home"))
    )


def test_it_needs_a_title_and_a_basket_to_start_an_application(access, client_for):
    researcher = client_for("researcher")
    url = reverse("access:application_create")
    before = Application.objects.count()
    response = researcher.post(url, {"title": "Empty basket study"})
    assert response.status_code == 200
    assert "Put at least one published dataset in your basket first." in _text(response)
    response = researcher.post(url, {"title": " "})
    assert response.status_code == 200 and "This field is required" in _text(response)
    assert Application.objects.count() == before
