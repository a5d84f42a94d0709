import hashlib
import hmac
import importlib
import json
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from portal.audit import GENESIS_HASH, audit_record, verify_chain
from portal.audit_keys import DEVELOPMENT_KEY_ID, chain_fields, parse_audit_keys
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


# A forger with database access but without the audit key ---------------------------------


def _forge(chain_from: int, details: dict, sign) -> None:
    """Rewrite event ``chain_from`` with ``details``, then re-hash it and every later event so
    that each links to the forged one before it, straight in the table. ``sign(fields)``
    returns the ``(key_id, hash)`` the forger writes for an event."""
    prev_hash = None
    for event in AuditEvent.objects.order_by("seq"):
        if event.seq < chain_from:
            prev_hash = event.hash
            continue
        if event.seq == chain_from:
            event.details = details
        event.prev_hash = prev_hash or GENESIS_HASH
        key_id, event.hash = sign(_fields(event))
        _tamper(
            "UPDATE portal_auditevent SET details = %s, prev_hash = %s, hash = %s, key_id = %s "
            "WHERE seq = %s",
            [json.dumps(event.details), event.prev_hash, event.hash, key_id, event.seq],
        )
        prev_hash = event.hash


def _fields(event) -> dict:
    return chain_fields(
        seq=event.seq,
        created_at=event.created_at,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        details=event.details,
        prev_hash=event.prev_hash,
    )


def _sha256(fields: dict) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _hmac(key: bytes, fields: dict, key_id: str) -> str:
    payload = {**fields, "key_id": key_id}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def test_it_signs_each_event_with_the_configured_key(chain):
    assert {e.key_id for e in AuditEvent.objects.all()} == {DEVELOPMENT_KEY_ID}
    assert all(e.hash != _sha256(_fields(e)) for e in chain)


def test_it_catches_a_chain_rehashed_with_plain_sha256(chain):
    _forge(2, {"n": 999}, lambda fields: (DEVELOPMENT_KEY_ID, _sha256(fields)))
    with pytest.raises(CommandError, match=r"event #2 \(test.thing.updated\) was altered"):
        call_command("verify_audit_chain")


def test_it_catches_a_chain_rehashed_as_unsigned_events(chain):
    _forge(2, {"n": 999}, lambda fields: ("", _sha256(fields)))
    report = verify_chain()
    assert report.problem_seq == 2 and "not signed, but follows signed events" in report.problem
    with pytest.raises(CommandError, match=r"event #2 \(test.thing.updated\) is not signed"):
        call_command("verify_audit_chain")


def test_it_catches_a_whole_chain_rewritten_as_unsigned_events(chain):
    _forge(1, {"n": 999}, lambda fields: ("", _sha256(fields)))
    with pytest.raises(CommandError, match="none of the 3 events is signed"):
        call_command("verify_audit_chain")


def test_it_catches_a_chain_rehashed_with_a_wrong_key(chain):
    wrong = b"a forger's guess at the audit key, 32+ bytes long"
    _forge(2, {"n": 999}, lambda f: (DEVELOPMENT_KEY_ID, _hmac(wrong, f, DEVELOPMENT_KEY_ID)))
    with pytest.raises(CommandError, match=r"event #2 \(test.thing.updated\) was altered"):
        call_command("verify_audit_chain")


def test_it_reports_an_event_signed_with_an_unknown_key_id(chain):
    forged = b"a key the portal has never been given, 32+ bytes"
    _forge(2, {"n": 999}, lambda fields: ("forged", _hmac(forged, fields, "forged")))
    with pytest.raises(CommandError, match=r"event #2 .* key id 'forged', which AUDIT_KEYS"):
        call_command("verify_audit_chain")


def _keyring(signing: str, **keys: str):
    return parse_audit_keys(json.dumps({"signing": signing, "keys": keys}), production=False)


OLD_KEY = "the 2026 audit key, long enough to be accepted: " + "o" * 16
NEW_KEY = "the 2027 audit key, long enough to be accepted: " + "n" * 16


