"""Results (EHDS Art 61(4)): the permit holder records them; they are due 18 months after the
end of processing; reminders at 3 months and 1 month; overdue results flagged to the access
body, which may extend the clock with a reason; reported results appear in the register."""

from datetime import date, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from access import services
from access.clocks import results_due
from access.models import Permit, PermitResults, ResultOutput
from portal.models import AuditEvent
from portal.workflow import NotPermitted


@pytest.fixture
def permit(access, personas):
    """The Oslo permit of a decided, published application held by ``researcher``."""
    application = access.submitted
    for review in application.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    services.decision_publish(
        application=application, actor=personas["hdab_admin"], justification="Lawful."
    )
    return Permit.objects.get(application=application, review__committee=access.oslo)


def test_results_are_due_eighteen_months_after_the_permit_ends(permit):
    Permit.objects.filter(pk=permit.pk).update(ends_on=date(2026, 8, 31))
    permit.refresh_from_db()
    assert results_due(permit) == date(2028, 2, 29)  # calendar months, leap day kept
    assert results_due(permit, PermitResults(extended_until=date(2028, 6, 1))) == date(2028, 6, 1)


def test_the_holder_records_results_and_the_register_shows_them_once_complete(
    permit, personas, client_for
):
    client = client_for("researcher")
    url = reverse("access:permit_results", args=[permit.pk])
    entry = reverse("access:register_entry", args=[permit.application_id])
    answer = client.post(
        url,
        {"action": "output", "kind": "publication", "title": "Early detection paper",
         "reference": "https://doi.org/10.5555/ecii.2027.1"},
    )  # fmt: skip
    assert answer.status_code == 302
    output = ResultOutput.objects.get()
    assert output.reference == "10.5555/ecii.2027.1"  # kept as a DOI
    assert "Early detection paper" not in Client().get(entry).content.decode()  # no summary yet
    client.post(url, {"action": "summary", "lay_summary": "Small tumours are found earlier."})
    body = Client().get(entry).content.decode()
    assert "Small tumours are found earlier." in body
    assert 'href="https://doi.org/10.5555/ecii.2027.1"' in body
    assert AuditEvent.objects.filter(action="access.results.reported").count() == 1


def test_a_reference_must_be_a_doi_or_a_web_address(permit, personas, client_for):
    with pytest.raises(ValidationError) as refused:
        services.result_output_add(
            permit=permit, actor=personas["researcher"], kind="software", title="Code",
            reference="see our website",
        )  # fmt: skip
    assert "reference" in refused.value.message_dict
    page = client_for("researcher").post(
        reverse("access:permit_results", args=[permit.pk]),
        {"action": "output", "kind": "software", "title": "Code", "reference": "ftp://x"},
    )
    assert page.status_code == 200
    assert "Give a DOI" in page.content.decode()
    assert not ResultOutput.objects.exists()


def test_only_the_holder_records_results(permit, personas):
    with pytest.raises(NotPermitted):
        services.results_update(
            permit=permit, actor=personas["committee_chair"], lay_summary="Not mine."
        )


def test_the_holder_removes_an_output_recorded_by_mistake(permit, personas, client_for):
    output = services.result_output_add(
        permit=permit, actor=personas["researcher"], kind="model", title="Wrong",
        reference="https://example.org/wrong",
    )  # fmt: skip
    client_for("researcher").post(
        reverse("access:permit_results", args=[permit.pk]),
        {"action": "remove", "output": output.pk},
    )
    assert not ResultOutput.objects.exists()
    assert AuditEvent.objects.filter(action="access.results.output_removed").count() == 1


def _due_in(permit, days: int) -> None:
    """Move the permit's end so that its results are due ``days`` from today."""
    target = timezone.localdate() + timedelta(days=days)
    from dateutil.relativedelta import relativedelta

    Permit.objects.filter(pk=permit.pk).update(ends_on=target - relativedelta(months=18))
    permit.refresh_from_db()
    assert results_due(permit) == target


def _run(capture) -> tuple[list[str], str]:
    from io import StringIO

    mail.outbox.clear()
    out = StringIO()
    with capture(execute=True):
        call_command("results_reminders", stdout=out)
    return [m.subject for m in mail.outbox], out.getvalue()


