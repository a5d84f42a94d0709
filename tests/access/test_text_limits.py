"""Free text is bounded: over-long text is refused with an error on its field, and nothing is
stored; text of the allowed length is kept."""

import json

from django.urls import reverse

from access.limits import LAY_SUMMARY, LONG_TEXT
from access.models import Application

JSON = "application/json"


def call(client, name, data, method="post", **kwargs):
    url = reverse(f"access_api:{name}", kwargs=kwargs)
    return getattr(client, method)(url, data=json.dumps(data), content_type=JSON)


def test_it_refuses_an_over_long_intended_use_through_the_api(access, client_for):
    researcher = client_for("researcher")
    pk = access.draft.pk

    answer = call(researcher, "application", {"intended_use": "x" * 2_000_000}, "patch", pk=pk)

    assert answer.status_code == 400
    assert "intended_use" in answer.json()["errors"]
    assert len(Application.objects.get(pk=pk).intended_use) < 1000
    kept = call(researcher, "application", {"intended_use": "y" * LONG_TEXT}, "patch", pk=pk)
    assert kept.status_code == 200


def test_it_refuses_an_over_long_lay_summary_on_the_page(access, client_for):
    researcher = client_for("researcher")
    draft = access.draft
    before = draft.lay_summary

    page = researcher.post(
        reverse("access:application_edit", args=[draft.pk]),
        {"title": draft.title, "lay_summary": "z" * (LAY_SUMMARY + 1)},
    )

    assert page.status_code == 200
    assert f"at most {LAY_SUMMARY} characters" in page.content.decode()
    assert Application.objects.get(pk=draft.pk).lay_summary == before


def test_it_refuses_an_over_long_withdrawal_reason(access, client_for):
    pk = access.submitted.pk

    answer = call(client_for("researcher"), "application_withdraw", {"reason": "r" * 20_000}, pk=pk)

    assert answer.status_code == 400
    assert "reason" in answer.json()["errors"]
    assert Application.objects.get(pk=pk).status == Application.Status.SUBMITTED
