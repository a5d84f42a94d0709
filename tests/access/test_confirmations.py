"""Actions on the access pages that cannot be undone ask first, saying what will happen, and
the message afterwards says what changed. Nothing happens before the confirmation; the API
still acts at once (tests/access/test_api.py)."""

import re

import pytest
from django.urls import reverse

from access import services
from access.models import Application, ConflictOfInterest, Permit, Review
from portal.models import AuditEvent


def _review(application, committee):
    return Review.objects.get(application=application, committee=committee)


def _detail(application):
    return reverse("access:application_detail", args=[application.pk])


def _text(response) -> str:
    return response.content.decode()


def _events():
    return AuditEvent.objects.count()


def _message(client, response) -> str:
    """The page a redirect leads to, where the message is shown once."""
    assert response.status_code == 302, response
    return _text(client.get(response.url))


def _hidden(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


def _confirmation(response) -> str:
    """The confirmation page: it asks, carries the values, and offers Confirm and Cancel."""
    assert response.status_code == 200
    html = _text(response)
    assert "What will happen" in html
    assert 'name="confirmed" value="yes"' in html and "Cancel" in html
    assert "csrfmiddlewaretoken" in html and "<script" not in html
    return html


def test_it_asks_before_a_chair_approves_and_then_names_the_permit(access, client_for, personas):
    chair = client_for("committee_chair")
    oslo, valencia = (
        _review(access.submitted, access.oslo),
        _review(access.submitted, access.valencia),
    )
    url = reverse("access:review_decide", args=[oslo.pk])
    data = {"decision": "approve", "conditions": "Publish within 18 months."}
    before = _events()

    html = _confirmation(chair.post(url, data))
    title = f"application {access.submitted.pk} “Submitted study”"
    assert f"Approve {title} for Oslo DAC?" in html
    assert "Oslo DAC grants access to: Breast MRI screening cohort." in html
    assert "decided once Valencia DAC have decided too" in html
    assert "Conditions of the permit: Publish within 18 months." in html
    hidden = _hidden(html)
    assert hidden.pop("csrfmiddlewaretoken") and hidden == data  # carried to the Confirm button
    assert _events() == before and _review(access.submitted, access.oslo).status == "pending"

    page = _message(chair, chair.post(url, {**data, "confirmed": "yes"}))
    assert f"Application {access.submitted.pk} “Submitted study” was approved for Oslo DAC" in page
    assert "the permit is issued once the other committees have decided" in page
    assert _review(access.submitted, access.oslo).permit_ends_on is None

    # The last committee's approval issues the permits: its confirmation and message say so.
    url = reverse("access:review_decide", args=[valencia.pk])
    html = _confirmation(chair.post(url, {"decision": "approve", "ends_on": "2030-06-30"}))
    holder = personas["researcher"].display_name
    assert f"A data permit is issued to {holder} and 0 accepted team member(s)" in html
    assert "valid until 2030-06-30" in html
    page = _message(chair, chair.post(url, {"decision": "approve", "ends_on": "2030-06-30",
                                           "confirmed": "yes"}))  # fmt: skip
    permit = Permit.objects.get(review=valencia)
    assert (
        f"was approved for Valencia DAC; permit {permit.number} was issued to {holder}, "
        "valid until 2030-06-30." in page
    )
    assert Application.objects.get(pk=access.submitted.pk).status == "approved"


def test_it_asks_before_a_chair_rejects_and_says_what_changed(access, client_for):
    chair = client_for("committee_chair")
    oslo = _review(access.submitted, access.oslo)
    url = reverse("access:review_decide", args=[oslo.pk])
    data = {"decision": "reject", "reason": "No ethics approval."}
    html = _confirmation(chair.post(url, data))
    assert "Reject application" in html and "Oslo DAC refuses access to" in html
    assert "The applicant reads your reasons: No ethics approval." in html
    assert _review(access.submitted, access.oslo).status == "pending"
    page = _message(chair, chair.post(url, {**data, "confirmed": "yes"}))
    assert "was rejected for Oslo DAC; its status is now: Under review." in page


def test_it_refuses_a_rejection_without_reasons_before_asking(access, client_for):
    chair = client_for("committee_chair")
    oslo = _review(access.submitted, access.oslo)
    response = chair.post(reverse("access:review_decide", args=[oslo.pk]), {"decision": "reject"})
    html = _text(response)
    assert response.status_code == 200 and "What will happen" not in html
    assert "Give the reasons for rejecting." in html


def test_it_shows_the_filled_in_form_again_to_change_a_decision(access, client_for):
    chair = client_for("committee_chair")
    oslo = _review(access.submitted, access.oslo)
    url = reverse("access:review_decide", args=[oslo.pk])
    data = {"decision": "reject", "reason": "Scope too broad for the stated purpose."}
    html = _confirmation(chair.post(url, data))
    assert f'formaction="{url}#decide-{oslo.pk}-form"' in html
    response = chair.post(url, {**data, "confirmed": "no"})
    page = _text(response)
    assert response.status_code == 200 and "What will happen" not in page
    assert f'id="decide-{oslo.pk}-form"' in page
    assert "Scope too broad for the stated purpose.</textarea>" in page
    assert _review(access.submitted, access.oslo).status == "pending"


def test_it_asks_before_revoking_a_permit_but_not_before_suspending(access, client_for, personas):
    for review in access.submitted.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    permit = Permit.objects.get(review__committee=access.oslo)
    chair = client_for("committee_chair")
    url = reverse("access:permit_change", args=[permit.pk])

    page = _message(chair, chair.post(url, {"change": "suspend", "reason": "Site audit."}))
    assert f"Permit {permit.number} was suspended" in page

    data = {"change": "revoke", "reason": "Breach of conditions."}
    html = _confirmation(chair.post(url, data))
    assert f"Revoke data permit {permit.number}?" in html
    assert "lose access to: Breast MRI screening cohort." in html
    assert f"({personas['researcher'].display_name})" in html
    assert "They are told the reason: Breach of conditions." in html
    assert Permit.objects.get(pk=permit.pk).status == "suspended"
    page = _message(chair, chair.post(url, {**data, "confirmed": "yes"}))
    assert f"Permit {permit.number} was revoked" in page
    assert Permit.objects.get(pk=permit.pk).status == "revoked"


def test_it_refuses_a_revocation_without_a_reason_before_asking(access, client_for, personas):
    for review in access.submitted.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    permit = Permit.objects.get(review__committee=access.oslo)
    response = client_for("hdab_admin").post(
        reverse("access:permit_change", args=[permit.pk]), {"change": "revoke"}
    )
    assert response.status_code == 200 and "What will happen" not in _text(response)
    assert "Give the reason." in _text(response)


def test_it_asks_before_a_conflict_of_interest_is_declared(access, client_for, personas):
    member = client_for("committee_member")
    oslo = _review(access.submitted, access.oslo)
    member.post(reverse("access:review_vote", args=[oslo.pk]), {"choice": "approve"})
    url = reverse("access:review_conflict", args=[oslo.pk])
    html = _confirmation(member.post(url, {"note": "Co-author"}))
    assert "Declare a conflict of interest on application" in html
    assert "Your vote (approve) is withdrawn." in html
    assert "You can no longer vote or decide on it for Oslo DAC." in html
    assert not ConflictOfInterest.objects.exists()
    page = _message(member, member.post(url, {"note": "Co-author", "confirmed": "yes"}))
    assert "Your conflict of interest on application" in page
    assert ConflictOfInterest.objects.get().member == personas["committee_member"]


def test_it_asks_before_extending_the_deadline_and_names_the_new_date(access, client_for):
    chair = client_for("committee_chair")
    url = reverse("access:application_extend", args=[access.submitted.pk])
    due = access.submitted.decision_due
    html = _confirmation(chair.post(url, {"reason": "Three committees."}))
    new = services.months_later(due, services.EXTENSION_PERIOD)
    assert f"The decision is due on {new:%Y-%m-%d} instead of {due:%Y-%m-%d}." in html
    assert Application.objects.get(pk=access.submitted.pk).extended is False
    page = _message(chair, chair.post(url, {"reason": "Three committees.", "confirmed": "yes"}))
    assert f"is now due on {new:%Y-%m-%d}; the applicant was told why." in page


def test_it_says_which_reviews_a_withdrawal_closed(access, client_for):
    researcher = client_for("researcher")
    url = reverse("access:application_withdraw", args=[access.submitted.pk])
    page = _text(researcher.get(url))
    assert "The reviews by Oslo DAC, Valencia DAC are closed" in page
    assert "This cannot be undone." in page
    page = _message(researcher, researcher.post(url, {"reason": ""}))
    assert (
        f"Application {access.submitted.pk} “Submitted study” was withdrawn; the reviews by "
        "Oslo DAC, Valencia DAC were closed and the committees were told." in page
    )


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_it_says_what_an_answer_to_an_invitation_does_and_did(access, personas, client_for, answer):
    member = services.team_invite(
        application=access.draft, actor=personas["researcher"], email="other_researcher@example.org"
    )
    client = client_for("other_researcher")
    url = reverse("access:invitation", args=[member.token])
    assert "You cannot change your answer later." in _text(client.get(url))
    page = _message(client, client.post(url, {"answer": answer}))
    expected = {
        "accept": "You joined the team of “Draft study”: you can now read the application.",
        "decline": "You declined to join the team of “Draft study”; you have no access to it.",
    }[answer]
    assert expected in page
