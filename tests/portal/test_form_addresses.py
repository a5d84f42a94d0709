"""An address that takes only a form's answer, opened on its own (a bookmark, the address bar
after a form error was shown there): a page that says what it is and leads back, not an empty
405. The APIs keep their own answers."""

from html import unescape

from django.urls import reverse

from access import services
from access.models import Permit


def test_a_forms_address_opened_on_its_own_leads_back(access, personas, client_for):
    application = access.new_application("Token study", submit=True)
    for review in application.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    permit = Permit.objects.get(application=application, review__committee=access.oslo)
    answer = client_for("researcher").get(reverse("access:token_issue", args=[permit.pk]))
    assert answer.status_code == 405 and answer["Allow"] == "POST"
    page = unescape(answer.content.decode())
    assert "cannot be opened on its own" in page
    permit_page = reverse("access:permit_detail", args=[permit.pk])
    assert f'href="{permit_page}"' in page  # the page the form is on
    assert answer["Content-Security-Policy"]


def test_the_referring_page_of_this_site_is_the_way_back(catalogue, client_for):
    search = "http://testserver" + reverse("catalogue:search") + "?q=breast"
    answer = client_for("researcher").get(
        reverse("catalogue:basket_add", args=[catalogue.published.pk]), HTTP_REFERER=search
    )
    assert answer.status_code == 405
    assert f'href="{search}"' in unescape(answer.content.decode())
    elsewhere = client_for("researcher").get(
        reverse("catalogue:basket_add", args=[catalogue.published.pk]),
        HTTP_REFERER="https://evil.example/page",
    )
    assert "evil.example" not in elsewhere.content.decode()


def test_the_api_keeps_its_problem_details(client_for):
    answer = client_for("researcher").get("/api/access/applications/1/submit/")
    assert answer.status_code == 405
    assert answer.json()["status"] == 405


def test_a_form_too_large_to_read_says_so_and_saves_nothing(access, client_for):
    """The edit page takes uploads (a larger cap than Django reads into memory): a text over
    what Django reads is a page saying so, not "Bad Request"."""
    draft = access.draft
    answer = client_for("researcher").post(
        reverse("access:application_edit", args=[draft.pk]),
        {"title": draft.title, "intended_use": "x" * (3 * 1024 * 1024)},
    )
    assert answer.status_code == 413
    assert "Nothing was saved" in unescape(answer.content.decode())
    draft.refresh_from_db()
    assert draft.intended_use != "x" * (3 * 1024 * 1024)
