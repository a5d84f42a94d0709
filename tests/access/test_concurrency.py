"""Racing actions end in exactly one outcome (PostgreSQL, real concurrent transactions)."""

import threading

import pytest
from django.db import connection, connections

from access import services
from access.models import Application, InvalidTransition, Permit, Review
from portal.audit import audit_record, verify_chain
from portal.models import AuditEvent
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL")


def _race(*actions):
    """Run the callables at the same moment in threads; return (results, errors)."""
    barrier = threading.Barrier(len(actions))
    results, errors = [None] * len(actions), [None] * len(actions)

    def run(i, action):
        try:
            barrier.wait()
            results[i] = action()
        except Exception as error:  # the test inspects what each thread got
            errors[i] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results, errors


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
    )
    assert sum(r is not None for r in results) == 1
    assert sum(isinstance(e, InvalidTransition) for e in errors) == 1
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
    )
    assert sum(r is not None for r in results) == 1
    assert sum(isinstance(e, InvalidTransition) for e in errors) == 1
    application.refresh_from_db()
    permits = Permit.objects.filter(application=application).count()
    if application.status == Application.Status.WITHDRAWN:
        assert permits == 0 and Review.objects.get(pk=review.pk).status == "closed"
    else:
        assert application.status == Application.Status.APPROVED and permits == 1


def test_it_keeps_one_chain_under_concurrent_appends(db):
    def append(n):
        return lambda: [
            audit_record("test.concurrent", details={"n": n, "i": i}) for i in range(20)
        ]

    _results, errors = _race(*(append(n) for n in range(4)))
    assert errors == [None] * 4
    report = verify_chain()
    assert report.ok and report.checked == AuditEvent.objects.count() >= 80