def _others_reported(permit, personas):
    """The application's other permit has its results in, so only ``permit`` is waited on."""
    for other in Permit.objects.filter(application=permit.application).exclude(pk=permit.pk):
        services.results_update(permit=other, actor=personas["researcher"], lay_summary="Done.")
        services.result_output_add(
            permit=other, actor=personas["researcher"], kind="other", title="Report",
            reference="https://example.org/report",
        )  # fmt: skip


def test_reminders_go_out_three_months_and_one_month_before_once_each(
    permit, personas, django_capture_on_commit_callbacks
):
    _others_reported(permit, personas)
    _due_in(permit, 100)
    assert _run(django_capture_on_commit_callbacks)[0] == []  # not yet three months
    _due_in(permit, 80)
    subjects, out = _run(django_capture_on_commit_callbacks)
    assert len(subjects) == 1 and "results are due" in subjects[0]
    assert mail.outbox[0].to == [personas["researcher"].email]
    assert f"{permit.number}: reminded (3m" in out
    assert _run(django_capture_on_commit_callbacks)[0] == []  # idempotent
    _due_in(permit, 20)
    subjects, out = _run(django_capture_on_commit_callbacks)
    assert len(subjects) == 1 and "1m" in out
    assert _run(django_capture_on_commit_callbacks)[0] == []
    assert AuditEvent.objects.filter(action="access.results.reminded").count() == 2


def test_a_late_first_run_sends_only_the_nearest_reminder(
    permit, personas, django_capture_on_commit_callbacks
):
    _others_reported(permit, personas)
    _due_in(permit, 10)
    subjects, out = _run(django_capture_on_commit_callbacks)
    assert len(subjects) == 1 and "1m" in out
    assert _run(django_capture_on_commit_callbacks)[0] == []


def test_overdue_results_are_flagged_once_and_the_access_body_extends_the_clock(
    permit, personas, client_for, settings, django_capture_on_commit_callbacks
):
    _others_reported(permit, personas)
    _due_in(permit, -1)
    subjects, out = _run(django_capture_on_commit_callbacks)
    assert [m.to for m in mail.outbox] == [[settings.HDAB_EMAIL]]
    assert "overdue" in subjects[0] and "flagged" in out
    assert _run(django_capture_on_commit_callbacks)[0] == []
    dashboard = client_for("hdab_admin").get(reverse("role_dashboard", args=["hdab"]))
    assert permit.number in dashboard.content.decode()
    assert "Overdue" in dashboard.content.decode()

    url = reverse("access:results_extend", args=[permit.pk])
    hdab = client_for("hdab_admin")
    new_day = timezone.localdate() + timedelta(days=60)
    refused = hdab.post(url, {"until": new_day.isoformat(), "reason": ""})
    assert refused.status_code == 200
    assert (
        hdab.post(
            url, {"until": new_day.isoformat(), "reason": "The journal delayed the paper."}
        ).status_code
        == 302
    )
    permit.refresh_from_db()
    assert results_due(permit, permit.results) == new_day
    event = AuditEvent.objects.get(action="access.results.clock_extended")
    assert event.details["reason"] == "The journal delayed the paper."
    assert event.actor == personas["hdab_admin"]
    # Due in 60 days: the holder is reminded of the new day, nothing is flagged
    subjects, out = _run(django_capture_on_commit_callbacks)
    assert subjects == [f"[ECII] Your results are due on {new_day.isoformat()}"]
    assert "flagged" not in out.splitlines()[0]


def test_the_clock_moves_only_later_and_only_for_the_access_body(permit, personas):
    with pytest.raises(NotPermitted):
        services.results_extend(
            permit=permit, actor=personas["committee_chair"],
            until=date(2100, 1, 1), reason="Why not",
        )  # fmt: skip
    with pytest.raises(ValidationError):
        services.results_extend(
            permit=permit, actor=personas["hdab_admin"],
            until=results_due(permit), reason="Same day",
        )  # fmt: skip


def test_reported_results_get_no_reminder(permit, personas, django_capture_on_commit_callbacks):
    _others_reported(permit, personas)
    services.results_update(permit=permit, actor=personas["researcher"], lay_summary="Done.")
    services.result_output_add(
        permit=permit, actor=personas["researcher"], kind="publication", title="Paper",
        reference="10.1234/x",
    )  # fmt: skip
    _due_in(permit, 10)
    assert _run(django_capture_on_commit_callbacks)[0] == []
