"""A token issued while its permit is being suspended ends up suspended too (PostgreSQL, real
concurrent transactions).

The race is forced, as in test_concurrency: the test holds the audit chain's lock, which both
services take last, after everything they read and wrote. Issuing goes first: it reads the
permit as active, writes its token and waits for the audit lock; then the suspension runs. If
issuing did not hold the permit against a change until it commits, the suspension would mark
the permit's tokens without seeing the new one (a valid token outliving the suspension), or,
when the token's foreign key is checked at commit, the two would deadlock.
"""

import threading

import pytest
from django.db import connection, transaction

from access import services
from access.models import AccessToken, Permit
from portal.audit import _PG_LOCK_KEY
from tests.access.test_concurrency import MEET_TIMEOUT, _Racer, _wait_until_blocked

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL")


def test_a_token_issued_during_a_suspension_is_suspended_with_its_permit(
    permit, catalogue, personas
):
    researcher, chair = personas["researcher"], personas["committee_chair"]
    # The first token makes the keys and the status list (both audited), before the race.
    services.token_issue(permit=permit, node=catalogue.own_node, actor=researcher)

    issue = _Racer(
        lambda: services.token_issue(permit=permit, node=catalogue.own_node, actor=researcher),
        threading.Barrier(1),
    )
    suspend = _Racer(
        lambda: services.permit_change(
            permit=permit, actor=chair, change="suspend", reason="Audit"
        ),
        threading.Barrier(1),
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])
        issue.start()
        _wait_until_blocked([issue])
        suspend.start()
        _wait_until_blocked([issue, suspend])
    for racer in (issue, suspend):
        racer.join(timeout=MEET_TIMEOUT)
        assert not racer.is_alive(), "a racing transaction hung"
    assert suspend.error is None, suspend.error
    assert Permit.objects.get(pk=permit.pk).status == Permit.Status.SUSPENDED
    if issue.error is None:
        raced = AccessToken.objects.get(jti=issue.result.claims.jti)
        assert raced.status == AccessToken.Status.SUSPENDED
    else:
        assert isinstance(issue.error, services.InvalidTransition)
    assert set(AccessToken.objects.values_list("status", flat=True)) == {
        AccessToken.Status.SUSPENDED
    }


def test_tokens_issued_at_once_each_get_their_own_entry(permit, catalogue, personas, settings):
    """Four issuers at once, five tokens each, through lists of eight entries: every token is
    issued, no two share an entry, and no list hands out more than it holds."""
    settings.STATUS_LIST_SIZE = 8
    researcher = personas["researcher"]
    services.token_issue(permit=permit, node=catalogue.own_node, actor=researcher)  # the keys

    def five():
        return [
            services.token_issue(permit=permit, node=catalogue.own_node, actor=researcher)
            for _ in range(5)
        ]

    together = threading.Barrier(4)
    racers = [_Racer(five, together) for _ in range(4)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)
        assert not racer.is_alive() and racer.error is None, racer.error
    entries = list(AccessToken.objects.values_list("status_list_id", "status_index"))
    assert len(entries) == 21 == len(set(entries))
    assert all(0 <= index < 8 for _list, index in entries)
