"""Writing to and verifying the keyed, hash-chained audit log.

Every state change in the portal calls :func:`audit_record` inside the transaction that makes
the change, so the event and the change are committed together or not at all. Each event is
signed with an HMAC key from the environment (``portal.audit_keys``), so that someone who can
rewrite the table but does not hold the key cannot rebuild a chain that verifies.
"""

import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from portal import audit_actions
from portal.audit_keys import (
    GENESIS_HASH,
    AuditKeyring,
    chain_fields,
    keyed_hash,
    unkeyed_hash,
)
from portal.models import AnyUser, AuditEvent

# Any constant works; it names the advisory lock that serialises appends on PostgreSQL.
_PG_LOCK_KEY = 0x41554449  # "AUDI"


def current_keyring() -> AuditKeyring:
    """The keys the portal signs and verifies with (``settings.AUDIT_KEYS``)."""
    return settings.AUDIT_KEYS


def _fields_of(event: AuditEvent) -> dict[str, object]:
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


def _hash_of(event: AuditEvent, keyring: AuditKeyring | None = None) -> str:
    """The hash ``event`` must carry: unkeyed SHA-256 without a key id, else the HMAC under
    the key its ``key_id`` names (``KeyError`` when that key is not configured)."""
    if not event.key_id:
        return unkeyed_hash(_fields_of(event))
    keyring = keyring or current_keyring()
    return keyed_hash(_fields_of(event), key_id=event.key_id, key=keyring.keys[event.key_id])


def object_label(obj: models.Model) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}"


def audit_record(
    action: str,
    *,
    actor: AnyUser | None = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    details: Mapping[str, object] | None = None,
) -> AuditEvent:
    """Append one event to the chain.

    ``action`` is a namespaced code such as ``access.application.submitted``, registered with
    its label in ``portal.audit_actions``: an unregistered code is refused
    (:class:`~portal.audit_actions.UnknownAuditAction`) before anything is written. Appends are
    serialised (an advisory lock on PostgreSQL, an immediate transaction on SQLite) so that two
    writers never chain onto the same predecessor. The event is signed with the key that
    ``AUDIT_KEYS`` names for signing, and carries that key's id.
    """
    audit_actions.get(action)
    keyring = current_keyring()
    if obj is not None:
        object_type = object_label(obj)
        object_id = obj.pk
    # Round-trip through JSON so the stored details hash the same way when read back.
    clean_details = json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder))
    actor_obj = actor if actor is not None and actor.is_authenticated else None
    # Inside the caller's transaction, no savepoint: a failed append fails that transaction.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])
        last = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
        seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        event = AuditEvent(
            seq=seq,
            created_at=timezone.now(),
            actor=actor_obj,
            actor_label=actor_obj.pseudonym if actor_obj else "system",
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            details=clean_details,
            prev_hash=prev_hash,
            key_id=keyring.signing_key_id,
        )
        event.hash = _hash_of(event, keyring)
        event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a verification: how many events were checked, how many of them were
    written before the chain was keyed, and the first problem."""

    checked: int
    head_hash: str
    problem: str = ""
    problem_seq: int | None = None
    unkeyed: int = 0

    @property
    def ok(self) -> bool:
        return not self.problem


def _events() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("seq").iterator(chunk_size=2000)


def verify_chain(
    keyring: AuditKeyring | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    every: int = 10_000,
) -> ChainReport:
    """Walk the chain from the first event and report the first broken, missing or forged link.

    Every event must follow the one before without a gap, link to its hash, and carry the hash
    its contents give: the HMAC under the key its ``key_id`` names. Events without a key id
    (written before the chain was keyed) are accepted only at the beginning of the chain, and
    only when a keyed event follows them, whose signature then covers them through
    ``prev_hash``. An unkeyed event after a keyed one, a chain with no keyed event at all, and
    an event signed with a key id that ``AUDIT_KEYS`` does not hold are all reported.

    ``progress``, if given, is called with the number of events checked so far after every
    ``every`` events, so that a long walk shows it is moving.
    """
    keyring = keyring or current_keyring()
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    unkeyed = 0

    def broken(problem: str, seq: int | None) -> ChainReport:
        return ChainReport(checked, prev_hash, problem, seq, unkeyed)

    for event in _events():
        if event.seq != expected_seq:
            return broken(
                f"event #{expected_seq} is missing (the next event present is #{event.seq})",
                expected_seq,
            )
        if event.prev_hash != prev_hash:
            return broken(
                f"event #{event.seq} does not link to event #{event.seq - 1}: "
                "its predecessor was changed or replaced",
                event.seq,
            )
        if not event.key_id:
            if unkeyed != checked:
                return broken(
                    f"event #{event.seq} ({event.action}) is not signed, but follows signed "
                    "events: it was written or rewritten without the audit key",
                    event.seq,
                )
            unkeyed += 1
        elif event.key_id not in keyring.keys:
            return broken(
                f"event #{event.seq} ({event.action}) is signed with the key id "
                f"{event.key_id!r}, which AUDIT_KEYS does not hold: configure that key to "
                "verify it, or the event was forged",
                event.seq,
            )
        if not hmac.compare_digest(_hash_of(event, keyring), event.hash):
            return broken(
                f"event #{event.seq} ({event.action}) was altered: "
                "its contents no longer match its hash",
                event.seq,
            )
        prev_hash = event.hash
        expected_seq += 1
        checked += 1
        if progress is not None and checked % every == 0:
            progress(checked)
    if checked and unkeyed == checked:
        return broken(
            f"none of the {checked} events is signed: since the chain was keyed it always ends "
            "with a signed event, so it was rewritten without the audit key",
            None,
        )
    return ChainReport(checked, prev_hash, unkeyed=unkeyed)
