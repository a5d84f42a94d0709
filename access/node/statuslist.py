"""Token Status List (IETF OAuth draft ``draft-ietf-oauth-status-list``): the compressed bit
array that tells a node which tokens were revoked or suspended.

Each access token points at one entry (``status.status_list.idx`` and ``.uri``). The list is a
byte array in which entry ``i`` takes ``bits`` bits, starting at the least significant bit of
byte ``i * bits // 8``; it travels ZLIB-compressed (RFC 1950) and base64url-encoded without
padding as ``lst``, inside a signed JWT of type ``statuslist+jwt`` whose ``sub`` is the list's
URI, with ``iat``, ``exp`` and ``ttl`` (seconds a node may cache it).
"""

import base64
import binascii
import zlib
from dataclasses import dataclass, field

LIST_TYPE = "statuslist+jwt"
MEDIA_TYPE = "application/statuslist+jwt"

VALID = 0x00
INVALID = 0x01  # revoked: for good
SUSPENDED = 0x02  # may become valid again

ALLOWED_BITS = (1, 2, 4, 8)
# A node refuses to inflate a list beyond this (a compressed bomb would otherwise exhaust it):
# 16 MiB holds 134 million one-bit entries.
MAX_LIST_BYTES = 16 * 1024 * 1024


class InvalidStatusList(ValueError):
    """A status list that cannot be read."""


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: object) -> bytes:
    if not isinstance(text, str) or "=" in text:
        raise InvalidStatusList("lst must be base64url without padding")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise InvalidStatusList(f"lst is not base64url: {error}") from None


@dataclass
class StatusList:
    """A mutable status list of ``bits`` bits per entry."""

    bits: int = 2
    data: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        if self.bits not in ALLOWED_BITS:
            raise InvalidStatusList(f"bits must be one of {ALLOWED_BITS}")

    @property
    def size(self) -> int:
        """How many entries the list holds."""
        return len(self.data) * 8 // self.bits

    def get(self, idx: int) -> int:
        """The status of entry ``idx``; an index beyond the list is refused (the draft says a
        verifier must reject it rather than take it as valid)."""
        if not isinstance(idx, int) or idx < 0 or idx >= self.size:
            raise IndexError(f"status index {idx} is outside the list of {self.size}")
        byte, shift = divmod(idx * self.bits, 8)
        return (self.data[byte] >> shift) & ((1 << self.bits) - 1)

    def set(self, idx: int, value: int) -> None:
        """Set entry ``idx`` to ``value``, growing the list as needed."""
        if value < 0 or value >= 1 << self.bits:
            highest = (1 << self.bits) - 1
            raise ValueError(f"a status of {self.bits} bits is between 0 and {highest}")
        byte, shift = divmod(idx * self.bits, 8)
        if byte >= len(self.data):
            self.data.extend(bytes(byte + 1 - len(self.data)))
        mask = ((1 << self.bits) - 1) << shift
        self.data[byte] = (self.data[byte] & ~mask) | (value << shift)

    def encode(self) -> dict[str, object]:
        """The ``status_list`` claim: ``{"bits": ..., "lst": ...}``."""
        return {"bits": self.bits, "lst": _b64url_encode(zlib.compress(bytes(self.data), 9))}

    @classmethod
    def decode(cls, claim: object, *, max_bytes: int = MAX_LIST_BYTES) -> "StatusList":
        """Read a ``status_list`` claim, refusing one that inflates beyond ``max_bytes``."""
        if not isinstance(claim, dict):
            raise InvalidStatusList("status_list must be a JSON object")
        bits = claim.get("bits")
        if bits not in ALLOWED_BITS or isinstance(bits, bool):
            raise InvalidStatusList(f"bits must be one of {ALLOWED_BITS}")
        compressed = _b64url_decode(claim.get("lst"))
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(compressed, max_bytes)
        except zlib.error as error:
            raise InvalidStatusList(f"lst is not ZLIB data: {error}") from None
        if inflater.unconsumed_tail:
            raise InvalidStatusList(f"the list inflates beyond {max_bytes} bytes")
        if not inflater.eof:
            raise InvalidStatusList("lst is truncated ZLIB data")
        return cls(bits=bits, data=bytearray(data))


def list_claims(
    *, uri: str, status_list: StatusList, iat: int, ttl: int, exp: int
) -> dict[str, object]:
    """The claims of a Status List Token."""
    return {"sub": uri, "iat": iat, "exp": exp, "ttl": ttl, "status_list": status_list.encode()}
