"""Reading a compact JWS the way the node's verifier needs it, and the keys of a JWKS.

Only the small header is decoded before the signature has checked out; the header may carry
nothing but ``alg`` (from the allow-list :data:`~.claims.ALGORITHMS`), ``kid`` and ``typ``; JSON
is read strictly (no duplicate members, no NaN, UTF-8 only) and base64url without padding. Keys
come only from the portal's JWKS, each with the one algorithm its type and curve imply.
"""

import binascii
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc.jwk import ECKey, OKPKey
from joserfc.jws import JWSRegistry

from .claims import ALGORITHMS
from .reasons import Reason

logger = logging.getLogger(__name__)

# The only header parameters a portal token carries (RFC 8725 3.10: nothing else is trusted).
HEADER_PARAMETERS = frozenset({"alg", "kid", "typ"})
MAX_HEADER_CHARS = 1024  # base64url characters; the portal's header is under 150
MAX_KID_CHARS = 256
MAX_CACHED_HEADERS = 64


_COMPACT = re.compile(r"([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]*)")
# A key's type and curve fix the one algorithm it checks; its public members.
_KEY_KINDS: dict[tuple[object, object], tuple[str, tuple[str, ...]]] = {
    ("EC", "P-256"): ("ES256", ("kty", "crv", "x", "y")),
    ("OKP", "Ed25519"): ("Ed25519", ("kty", "crv", "x")),
}


class Refused(Exception):
    """A check failed; ``reason`` says which."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason


_ES256 = ec.ECDSA(hashes.SHA256())  # immutable: shared by every check


@dataclass(frozen=True, slots=True)
class Key:
    """A verification key: the algorithm its type implies, and its public key (joserfc reads
    and checks the JWK; the signature check then calls ``cryptography`` directly, which is
    what joserfc does too, without its per-call lookups)."""

    alg: str
    public: ec.EllipticCurvePublicKey | Ed25519PublicKey

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (JWS form: ``r || s`` for ES256, RFC 7518 3.4) checks out."""
        try:
            # The algorithm names the key's type (load_jwks pairs them): a string comparison,
            # where an isinstance check against the key's abstract class costs more.
            if self.alg == "ES256":
                if len(signature) != 64:
                    return False
                der = encode_dss_signature(
                    int.from_bytes(signature[:32]), int.from_bytes(signature[32:])
                )
                cast(ec.EllipticCurvePublicKey, self.public).verify(der, signing_input, _ES256)
            else:
                cast(Ed25519PublicKey, self.public).verify(signature, signing_input)
        except InvalidSignature:
            return False
        return True


@dataclass(slots=True)
class Parsed:
    """A compact JWS whose header (and only its header) has been read."""

    header: dict[str, Any]
    alg: str
    kid: str
    signing_input: bytes
    payload: str
    signature: bytes


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing duplicate member names (RFC 7515 5.2 and RFC 8725 3.7: a parser
    that keeps the last one would read what another parser did not)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_JSON = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_no_constant)


