"""The keys that sign the audit chain, and the hashes that link it (no database access here).

Each event's ``hash`` is an HMAC-SHA256 of the event's fields in a canonical JSON form: its
sequence number, time, actor, action, object, details, the previous event's hash and the id of
the key that signed it. The key is named by the event's ``key_id`` and comes from the
environment (``AUDIT_KEYS``), never from the database: whoever can rewrite the table but does not
hold the key cannot produce a chain that verifies.

Events written before the chain was keyed have an empty ``key_id`` and a plain SHA-256 hash; they
are accepted only as the beginning of the chain (see ``portal.audit.verify_chain``).

``AUDIT_KEYS`` is a JSON object::

    {"signing": "2026-01", "keys": {"2026-01": "<secret>", "2025-06": "<older secret>"}}

``signing`` names the key that signs new events; the other keys stay to verify older events.
"""

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from django.core.exceptions import ImproperlyConfigured

GENESIS_HASH = "0" * 64
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
MIN_KEY_LENGTH = 32
KEY_ID_MAX_LENGTH = 32

# Development and tests sign with this published key; production refuses it.
DEVELOPMENT_KEY_ID = "development"
DEVELOPMENT_KEY = "development-only-audit-key-never-used-in-production-0123456789"
DEVELOPMENT_AUDIT_KEYS = json.dumps(
    {"signing": DEVELOPMENT_KEY_ID, "keys": {DEVELOPMENT_KEY_ID: DEVELOPMENT_KEY}}
)


@dataclass(frozen=True)
class AuditKeyring:
    """The keys known to the portal by id, and the id of the one that signs new events."""

    signing_key_id: str
    keys: Mapping[str, bytes] = field(repr=False)

    @property
    def signing_key(self) -> bytes:
        return self.keys[self.signing_key_id]


def parse_audit_keys(text: str, *, production: bool) -> AuditKeyring:
    """Read ``AUDIT_KEYS`` (see the module docstring) or fail start-up with the reason.

    Every key id matches ``KEY_ID_PATTERN``, every key is at least ``MIN_KEY_LENGTH``
    characters, the signing key id is one of the keys, and production refuses the published
    development key under any id.
    """
    problem = "AUDIT_KEYS must be a JSON object such as "
    problem += '{"signing": "2026-01", "keys": {"2026-01": "<at least 32 characters>"}}'
    try:
        data = json.loads(text)
    except ValueError:
        raise ImproperlyConfigured(f"{problem}; it is not valid JSON") from None
    if not isinstance(data, dict) or set(data) != {"signing", "keys"}:
        raise ImproperlyConfigured(f"{problem}; it needs exactly the members signing and keys")
    signing, raw_keys = data["signing"], data["keys"]
    if not isinstance(raw_keys, dict) or not raw_keys:
        raise ImproperlyConfigured(f"{problem}; keys must be a non-empty object")
    keys: dict[str, bytes] = {}
    for key_id, key in raw_keys.items():
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise ImproperlyConfigured(
                f"AUDIT_KEYS: the key id {key_id!r} must be 1 to {KEY_ID_MAX_LENGTH} letters, "
                "digits, '.', '_' or '-', starting with a letter or digit"
            )
        if not isinstance(key, str) or len(key) < MIN_KEY_LENGTH:
            raise ImproperlyConfigured(
                f"AUDIT_KEYS: the key {key_id!r} must be a string of at least "
                f"{MIN_KEY_LENGTH} characters"
            )
        if production and hmac.compare_digest(key.encode(), DEVELOPMENT_KEY.encode()):
            raise ImproperlyConfigured(
                f"AUDIT_KEYS: the key {key_id!r} is the published development key; "
                "production needs a key of its own"
            )
        keys[key_id] = key.encode()
    if not isinstance(signing, str) or signing not in keys:
        raise ImproperlyConfigured(
            f"AUDIT_KEYS: signing names {signing!r}, which is not one of the keys "
            f"({', '.join(sorted(keys))})"
        )
    return AuditKeyring(signing_key_id=signing, keys=MappingProxyType(keys))


def _canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_fields(
    *,
    seq: int,
    created_at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    details: dict,
    prev_hash: str,
) -> dict:
    """The fields of an event that its hash covers, in the form that is hashed."""
    return {
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


def unkeyed_hash(fields: dict) -> str:
    """The plain SHA-256 of an event written before the chain was keyed."""
    return hashlib.sha256(_canonical(fields)).hexdigest()


def keyed_hash(fields: dict, *, key_id: str, key: bytes) -> str:
    """The HMAC-SHA256 of an event under ``key``; the key id is part of what is signed."""
    return hmac.new(key, _canonical({**fields, "key_id": key_id}), hashlib.sha256).hexdigest()