def test_it_keeps_verifying_old_events_after_a_key_rotation(db, settings, capsys):
    settings.AUDIT_KEYS = _keyring("2026", **{"2026": OLD_KEY})
    before = audit_record("test.thing.created", object_type="test.thing", object_id=1)
    settings.AUDIT_KEYS = _keyring("2027", **{"2026": OLD_KEY, "2027": NEW_KEY})
    after = audit_record("test.thing.updated", object_type="test.thing", object_id=1)

    assert (before.key_id, after.key_id) == ("2026", "2027")
    assert after.hash == _hmac(NEW_KEY.encode(), _fields(after), "2027")
    call_command("verify_audit_chain", expect_head=after.hash)
    assert "Audit chain intact: 2 events" in capsys.readouterr().out

    # Retiring the old key too early is reported, naming the first event it signed.
    settings.AUDIT_KEYS = _keyring("2027", **{"2027": NEW_KEY})
    with pytest.raises(CommandError, match=r"event #1 .* key id '2026', which AUDIT_KEYS"):
        call_command("verify_audit_chain")


# Events written before the chain was keyed ------------------------------------------------


def _unkeyed_events(count: int) -> None:
    """Events as the portal wrote them before it was keyed: no key id, plain SHA-256."""
    prev_hash = GENESIS_HASH
    for seq in range(1, count + 1):
        event = AuditEvent(
            seq=seq,
            created_at=timezone.now(),
            actor_label="system",
            action="test.legacy",
            object_type="test.thing",
            object_id=str(seq),
            details={"n": seq},
            prev_hash=prev_hash,
        )
        event.hash = _sha256(_fields(event))
        event.save(force_insert=True)
        prev_hash = event.hash


def _seal_unkeyed_events() -> None:
    """Run the data step of the migration that keyed the chain."""
    migration = importlib.import_module("portal.migrations.0003_audit_event_key_id")
    # The step only reads the editor's connection (a schema editor cannot open inside the
    # test's transaction on SQLite).
    migration.seal_unkeyed_events(django_apps, SimpleNamespace(connection=connection))


def test_it_accepts_unkeyed_events_sealed_when_the_chain_was_keyed(db, capsys):
    _unkeyed_events(2)
    _seal_unkeyed_events()
    audit_record("test.thing.created", object_type="test.thing", object_id=3)

    seal = AuditEvent.objects.get(seq=3)
    assert (seal.action, seal.key_id, seal.details["unkeyed_events"]) == (
        "portal.audit.keyed", DEVELOPMENT_KEY_ID, 2
    )  # fmt: skip
    report = verify_chain()
    assert report.ok and (report.checked, report.unkeyed) == (4, 2)
    call_command("verify_audit_chain")
    assert "the first 2 were written before the chain was keyed" in capsys.readouterr().out


def test_it_adds_no_seal_to_an_empty_chain(db):
    _seal_unkeyed_events()
    assert not AuditEvent.objects.exists()


def test_it_catches_an_unkeyed_event_rewritten_before_the_seal(db):
    _unkeyed_events(2)
    _seal_unkeyed_events()
    seal = AuditEvent.objects.get(seq=3)

    def sign(fields):
        # The forger re-hashes the unkeyed events, but cannot sign the seal again.
        return ("", _sha256(fields)) if fields["seq"] < seal.seq else (seal.key_id, seal.hash)

    _forge(1, {"n": 999}, sign)
    with pytest.raises(CommandError, match=r"event #3 \(portal.audit.keyed\) was altered"):
        call_command("verify_audit_chain")


def test_it_catches_an_unkeyed_event_appended_after_signed_ones(db):
    _unkeyed_events(2)
    _seal_unkeyed_events()
    last = AuditEvent.objects.get(seq=3)
    event = AuditEvent(
        seq=4,
        created_at=timezone.now(),
        actor_label="system",
        action="test.inserted",
        prev_hash=last.hash,
    )
    event.hash = _sha256(_fields(event))
    event.save(force_insert=True)
    with pytest.raises(CommandError, match=r"event #4 \(test.inserted\) is not signed"):
        call_command("verify_audit_chain")


def test_it_catches_unkeyed_events_without_the_seal(db):
    _unkeyed_events(2)
    with pytest.raises(CommandError, match="none of the 2 events is signed"):
        call_command("verify_audit_chain")
