"""Writing to and verifying the hash-chained audit log.

Every state change in the portal calls :func:`audit_record` inside the transaction that makes
the change, so the event and the change are committed together or not at all.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from portal.models import AuditEvent, User

GENESIS_HASH = "0" * 64
# Any constant works; it names the advisory lock that serialises appends on PostgreSQL.
_PG_LOCK_KEY = 0x41554449  # "AUDI"


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(
    *,
    seq: int,
    created_at,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    details: dict,
    prev_hash: str,
) -> str:
    """The SHA-256 of an event's fields in a canonical JSON form."""
    payload = {
        "seq": seq,
        "created_at": created_at.astimezone(UTC).isoformat(),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()


def _hash_of(event: AuditEvent) -> str:
    return event_hash(
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


def object_label(obj: models.Model) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}"


def audit_record(
    action: str,
    *,
    actor: User | None = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    details: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain.

    ``action`` is a namespaced code such as ``access.application.submitted``. Appends are
    serialised (an advisory lock on PostgreSQL, an immediate transaction on SQLite) so that two
    writers never chain onto the same predecessor.
    """
    if obj is not None:
        object_type = object_label(obj)
        object_id = obj.pk
    # Round-trip through JSON so the stored details hash the same way when read back.
    clean_details = json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder))
    actor_obj = actor if actor is not None and actor.is_authenticated else None
    with transaction.atomic():
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
        )
        event.hash = _hash_of(event)
        event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a verification: how many events were checked and the first problem."""

    checked: int
    head_hash: str
    problem: str = ""
    problem_seq: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problem


def _events() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("seq").iterator(chunk_size=2000)


def verify_chain() -> ChainReport:
    """Walk the chain from the first event and report the first broken or missing link."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for event in _events():
        if event.seq != expected_seq:
            return ChainReport(
                checked,
                prev_hash,
                f"event #{expected_seq} is missing (the next event present is #{event.seq})",
                expected_seq,
            )
        if event.prev_hash != prev_hash:
            return ChainReport(
                checked,
                prev_hash,
                f"event #{event.seq} does not link to event #{event.seq - 1}: "
                "its predecessor was changed or replaced",
                event.seq,
            )
        if _hash_of(event) != event.hash:
            return ChainReport(
                checked,
                prev_hash,
                f"event #{event.seq} ({event.action}) was altered: "
                "its contents no longer match its hash",
                event.seq,
            )
        prev_hash = event.hash
        expected_seq += 1
        checked += 1
    return ChainReport(checked, prev_hash)
