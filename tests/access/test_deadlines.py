"""The Art 68(4) decision deadline: three calendar months from the complete application,
extendable once by three more months, before it passes."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from access import figures, services
from access.models import Application
from portal.models import AuditEvent


@pytest.fixture
def clock(monkeypatch):
    """``clock("2026-03-02")`` moves the portal's time to 10:00 UTC that day."""

    def move(day: str) -> datetime:
        moment = datetime.fromisoformat(f"{day}T10:00:00+00:00")
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return move


def extend(client, application, reason="Complex request"):
    url = reverse("access_api:application_extend_deadline", kwargs={"pk": application.pk})
    return client.post(url, data=json.dumps({"reason": reason}), content_type="application/json")


def test_it_refuses_to_extend_a_deadline_that_has_passed(access, client_for):
    application = access.submitted
    application.decision_due = timezone.now() - timedelta(days=2)
    application.save(update_fields=["decision_due"])

    answer = extend(client_for("committee_chair"), application)

    assert answer.status_code == 409
    assert "passed" in answer.json()["detail"]
    application.refresh_from_db()
    assert not application.extended
    assert not AuditEvent.objects.filter(action="access.application.deadline_extended").exists()


def test_it_extends_a_deadline_that_has_not_passed(access, client_for):
    answer = extend(client_for("committee_chair"), access.submitted)

    assert answer.status_code == 200
    assert Application.objects.get(pk=access.submitted.pk).extended


def test_the_figures_keep_the_original_deadline_when_it_was_extended_late():
    def at(day):
        return datetime.fromisoformat(f"{day}T10:00:00+00:00").astimezone(UTC)

    events = [
        {"action": "access.application.submitted", "object_id": "7", "created_at": at("2026-01-05"),
         "details": {"decision_due": "2026-04-05T10:00:00+00:00", "purpose": "research"}},
        {"action": "access.application.deadline_extended", "object_id": "7",
         "created_at": at("2026-04-07"), "details": {"decision_due": "2026-07-05T10:00:00+00:00"}},
        {"action": "access.application.approved", "object_id": "7", "created_at": at("2026-04-20"),
         "details": {"purpose": "research", "datasets": [1]}},
    ]  # fmt: skip

    counted = figures.figures_from_events(events, start=date(2026, 1, 1), end=date(2026, 12, 31))

    assert counted.deadline_known == 1
    assert counted.within_deadline == 0


def test_three_months_are_calendar_months(access, personas, clock, client_for):
    clock("2026-11-30")

    submitted = services.application_submit(application=access.draft, actor=personas["researcher"])

    assert timezone.localdate(submitted.decision_due) == date(2027, 2, 28)
    page = client_for("researcher").get(reverse("access:application_detail", args=[submitted.pk]))
    assert "2027-02-28" in page.content.decode()
    clock("2027-01-15")
    extended = services.deadline_extend(
        application=submitted, actor=personas["committee_chair"], reason="Complex"
    )
    assert timezone.localdate(extended.decision_due) == date(2027, 5, 28)
