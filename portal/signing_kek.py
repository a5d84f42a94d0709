"""The key-encryption keys (KEK) that protect the private signing keys at rest (no database
access here).

``SIGNING_KEK`` is 32 random bytes, base64url-encoded (``secrets.token_urlsafe(32)`` makes one);
the private keys of the portal's signing keys are stored encrypted under it with AES-256-GCM
(``access.signing``). ``SIGNING_KEK_PREVIOUS`` may list older KEKs, comma-separated, so that keys
encrypted under them can still be read while ``manage.py signing_keys rewrap`` encrypts them
again under the current one. Each KEK is known by its id: the first 16 hex digits of the SHA-256
of the KEK, which is stored beside each encrypted key.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from django.core.exceptions import ImproperlyConfigured

KEK_BYTES = 32

# Development and tests encrypt with this published KEK; production refuses it.
DEVELOPMENT_SIGNING_KEK = "ZGV2ZWxvcG1lbnQtb25seSBLRUs6IG5ldmVyIHVzZWQ"  # 32 bytes


def kek_id(kek: bytes) -> str:
    """The id of a KEK: not secret, and the same wherever the KEK is configured."""
    return hashlib.sha256(kek).hexdigest()[:16]


@dataclass(frozen=True)
class KekRing:
    """The current KEK (which encrypts) and every KEK that may decrypt, by id."""

    current_id: str
    keys: Mapping[str, bytes] = field(repr=False)

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]


def _decode(text: str, name: str) -> bytes:
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEK_BYTES or not text:
        raise ImproperlyConfigured(
            f"{name} must be {KEK_BYTES} random bytes, base64url-encoded (make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return raw


def parse_signing_kek(current: str, previous: list[str], *, production: bool) -> KekRing:
    """Read ``SIGNING_KEK`` and ``SIGNING_KEK_PREVIOUS`` or fail start-up with the reason.
    Production refuses the published development KEK, as the current KEK or among the
    previous ones."""
    development = _decode(DEVELOPMENT_SIGNING_KEK, "the development KEK")
    keys: dict[str, bytes] = {}
    named = [(current, "SIGNING_KEK")] + [(p, "SIGNING_KEK_PREVIOUS") for p in previous]
    for text, name in named:
        kek = _decode(text, name)
        if production and hmac.compare_digest(kek, development):
            raise ImproperlyConfigured(
                f"{name} is the published development KEK; production needs a KEK of its own"
            )
        keys.setdefault(kek_id(kek), kek)
    return KekRing(current_id=kek_id(_decode(current, "SIGNING_KEK")), keys=MappingProxyType(keys))
