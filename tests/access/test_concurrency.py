"""Racing actions end in exactly one outcome (PostgreSQL, real concurrent transactions).

Each race is forced, not left to the scheduler. The test holds a row lock on the object the
racing transactions change (the application, the permit, the invitation) and lets go only
once every racer is blocked on a lock. A racer protected by the service's own row lock blocks
on that lock before it reads anything; a racer whose lock was removed reads the old state and
blocks at its first write. So every racer has read before any of them writes, and a missing
lock shows as two outcomes (or a deadlock) in every run, not in one run out of two.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from access import services
from access.models import Application, InvalidTransition, Permit, Review, TeamMember
from portal.audit import audit_record, verify_chain
from portal.models import AuditEvent
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MEET_TIMEOUT = 20  # seconds for the racers to reach the held lock; far more than they need


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL")


class _Racer(threading.Thread):
    """Runs one action in its own database connection and keeps what it returned or raised."""

    def __init__(self, action, start_together: threading.Barrier):
        super().__init__(daemon=True)
        self.action = action
        self.start_together = start_together
        self.pid: int | None = None
        self.result = None
        self.error: Exception | None = None
        self.connected = threading.Event()

    def run(self):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
            self.connected.set()
            self.start_together.wait()
            self.result = self.action()
        except Exception as error:  # the test inspects what each racer got
            self.error = error
        finally:
            self.connected.set()
            connections.close_all()


def _blocked(pids: list[int]) -> set[int]:
    """The backends among ``pids`` waiting for a lock now (pg_locks is read live, not from a
    per-transaction snapshot)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT pid FROM pg_locks WHERE NOT granted AND pid = ANY(%s)", [pids]
        )
        return {row[0] for row in cursor.fetchall()}


def _wait_until_blocked(racers) -> None:
    """Return once every racer still running is waiting for a lock."""
    for racer in racers:
        assert racer.connected.wait(MEET_TIMEOUT)
    deadline = time.monotonic() + MEET_TIMEOUT
    while True:
        running = [r.pid for r in racers if r.is_alive()]
        if not running or _blocked(running) == set(running):
            return
        if time.monotonic() > deadline:
            pytest.fail("the racing transactions never reached the held lock")
        time.sleep(0.005)


def _race(*actions, holding=None, in_order=False):
    """Run ``actions`` at the same moment, each in its own transaction; return
    (results, errors). With ``holding`` (a model instance), this thread holds that row's lock
    until every racer is blocked on a lock or finished, then lets them go. With ``in_order``,
    each racer starts only once the one before is blocked, so that the first one is first in
    line for the held lock (and for any lock it took before)."""
    together = threading.Barrier(1 if in_order else len(actions))
    racers = [_Racer(action, together) for action in actions]
    if holding is None:
        for racer in racers:
            racer.start()
    else:
        with transaction.atomic():
            type(holding).objects.select_for_update().get(pk=holding.pk)
            for i, racer in enumerate(racers):
                racer.start()
                if in_order:
                    _wait_until_blocked(racers[: i + 1])
            _wait_until_blocked(racers)
    for racer in racers:
        racer.join(timeout=30)
        assert not racer.is_alive(), "a racing transaction hung"
    return [r.result for r in racers], [r.error for r in racers]


def _one_winner(results, errors):
    """Exactly one racer succeeded; the other was refused because the state had moved on (not
    by a deadlock, and not by succeeding too)."""
    assert sum(r is not None for r in results) == 1, (results, errors)
    assert sum(isinstance(e, InvalidTransition) for e in errors) == 1, errors


def _oslo_only_application(access, personas, catalogue):
    from access.services import application_create, application_submit, application_update
    from tests.conftest import complete_application_fields

    application = application_create(
        applicant=personas["researcher"], title="Race", datasets=[catalogue.published]
    )
    application_update(
        application=application, actor=personas["researcher"], **complete_application_fields()
    )
    return application_submit(application=application, actor=personas["researcher"])


def _permit(access, personas, catalogue) -> Permit:
    application = _oslo_only_application(access, personas, catalogue)
    review = Review.objects.get(application=application, committee=access.oslo)
    services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    return Permit.objects.get(application=application)


# --- Applications and reviews (the application row lock) ------------------------------------


def test_it_lets_only_one_of_two_chairs_decide(access, personas, catalogue):
    second_chair = UserFactory(username="second_chair", roles=["committee_member"])
    services.committee_add_member(committee=access.oslo, user=second_chair, actor=None, chair=True)
    application = _oslo_only_application(access, personas, catalogue)
    review = Review.objects.get(application=application, committee=access.oslo)

    results, errors = _race(
        lambda: services.review_decide(
            review=review, actor=personas["committee_chair"], approve=True
        ),
        lambda: services.review_decide(
            review=review, actor=second_chair, approve=False, reason="Insufficient safeguards"
        ),
        holding=application,
    )
    _one_winner(results, errors)
    review.refresh_from_db()
    application.refresh_from_db()
    decisions = AuditEvent.objects.filter(
        action__in=["access.review.approved", "access.review.rejected"]
    )
    assert decisions.count() == 1
    assert review.status == decisions.get().action.rsplit(".", 1)[1]
    assert application.status == {"approved": "approved", "rejected": "rejected"}[review.status]
    assert Permit.objects.filter(application=application).count() == (review.status == "approved")


