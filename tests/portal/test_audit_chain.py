import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from portal.audit import GENESIS_HASH, audit_record, verify_chain
from portal.models import AuditEvent


@pytest.fixture
def chain(db):
    return [
        audit_record("test.thing.created", object_type="test.thing", object_id=1, details={"n": 1}),
        audit_record("test.thing.updated", object_type="test.thing", object_id=1, details={"n": 2}),
        audit_record("test.thing.deleted", object_type="test.thing", object_id=1),
    ]


def _tamper(sql: str, params: list) -> None:
    """Change the table behind the application's back, as a database administrator could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # skips triggers
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def test_it_links_each_event_to_the_one_before(chain):
    assert chain[0].seq == 1 and chain[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in chain[1:]] == [e.hash for e in chain[:-1]]
    assert verify_chain().ok


def test_it_reports_an_intact_chain(chain, capsys):
    call_command("verify_audit_chain")
    assert "Audit chain intact: 3 events" in capsys.readouterr().out


def test_it_names_an_event_edited_behind_its_back(chain):
    _tamper("UPDATE portal_auditevent SET details = %s WHERE seq = 2", ['{"n": 999}'])
    with pytest.raises(CommandError, match=r"event #2 \(test.thing.updated\) was altered"):
        call_command("verify_audit_chain")


def test_it_names_a_missing_event(chain):
    _tamper("DELETE FROM portal_auditevent WHERE seq = 2", [])
    with pytest.raises(CommandError, match="event #2 is missing"):
        call_command("verify_audit_chain")


def test_it_names_an_event_whose_hash_was_rewritten(chain):
    # Rewriting both contents and hash of event 2 breaks the link from event 3.
    event = chain[1]
    event.details = {"n": 999}
    from portal.audit import _hash_of

    _tamper(
        "UPDATE portal_auditevent SET details = %s, hash = %s WHERE seq = 2",
        ['{"n": 999}', _hash_of(event)],
    )
    with pytest.raises(CommandError, match="event #3 does not link to event #2"):
        call_command("verify_audit_chain")


def test_it_catches_events_removed_from_the_end_with_an_expected_head(chain):
    head = chain[-1].hash
    _tamper("DELETE FROM portal_auditevent WHERE seq = 3", [])
    call_command("verify_audit_chain")  # still internally consistent
    with pytest.raises(CommandError, match="expected head"):
        call_command("verify_audit_chain", expect_head=head)


@pytest.mark.postgres
def test_it_is_refused_by_postgresql_to_update_or_delete(chain):
    if connection.vendor != "postgresql":
        pytest.skip("the append-only triggers are PostgreSQL's")
    for sql in (
        "UPDATE portal_auditevent SET action = 'x' WHERE seq = 1",
        "DELETE FROM portal_auditevent WHERE seq = 1",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert AuditEvent.objects.get(seq=1).action == "test.thing.created"


def test_it_keeps_details_hashable_after_a_round_trip(db):
    import datetime
    import decimal
    import uuid

    audit_record(
        "test.types",
        details={
            "when": datetime.date(2026, 1, 2),
            "amount": decimal.Decimal("1.50"),
            "id": uuid.UUID(int=5),
            "text": "ümlaut",
        },
    )
    assert verify_chain().ok
