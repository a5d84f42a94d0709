"""The access body's figures (EHDS Art 59): computed from the audit chain, recomputed here
independently from the raw events, shown as a page with charts, as CSV and as a report."""

import csv
import io
from datetime import UTC, date, datetime

import holidays
import numpy
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from access import clocks, figures, services
from access.models import Permit
from catalogue.models import Series, Study
from portal.audit import audit_record, verify_chain
from portal.models import AuditEvent
from tests.access.test_donor_transparency import _report_key, report

pytestmark = pytest.mark.django_db

START, END = date(2026, 3, 1), date(2026, 5, 31)


@pytest.fixture
def clock(monkeypatch):
    """``clock("2026-03-02")`` moves the portal's time to 10:00 UTC that day."""

    def move(day: str) -> datetime:
        moment = datetime.fromisoformat(f"{day}T10:00:00+00:00")
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return move


def decide(application, chair, **by_committee):
    """The chair decides each review: ``oslo=True`` approves, ``oslo="safeguards"`` refuses on
    that ground, ``oslo=""`` refuses without naming one."""
    for review in application.reviews.select_related("committee"):
        verdict = by_committee[review.committee.name.split()[0].lower()]
        services.review_decide(
            review=review,
            actor=chair,
            approve=verdict is True,
            reason="" if verdict is True else "Not enough detail.",
            ground="" if verdict is True else verdict,
        )


@pytest.fixture
def history(access, personas, clock, settings):
    """Six applications through a spring, under Norway's holidays (Easter 2026: 2–6 April):
    A approved in four working days, B partly approved, C refused on two grounds, D withdrawn,
    E (a draft) withdrawn, F found incomplete and lapsed; A's permits suspended and revoked;
    G submitted after the period."""
    settings.HDAB_COUNTRY = "NO"
    chair, researcher = personas["committee_chair"], personas["researcher"]
    clock("2026-03-02")
    a, b, c, d, f = (access.new_application(t, submit=True) for t in "ABCDF")
    e = access.new_application("E")
    clock("2026-03-03")
    services.clarification_request(
        review=f.reviews.get(committee=access.oslo), actor=chair, question="?", incomplete=True
    )
    clock("2026-03-06")
    decide(a, chair, oslo=True, valencia=True)
    clock("2026-03-10")
    services.application_withdraw(application=d, actor=researcher)
    services.application_withdraw(application=e, actor=researcher)
    clock("2026-03-16")
    decide(b, chair, oslo=True, valencia="safeguards")
    clock("2026-04-07")
    decide(c, chair, oslo="proportionate", valencia="")
    services.applications_lapse_incomplete(now=clock("2026-04-10"))
    clock("2026-04-20")
    permits = Permit.objects.filter(application=a).order_by("review__committee__name")
    services.permit_change(permit=permits[0], actor=chair, change="suspend", reason="Audit.")
    clock("2026-04-21")
    services.permit_change(permit=permits[1], actor=chair, change="revoke", reason="Breach.")
    clock("2026-06-01")
    access.new_application("G", submit=True)
    return {"a": a, "b": b, "c": c, "oslo_permit": permits[0]}