def test_it_ends_withdraw_versus_approve_in_one_outcome(access, personas, catalogue):
    application = _oslo_only_application(access, personas, catalogue)
    review = Review.objects.get(application=application, committee=access.oslo)
    results, errors = _race(
        lambda: services.application_withdraw(
            application=application, actor=personas["researcher"]
        ),
        lambda: services.review_decide(
            review=review, actor=personas["committee_chair"], approve=True
        ),
        holding=application,
    )
    _one_winner(results, errors)
    application.refresh_from_db()
    permits = Permit.objects.filter(application=application).count()
    if application.status == Application.Status.WITHDRAWN:
        assert permits == 0 and Review.objects.get(pk=review.pk).status == "closed"
    else:
        assert application.status == Application.Status.APPROVED and permits == 1
    outcomes = AuditEvent.objects.filter(
        action__in=["access.application.withdrawn", "access.application.approved"]
    )
    assert outcomes.count() == 1


def test_it_ends_a_question_versus_a_decision_in_one_outcome(access, personas, catalogue):
    """A member asks the applicant while the chair approves: either the question came first
    and the decision waits for the answer, or the decision came first and the closed review
    takes no question. Never a permit issued while the applicant is being asked.

    The question goes first: it then holds the review while it waits for the application, so
    only the application's lock can stop the decision from acting on what it read before."""
    application = _oslo_only_application(access, personas, catalogue)
    review = Review.objects.get(application=application, committee=access.oslo)
    results, errors = _race(
        lambda: services.clarification_request(
            review=review, actor=personas["committee_member"], question="Which scanner?"
        ),
        lambda: services.review_decide(
            review=review, actor=personas["committee_chair"], approve=True
        ),
        holding=application,
        in_order=True,
    )
    _one_winner(results, errors)
    application.refresh_from_db()
    permits = Permit.objects.filter(application=application).count()
    if application.status == Application.Status.CLARIFICATION:
        assert permits == 0 and Review.objects.get(pk=review.pk).status == "pending"
    else:
        assert application.status == Application.Status.APPROVED and permits == 1
        assert not application.clarifications.exists()


def test_it_lapses_an_incomplete_application_once_when_two_runs_overlap(access, personas):
    review = Review.objects.get(application=access.submitted, committee=access.oslo)
    services.clarification_request(
        review=review, actor=personas["committee_member"], question="Ethics?", incomplete=True
    )
    Application.objects.filter(pk=access.submitted.pk).update(
        completion_due=timezone.now() - timedelta(minutes=1)
    )
    results, errors = _race(
        services.applications_lapse_incomplete,
        services.applications_lapse_incomplete,
        holding=access.submitted,
    )
    assert errors == [None, None]
    assert sorted(len(lapsed) for lapsed in results) == [0, 1]
    assert AuditEvent.objects.filter(action="access.application.lapsed").count() == 1


# --- Permits and invitations ----------------------------------------------------------------


def test_it_lets_only_one_of_two_revocations_through(access, personas, catalogue):
    permit = _permit(access, personas, catalogue)
    results, errors = _race(
        lambda: services.permit_change(
            permit=permit, actor=personas["committee_chair"], change="revoke", reason="Breach"
        ),
        lambda: services.permit_change(
            permit=permit, actor=personas["hdab_admin"], change="revoke", reason="Audit finding"
        ),
        holding=permit,
    )
    _one_winner(results, errors)
    permit.refresh_from_db()
    revoked = AuditEvent.objects.filter(action="access.permit.revoked")
    assert revoked.count() == 1
    assert permit.status == "revoked"
    assert permit.status_reason == revoked.get().details["reason"]


def test_it_expires_a_permit_once_when_two_runs_overlap(access, personas, catalogue):
    permit = _permit(access, personas, catalogue)
    day_after = permit.ends_on + timedelta(days=1)
    results, errors = _race(
        lambda: services.permits_expire(today=day_after),
        lambda: services.permits_expire(today=day_after),
        holding=permit,
    )
    assert errors == [None, None]
    assert sorted(len(expired) for expired in results) == [0, 1]
    assert AuditEvent.objects.filter(action="access.permit.expired").count() == 1


def test_it_records_one_answer_to_an_invitation(access, personas):
    member = services.team_invite(
        application=access.draft, actor=personas["researcher"], email="other_researcher@example.org"
    )
    invitee = personas["other_researcher"]
    results, errors = _race(
        lambda: services.team_answer(token=member.token, user=invitee, accept=True),
        lambda: services.team_answer(token=member.token, user=invitee, accept=False),
        holding=member,
    )
    _one_winner(results, errors)
    member.refresh_from_db()
    answers = AuditEvent.objects.filter(action__in=["access.team.accepted", "access.team.declined"])
    assert answers.count() == 1
    assert answers.get().action == f"access.team.{member.status}"
    assert member.status == (TeamMember.Status.ACCEPTED if results[0] else "declined")


# --- The audit chain ------------------------------------------------------------------------


def test_it_keeps_one_chain_under_concurrent_appends(db):
    def append(n):
        return lambda: [
            audit_record("test.concurrent", details={"n": n, "i": i}) for i in range(20)
        ]

    _results, errors = _race(*(append(n) for n in range(4)))
    assert errors == [None] * 4
    report = verify_chain()
    assert report.ok and report.checked == AuditEvent.objects.count() >= 80
