from datetime import timedelta

from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from access import services
from access.models import Application, Permit, Review


def _review(application, committee):
    return Review.objects.get(application=application, committee=committee)


def test_it_reminds_committees_of_overdue_and_due_soon_decisions(
    access, capsys, django_capture_on_commit_callbacks
):
    Application.objects.filter(pk=access.submitted.pk).update(
        decision_due=timezone.now() - timedelta(days=1)
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_deadline_reminders")
    subjects = [m.subject for m in mail.outbox]
    assert any("overdue" in s and "Submitted study" in s for s in subjects)
    recipients = {m.to[0] for m in mail.outbox}
    assert (
        "committee_member@example.org" in recipients and "researcher@example.org" not in recipients
    )
    assert "reminder(s) sent" in capsys.readouterr().out


def test_it_lapses_applications_not_completed_in_four_weeks(access, personas):
    services.clarification_request(
        review=_review(access.submitted, access.oslo),
        actor=personas["committee_member"],
        question="Upload the ethics approval.",
        incomplete=True,
    )
    Application.objects.filter(pk=access.submitted.pk).update(
        completion_due=timezone.now() - timedelta(minutes=1)
    )
    call_command("send_deadline_reminders")
    call_command("send_deadline_reminders")  # idempotent
    application = Application.objects.get(pk=access.submitted.pk)
    assert application.status == "rejected"
    assert set(application.reviews.values_list("status", flat=True)) == {"rejected"}
    assert "four weeks" in application.reviews.first().reason
    assert not Permit.objects.filter(application=application).exists()


def test_it_expires_ended_permits_and_warns_before(
    access, personas, capsys, django_capture_on_commit_callbacks
):
    for review in access.submitted.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    soon, ended = Permit.objects.filter(application=access.submitted).order_by("pk")
    Permit.objects.filter(pk=soon.pk).update(ends_on=timezone.localdate() + timedelta(days=20))
    Permit.objects.filter(pk=ended.pk).update(ends_on=timezone.localdate() - timedelta(days=1))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_deadline_reminders")
    assert any(soon.number in m.subject and "expires soon" in m.subject for m in mail.outbox)
    call_command("expire_permits")
    assert f"expired {ended.number}" in capsys.readouterr().out
    call_command("expire_permits")
    assert "0 permit(s) expired" in capsys.readouterr().out
    assert Permit.objects.get(pk=ended.pk).status == "expired"
    assert Permit.objects.get(pk=soon.pk).status == "active"