def recompute(start: date, end: date, country: str) -> dict:
    """The figures again, straight from the raw events, without ``access.figures``."""
    closed = [str(day) for day in holidays.country_holidays(country, years=[2026])]
    events = list(AuditEvent.objects.order_by("seq"))
    in_period = [e for e in events if start <= timezone.localdate(e.created_at) <= end]

    def count(action, **match):
        return sum(
            1
            for e in in_period
            if e.action == action and all(e.details.get(k) == v for k, v in match.items())
        )

    started = {}
    for e in events:
        if e.action == "access.application.submitted":
            started[e.object_id] = e.created_at.date()
    days = sorted(
        int(numpy.busday_count(started[e.object_id], e.created_at.date(), holidays=closed))
        for e in in_period
        if e.action.split(".")[-1] in ("approved", "partially_approved", "rejected")
        and e.action.startswith("access.application.")
    )
    purposes: dict[str, int] = {}
    for e in in_period:
        if e.action == "access.permit.issued":
            purposes[e.details.get("purpose", "unknown")] = (
                purposes.get(e.details.get("purpose", "unknown"), 0) + 1
            )
    return {
        "received": count("access.application.submitted"),
        "approved": count("access.application.approved"),
        "partly_approved": count("access.application.partially_approved"),
        "refused": count("access.application.rejected"),
        "lapsed": count("access.application.lapsed"),
        "withdrawn": count("access.application.withdrawn", previous="submitted"),
        "suspensions": count("access.permit.suspended"),
        "revocations": count("access.permit.revoked"),
        "permits": count("access.permit.issued"),
        "purposes": purposes,
        "days": days,
        "head": (events[-1].seq, events[-1].hash),
    }


def test_the_figures_match_a_recomputation_from_the_raw_events(history):
    result = figures.access_body_figures(start=START, end=END)
    again = recompute(START, END, "NO")

    assert verify_chain().ok
    assert (result.head_seq, result.head_hash) == again["head"]
    for name in ["received", "approved", "partly_approved", "refused", "lapsed", "withdrawn",
                 "suspensions", "revocations", "permits"]:  # fmt: skip
        assert getattr(result, name) == again[name], name
    assert dict(result.permits_by_purpose) == again["purposes"]
    assert sorted(result.to_decision.days) == again["days"]
    # What that history was, in plain numbers.
    assert (result.received, result.decided, result.withdrawn, result.lapsed) == (5, 3, 1, 1)
    assert again["days"] == [4, 10, 23]  # Easter Thursday to Monday are not working days
    assert result.to_decision.median == 10 and result.to_decision.p90 == 23
    assert (result.within_deadline, result.deadline_known) == (3, 3)
    assert dict(result.refused_by_ground) == {"proportionate": 1, "not_stated": 1}
    assert result.permits == 3 and dict(result.permits_by_purpose) == {"research_ai": 3}
    assert result.to_first_access is None  # no node has reported an access yet


def test_a_later_period_counts_only_its_own_events(history):
    result = figures.access_body_figures(start=date(2026, 6, 1), end=date(2026, 6, 30))

    assert (result.received, result.decided, result.permits) == (1, 0, 0)
    assert result.to_decision.median is None


def test_events_recorded_before_they_carried_a_purpose_count_as_unknown(access, personas):
    permit_event = audit_record(
        "access.permit.issued",
        object_type="access.permit",
        object_id=999,
        details={"application": 1, "datasets": [access.draft.items.first().dataset_id]},
    )
    day = timezone.localdate(permit_event.created_at)

    result = figures.access_body_figures(start=day, end=day)

    assert dict(result.permits_by_purpose) == {"unknown": 1}


def test_working_days_skip_weekends_and_the_member_states_holidays():
    christmas_eve, monday = date(2026, 12, 24), date(2026, 12, 28)

    assert clocks.working_days(christmas_eve, monday) == 2  # Friday 25th and Monday
    assert clocks.working_days(christmas_eve, monday, country="NO") == 1  # Christmas Day off
    assert clocks.working_days(monday, christmas_eve) == 0


def test_the_time_to_first_access_comes_from_the_node_access_log(
    history, personas, catalogue, monkeypatch
):
    monkeypatch.undo()  # back to the real time: the node signs its report now
    permit = services.permit_change(
        permit=history["oslo_permit"], actor=personas["committee_chair"], change="reactivate"
    )
    Study.objects.create(dataset=catalogue.published, study_instance_uid="1.2.3.4", subject="X")
    token = services.token_issue(
        permit=permit, node=catalogue.own_node, actor=personas["researcher"]
    )
    moment = datetime(2026, 3, 13, 9, tzinfo=UTC).timestamp()  # a week after A's decision
    report(catalogue.own_node, _report_key(catalogue.own_node),
           (token.record.jti, "1.2.3.4", int(moment), None))  # fmt: skip

    result = figures.access_body_figures(start=START, end=END)

    assert result.to_first_access is not None
    assert result.to_first_access.days == (5,)


