"""A permit is valid through its end date, in the portal's time zone, and not a day longer.

Checked on the last valid day and the day after, wherever a permit is treated as active by
date: ``expire_permits``, reactivation, the permit's page and list, and the reminder of
permits ending soon.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from access import services
from access.models import InvalidTransition, Permit, Review
from portal.models import AuditEvent


@pytest.fixture
def permit(access, personas) -> Permit:
    """The Oslo permit of ``access.submitted`` (both committees' chair approved)."""
    for review in access.submitted.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    return Permit.objects.get(review=Review.objects.get(committee=access.oslo))


def _ending(permit: Permit, days_from_today: int) -> Permit:
    Permit.objects.filter(pk=permit.pk).update(
        ends_on=timezone.localdate() + timedelta(days=days_from_today)
    )
    permit.refresh_from_db()
    return permit


def _suspend(permit, personas) -> Permit:
    return services.permit_change(
        permit=permit, actor=personas["committee_chair"], change="suspend", reason="Audit"
    )


def _text(response) -> str:
    return response.content.decode()


def test_it_keeps_a_permit_active_on_its_last_day(permit, capsys):
    _ending(permit, 0)
    call_command("expire_permits")
    assert "0 permit(s) expired" in capsys.readouterr().out
    assert services.permits_expire() == []
    assert Permit.objects.get(pk=permit.pk).status == "active"


def test_it_expires_a_permit_the_day_after_its_last_day(permit, capsys):
    _ending(permit, -1)
    call_command("expire_permits")
    assert f"expired {permit.number}" in capsys.readouterr().out
    assert Permit.objects.get(pk=permit.pk).status == "expired"
    event = AuditEvent.objects.get(action="access.permit.expired")
    assert event.object_id == str(permit.pk)


def test_it_expires_a_suspended_permit_the_day_after_too(permit, personas):
    _suspend(_ending(permit, -1), personas)
    assert [p.pk for p in services.permits_expire()] == [permit.pk]
    assert Permit.objects.get(pk=permit.pk).status == "expired"


def test_it_reactivates_a_suspended_permit_on_its_last_day(permit, personas, client_for):
    _suspend(_ending(permit, 0), personas)
    chair = client_for("committee_chair")
    detail = reverse("access:permit_detail", args=[permit.pk])
    assert 'value="reactivate"' in _text(chair.get(detail))
    response = chair.post(
        reverse("access:permit_change", args=[permit.pk]), {"change": "reactivate"}
    )
    assert response.status_code == 302
    assert Permit.objects.get(pk=permit.pk).status == "active"


def test_it_refuses_to_reactivate_a_permit_the_day_after(permit, personas, client_for):
    _suspend(_ending(permit, -1), personas)
    with pytest.raises(InvalidTransition, match="has ended"):
        services.permit_change(
            permit=permit, actor=personas["committee_chair"], change="reactivate"
        )
    chair = client_for("committee_chair")
    page = _text(chair.get(reverse("access:permit_detail", args=[permit.pk])))
    assert 'value="reactivate"' not in page  # the page does not offer what would be refused
    assert 'value="revoke"' in page


def test_it_shows_a_permit_as_active_on_its_last_day(permit, client_for):
    _ending(permit, 0)
    researcher = client_for("researcher")
    page = _text(researcher.get(reverse("access:permit_detail", args=[permit.pk])))
    assert "<strong>Active</strong>" in page and "Ended" not in page
    listing = _text(researcher.get(reverse("access:permit_list")))
    row = listing[listing.index(permit.number) :].split("</tr>")[0]
    assert "Active" in row and "Ended" not in row


def test_it_shows_a_permit_as_ended_the_day_after_before_the_daily_run(permit, client_for):
    _ending(permit, -1)
    assert Permit.objects.get(pk=permit.pk).status == "active"  # expire_permits has not run
    researcher = client_for("researcher")
    page = _text(researcher.get(reverse("access:permit_detail", args=[permit.pk])))
    assert "<strong>Ended</strong>" in page and "<strong>Active</strong>" not in page
    assert f"valid until {permit.ends_on:%Y-%m-%d}" in page
    listing = _text(researcher.get(reverse("access:permit_list")))
    row = listing[listing.index(permit.number) :].split("</tr>")[0]
    assert "Ended" in row and "Active" not in row


def _zone_where_today_is_not_utc_today() -> str:
    """A time zone whose date differs from UTC's right now (UTC+14 from 10:00 UTC, UTC-12
    before 12:00 UTC: one of the two always does)."""
    now = datetime.now(UTC)
    return "Etc/GMT-14" if now.hour >= 10 else "Etc/GMT+12"


def test_it_reminds_of_a_permit_on_its_last_day_and_not_the_day_after_in_the_portal_zone(
    access, personas, django_capture_on_commit_callbacks
):
    for review in access.submitted.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    last_day, ended = Permit.objects.filter(application=access.submitted).order_by("pk")
    with override_settings(TIME_ZONE=_zone_where_today_is_not_utc_today()):
        today = timezone.localdate()
        assert today != datetime.now(UTC).date()
        Permit.objects.filter(pk=last_day.pk).update(ends_on=today)
        Permit.objects.filter(pk=ended.pk).update(ends_on=today - timedelta(days=1))
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("send_deadline_reminders")
    subjects = [m.subject for m in mail.outbox]
    assert any(last_day.number in s and "expires soon" in s for s in subjects), subjects
    assert not any(ended.number in s for s in subjects), subjects
