"""The daily reminders go once: running send_deadline_reminders again, the same day or every
day, sends nothing it sent already; a moved deadline is reminded of again."""

from datetime import timedelta

from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from access import services
from access.models import Application, Permit
from portal.models import AuditEvent


def run(capture):
    mail.outbox.clear()
    with capture(execute=True):
        call_command("send_deadline_reminders")
    return [m.subject for m in mail.outbox]


def test_it_reminds_a_committee_of_a_due_decision_once(
    access, django_capture_on_commit_callbacks, capsys
):
    Application.objects.filter(pk=access.submitted.pk).update(
        decision_due=timezone.now() + timedelta(days=5)
    )

    first = run(django_capture_on_commit_callbacks)
    second = run(django_capture_on_commit_callbacks)

    assert any("due soon" in s for s in first)
    assert second == []
    assert "0 reminder(s) sent" in capsys.readouterr().out
    assert AuditEvent.objects.filter(action="access.reminder.sent").exists()
    # Overdue is a new stage: it is sent (once) when the deadline passes.
    Application.objects.filter(pk=access.submitted.pk).update(
        decision_due=timezone.now() - timedelta(days=1)
    )
    assert any("overdue" in s for s in run(django_capture_on_commit_callbacks))
    assert run(django_capture_on_commit_callbacks) == []


def test_it_tells_a_permit_holder_once_that_the_permit_ends(
    access, personas, django_capture_on_commit_callbacks
):
    for review in access.submitted.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    Permit.objects.filter(application=access.submitted).update(
        ends_on=timezone.localdate() + timedelta(days=20)
    )

    first = run(django_capture_on_commit_callbacks)
    second = run(django_capture_on_commit_callbacks)

    assert sum("expires soon" in s for s in first) == 2
    assert not any("expires soon" in s for s in second)