def json_object(data: bytes) -> dict[str, Any]:
    """A UTF-8 JSON object, strictly read; :class:`Refused` ``MALFORMED`` otherwise."""
    try:
        value = _JSON.decode(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # ValueError: not JSON, a duplicate member, NaN, or an integer of over 4,300 digits.
        raise Refused(Reason.MALFORMED, "not a JSON object in UTF-8") from None
    if not isinstance(value, dict):
        raise Refused(Reason.MALFORMED, "not a JSON object")
    return value


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def b64decode(segment: str) -> bytes:
    """Base64url without padding (RFC 7515 2); the caller has checked the alphabet."""
    padded = (segment + "=" * (-len(segment) % 4)).encode("ascii").translate(_FROM_URLSAFE)
    try:
        return binascii.a2b_base64(padded, strict_mode=True)
    except (binascii.Error, ValueError):
        raise Refused(Reason.MALFORMED, "not base64url") from None


def _read_header(segment: str) -> tuple[dict[str, Any], str, str]:
    """Read and check a JWS header: an allowed ``alg``, nothing but ``alg``, ``kid`` and
    ``typ``, a ``kid`` to look up. Returns the header, its ``alg`` and its ``kid``."""
    if len(segment) > MAX_HEADER_CHARS:
        raise Refused(Reason.OVERSIZED, "the header is too long")
    header = json_object(b64decode(segment))
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise Refused(Reason.BAD_ALGORITHM, f"alg {alg!r} is not allowed")
    if not header.keys() <= HEADER_PARAMETERS:
        extra = ", ".join(sorted(header.keys() - HEADER_PARAMETERS))
        raise Refused(Reason.BAD_HEADER, f"header parameters not accepted: {extra}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_CHARS:
        raise Refused(Reason.UNKNOWN_KEY, "no kid names a key")
    return header, alg, kid


def parse_compact(token: str, headers: dict[str, tuple[dict[str, Any], str, str]]) -> Parsed:
    """Read a compact JWS: three base64url segments, of which only the header is decoded.

    The portal's tokens share a handful of headers (one per key), so ``headers`` keeps those
    that passed :func:`_read_header`, by their exact text (read-only; cleared when full).
    """
    match = _COMPACT.fullmatch(token)
    if match is None:
        raise Refused(Reason.MALFORMED, "not three base64url segments")
    header_segment, payload_segment, signature_segment = match.groups()
    read = headers.get(header_segment)
    if read is None:
        read = _read_header(header_segment)
        if len(headers) >= MAX_CACHED_HEADERS:
            headers.clear()
        headers[header_segment] = read
    header, alg, kid = read
    return Parsed(
        header=header,
        alg=alg,
        kid=kid,
        signing_input=token[: match.end(2)].encode("ascii"),
        payload=payload_segment,
        signature=b64decode(signature_segment),
    )


def is_media_type(value: object, expected: str) -> bool:
    """Whether a ``typ`` header names the media type ``application/<expected>``: RFC 7515
    4.1.9 lets it omit ``application/`` and RFC 2045 compares media types case-insensitively,
    so ``at+jwt``, ``AT+JWT`` and ``application/at+jwt`` all match; ``JWT`` and
    ``at+jwt; charset=x`` do not."""
    if not isinstance(value, str):
        return False
    lowered = value.lower()
    return lowered == expected or lowered == "application/" + expected


def load_jwks(document: bytes) -> dict[str, Key]:
    """The verification keys of a JWKS (RFC 7517), by ``kid``: P-256 keys for ES256 and
    Ed25519 keys for Ed25519, only their public members. A key of another type or curve, for
    another use or algorithm, without a ``kid`` or sharing one, is left out. Raises
    :class:`Refused` (``KEYS_UNAVAILABLE``) when the document is not a JWKS."""
    try:
        doc = json_object(document)
    except Refused:
        raise Refused(Reason.KEYS_UNAVAILABLE, "the JWKS is not a JSON object") from None
    items = doc.get("keys")
    if not isinstance(items, list):
        raise Refused(Reason.KEYS_UNAVAILABLE, "the JWKS has no keys list")
    registry = JWSRegistry(algorithms=list(ALGORITHMS))
    keys: dict[str, Key] = {}
    shared: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        kid, kind = item.get("kid"), _KEY_KINDS.get((item.get("kty"), item.get("crv")))
        if not isinstance(kid, str) or not kid or kind is None:
            continue
        alg, members = kind
        if item.get("use", "sig") != "sig" or item.get("alg", alg) != alg:
            continue
        if kid in keys or kid in shared:
            # Two keys under one kid: neither can be told apart, so neither is used.
            keys.pop(kid, None)
            shared.add(kid)
            continue
        jwk: dict[str, str | list[str]] = {}
        for name in members:
            value = item.get(name)
            if isinstance(value, str):
                jwk[name] = value
        try:
            key: ECKey | OKPKey
            key = ECKey.import_key(jwk) if alg == "ES256" else OKPKey.import_key(jwk)
            registry.get_alg(alg).check_key(key)
            op_key = key.get_op_key("verify")
            public: ec.EllipticCurvePublicKey | Ed25519PublicKey
            if isinstance(op_key, ec.EllipticCurvePublicKey) and alg == "ES256":
                if not isinstance(op_key.curve, ec.SECP256R1):
                    raise TypeError("not a P-256 public key")
                public = op_key
            elif isinstance(op_key, Ed25519PublicKey) and alg == "Ed25519":
                public = op_key
            else:
                raise TypeError(f"not a public key for {alg}")
        except Exception as error:  # joserfc and cryptography raise several kinds
            logger.warning("JWKS key %r left out: %s", kid, error)
            continue
        keys[kid] = Key(alg=alg, public=public)
    return keys