def test_the_page_shows_charts_and_offers_csv_and_a_report(history, client_for):
    client = client_for("hdab_admin")
    query = {"start": START.isoformat(), "end": END.isoformat()}

    page = client.get(reverse("access:figures"), query).content.decode()
    assert page.count("<svg") == 5
    assert "not yet measured" in page
    assert "(e)(ii) Research: training, testing and evaluating algorithms" in page
    assert "(b) The data asked for are not necessary or proportionate" in page
    assert "<script" not in page
    head = AuditEvent.objects.order_by("-seq").first()
    assert head.hash in page

    response = client.get(reverse("access:figures_csv"), query)
    assert response["Content-Disposition"].startswith("attachment;")
    rows = {(r[0], r[1]): r[3] for r in csv.reader(io.StringIO(response.content.decode()))}
    assert rows[("applications", "received")] == "5"
    assert rows[("applications", "refused")] == "1"
    assert rows[("times", "to_decision.median")] == "10"
    assert rows[("permit_changes", "revoked")] == "1"
    assert rows[("chain", "head_hash")] == head.hash

    report_page = client.get(reverse("access:figures_report"), query).content.decode()
    assert "print.css" in report_page and "<svg" in report_page
    assert "<style" not in report_page  # the content security policy allows no inline style


def test_a_period_that_ends_before_it_starts_is_refused_with_a_message(client_for):
    page = client_for("hdab_admin").get(
        reverse("access:figures"), {"start": "2026-05-01", "end": "2026-04-01"}
    )

    assert page.status_code == 200
    assert "The period must end after it starts." in page.content.decode()


def test_quality_labels_are_counted_by_level(catalogue):
    study = Study.objects.create(dataset=catalogue.published, study_instance_uid="9.9", subject="Y")
    Series.objects.create(study=study, series_instance_uid="9.9.1", modality="MR")

    result = figures.access_body_figures(start=START, end=END)

    assert result.quality_levels["bronze"] == 1  # the Oslo cohort, with one series indexed
    assert result.quality_levels["none"] == 1  # the Valencia collection, nothing indexed


def test_the_page_reads_a_constant_number_of_queries(history, access, personas, client_for):
    client = client_for("hdab_admin")
    query = {"start": "2026-01-01", "end": "2026-12-31"}

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("access:figures"), query).status_code == 200
        return len(queries)

    before = count()
    for title in ["H", "I", "J"]:
        decide(access.new_application(title, submit=True), personas["committee_chair"],
               oslo=True, valencia="risks")  # fmt: skip

    assert count() == before


def test_the_chair_names_the_ground_of_a_refusal_on_the_page_and_in_the_api(
    access, client_for, personas
):
    application = access.submitted
    oslo = application.reviews.get(committee=access.oslo)
    valencia = application.reviews.get(committee=access.valencia)
    chair = client_for("committee_chair")

    chair.post(
        reverse("access:review_decide", args=[oslo.pk]),
        {
            "decision": "reject",
            "reason": "Too broad.",
            "ground": "proportionate",
            "confirmed": "yes",
        },
    )
    refused = AuditEvent.objects.filter(action="access.review.rejected").get()
    assert refused.details["ground"] == "proportionate"

    url = reverse("access_api:review_decide", kwargs={"pk": valencia.pk})
    wrong = {"approve": False, "reason": "No.", "ground": "because"}
    assert chair.post(url, wrong, content_type="application/json").status_code == 400
    right = {"approve": False, "reason": "No.", "ground": "safeguards"}
    assert chair.post(url, right, content_type="application/json").status_code == 200

    result = figures.access_body_figures(start=date(2000, 1, 1), end=date(2100, 1, 1))
    assert dict(result.refused_by_ground) == {"proportionate": 1, "safeguards": 1}
