"""A refused form on a long committee page comes back with its errors inside that form, and
the form posts to its own errors' fragment, so the browser scrolls to them and focuses them
without JavaScript (tests/e2e/test_access_browser.py watches it happen)."""

import re

from django.urls import reverse

from access.models import Review, Vote
from access.permissions import is_member
from portal.models import AuditEvent


def _form(html: str, form_id: str) -> str:
    """The opening tag and body of the form ``form_id``."""
    start = html.rindex("<form", 0, html.index(f'id="{form_id}"'))
    return html[start : html.index("</form>", start)]


def _errors_in_form(html: str, form_id: str, errors_id: str) -> str:
    form = _form(html, form_id)
    opening = form[: form.index(">")]
    assert 'action="' in opening and f'#{errors_id}"' in opening, opening
    assert f'aria-describedby="{errors_id}"' in opening, opening
    match = re.search(rf'<div class="errors" role="alert" id="{errors_id}" tabindex="-1">', form)
    assert match, form
    return form[match.start() :]


def test_it_puts_a_refused_vote_error_in_the_vote_form(access, client_for):
    oslo = Review.objects.get(application=access.submitted, committee=access.oslo)
    response = client_for("committee_member").post(
        reverse("access:review_vote", args=[oslo.pk]), {"choice": "reject"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    errors = _errors_in_form(html, f"vote-{oslo.pk}-form", f"vote-{oslo.pk}-errors")
    assert "Reason: Give the reasons for rejecting." in errors
    assert not Vote.objects.exists()


def test_it_posts_every_form_of_the_application_page_to_its_errors(access, client_for):
    oslo = Review.objects.get(application=access.submitted, committee=access.oslo)
    html = (
        client_for("committee_chair")
        .get(reverse("access:application_detail", args=[access.submitted.pk]))
        .content.decode()
    )
    for kind in ["vote", "decide", "clarify", "comment", "conflict"]:
        url = reverse(f"access:review_{kind}", args=[oslo.pk])
        assert f'action="{url}#{kind}-{oslo.pk}-errors"' in html, kind
    assert "#extend-errors" in html


def test_it_shows_a_refused_member_beside_the_member_form(access, client_for):
    client = client_for("hdab_admin")
    before = AuditEvent.objects.count()
    response = client.post(reverse("access:committee_member_add", args=[access.oslo.pk]), {})
    assert response.status_code == 200
    html = response.content.decode()
    errors = _errors_in_form(html, "member-form", "member-errors")
    assert "Person: This field is required." in errors
    assert 'class="messages"' not in html  # nothing at the top of the page
    assert AuditEvent.objects.count() == before


def test_it_shows_a_refused_scope_beside_the_scope_form(access, client_for):
    response = client_for("hdab_admin").post(
        reverse("access:committee_detail", args=[access.valencia.pk]),
        {"name": "Oslo DAC", "decision_rule": "chair"},  # the name of another committee
    )
    assert response.status_code == 200
    errors = _errors_in_form(response.content.decode(), "scope-form", "scope-errors")
    assert "Name: Committee with this Name already exists." in errors


def test_it_names_the_person_added_or_removed(access, client_for, personas):
    client = client_for("hdab_admin")
    url = reverse("access:committee_member_add", args=[access.valencia.pk])
    response = client.post(url, {"user": personas["committee_member"].pk})
    page = client.get(response.url).content.decode()
    name = personas["committee_member"].display_name
    assert f"{name} is now a member of Valencia DAC." in page
    assert is_member(personas["committee_member"], access.valencia)
    remove = reverse(
        "access:committee_member_remove", args=[access.valencia.pk, personas["committee_member"].pk]
    )
    page = client.get(client.post(remove).url).content.decode()
    assert f"{name} is no longer a member of Valencia DAC." in page
