"""The portal's side of JOSE: making signing keys, keeping their private halves encrypted, signing
with them, and checking what others signed. Pure: no Django, no database; the services in
``access.services.keys`` keep the keys.

- Keys are ES256 (ECDSA on P-256, the default) or Ed25519 (RFC 9864's ``Ed25519``; joserfc
  refuses the old name ``EdDSA``), never ``none`` and never HMAC: :data:`ALGORITHMS` is the only
  allow-list, and joserfc is always called with ``algorithms=[...]``.
- A key's ``kid`` is its RFC 7638 thumbprint.
- Private keys are stored as AES-256-GCM ciphertext under the key-encryption key, with the
  ``kid`` as associated data, so a stored ciphertext cannot be moved to another key's row.
- A JWT the portal signs carries exactly ``alg``, ``kid`` and ``typ`` in its header (the node's
  verifier refuses any other header parameter, RFC 8725 3.10).
- :func:`verify` checks a compact JWS against known public keys the way a node does: size,
  header members, algorithm allow-list, the key named by ``kid`` and of the algorithm's type,
  explicit ``typ``, then the signature; only then is the payload read.
"""

import base64
import binascii
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey

from access.node.claims import ALGORITHMS

MAX_JWS_BYTES = 8 * 1024 * 1024  # an access report batch of 5,000 events is under 1 MB
HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})
_CIPHERTEXT_VERSION = "v1"
_AAD_PREFIX = b"ecii-signing-key:"

# What each algorithm's key looks like: joserfc's class, its type and curve.
_KEY_KINDS: dict[str, tuple[type[ECKey] | type[OKPKey], str, str]] = {
    "ES256": (ECKey, "EC", "P-256"),
    "Ed25519": (OKPKey, "OKP", "Ed25519"),
}
PUBLIC_MEMBERS = {"EC": ("kty", "crv", "x", "y"), "OKP": ("kty", "crv", "x")}


class SigningError(Exception):
    """A key that cannot be made, read or used."""


class Unverified(Exception):
    """A signed document that does not check out; ``str()`` says why."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if "=" in text:
        raise binascii.Error("padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def algorithm_of(jwk: Mapping[str, Any]) -> str | None:
    """The one algorithm a public JWK may be used with (its type and curve fix it), or None."""
    for alg, (_cls, kty, crv) in _KEY_KINDS.items():
        if jwk.get("kty") == kty and jwk.get("crv") == crv:
            return alg
    return None


def import_key(jwk: Mapping[str, Any], alg: str) -> ECKey | OKPKey:
    cls, _kty, _crv = _KEY_KINDS[alg]
    try:
        return cls.import_key(dict(jwk))
    except (JoseError, ValueError, TypeError) as error:
        raise SigningError(f"not a usable {alg} key: {error}") from None


def public_part(jwk: Mapping[str, Any]) -> dict[str, str]:
    """Only the public members of a JWK (``kty``, ``crv``, ``x`` and, for EC, ``y``)."""
    members = PUBLIC_MEMBERS.get(str(jwk.get("kty")), ())
    return {name: str(jwk[name]) for name in members if name in jwk}


@dataclass(frozen=True)
class NewKey:
    """A freshly made key pair: its ``kid``, algorithm and both halves as JWKs."""

    kid: str
    alg: str
    public_jwk: dict[str, str]
    private_jwk: dict[str, Any] = field(repr=False)


def generate_key(alg: str) -> NewKey:
    """A new key pair for ``alg`` (ES256 or Ed25519)."""
    if alg not in _KEY_KINDS:
        raise SigningError(f"{alg!r} is not one of {', '.join(ALGORITHMS)}")
    key: ECKey | OKPKey
    if alg == "ES256":
        key = ECKey.generate_key("P-256", private=True)
    else:
        key = OKPKey.generate_key("Ed25519", private=True)
    public = public_part(key.as_dict(private=False))
    return NewKey(
        kid=key.thumbprint(), alg=alg, public_jwk=public, private_jwk=key.as_dict(private=True)
    )


def published_jwk(kid: str, alg: str, public_jwk: Mapping[str, Any]) -> dict[str, str]:
    """A key as the JWKS lists it: its public members, ``kid``, ``alg`` and ``use: sig``."""
    return {**public_part(public_jwk), "kid": kid, "alg": alg, "use": "sig"}


# --- Private keys at rest ---------------------------------------------------------------------


def encrypt_private_key(private_jwk: Mapping[str, Any], *, kek: bytes, kid: str) -> str:
    """``v1.<nonce>.<ciphertext>`` (base64url): the JWK under AES-256-GCM with ``kek``, bound
    to ``kid``."""
    nonce = os.urandom(12)
    plaintext = json.dumps(dict(private_jwk), separators=(",", ":")).encode()
    sealed = AESGCM(kek).encrypt(nonce, plaintext, _AAD_PREFIX + kid.encode())
    return f"{_CIPHERTEXT_VERSION}.{_b64(nonce)}.{_b64(sealed)}"


def decrypt_private_key(blob: str, *, kek: bytes, kid: str) -> dict[str, Any]:
    """The private JWK sealed by :func:`encrypt_private_key`; :class:`SigningError` when the
    KEK is not the one it was sealed with, the blob was altered or belongs to another key."""
    try:
        version, nonce, sealed = blob.split(".")
        if version != _CIPHERTEXT_VERSION:
            raise ValueError(version)
        plaintext = AESGCM(kek).decrypt(_unb64(nonce), _unb64(sealed), _AAD_PREFIX + kid.encode())
        jwk = json.loads(plaintext)
    except (InvalidTag, ValueError, binascii.Error):
        raise SigningError(
            f"the private key of {kid} cannot be decrypted with this key-encryption key"
        ) from None
    if not isinstance(jwk, dict):
        raise SigningError(f"the private key of {kid} is not a JWK")
    return jwk


# --- Signing ----------------------------------------------------------------------------------


class Signer:
    """Signs JWTs with one private key: the header is ``alg``, ``kid`` and ``typ``, nothing
    else."""

    def __init__(self, *, kid: str, alg: str, private_jwk: Mapping[str, Any]) -> None:
        if alg not in _KEY_KINDS:
            raise SigningError(f"{alg!r} is not one of {', '.join(ALGORITHMS)}")
        self.kid, self.alg = kid, alg
        self._key = import_key(private_jwk, alg)
        if not self._key.is_private:
            raise SigningError(f"the key {kid} has no private part")

    def sign(self, claims: Mapping[str, Any], typ: str) -> str:
        """The compact JWS of ``claims`` (as JSON) with header ``alg``, ``kid``, ``typ``."""
        payload = json.dumps(dict(claims), separators=(",", ":"), ensure_ascii=False)
        header = {"alg": self.alg, "kid": self.kid, "typ": typ}
        return jws.serialize_compact(header, payload.encode(), self._key, algorithms=[self.alg])


# --- Verifying --------------------------------------------------------------------------------


def _media_type_matches(value: object, expected: str) -> bool:
    """RFC 7515 4.1.9: ``typ`` may leave out ``application/``; media types are compared
    without regard to case."""
    if not isinstance(value, str):
        return False
    lowered = value.lower()
    return lowered in (expected.lower(), "application/" + expected.lower())


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Unverified(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise Unverified(f"the {what} is not a JSON object")
    return value


def read_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, read without trusting it."""
    parts = token.split(".")
    if len(parts) != 3:
        raise Unverified("not a compact JWS")
    try:
        raw = _unb64(parts[0])
    except (binascii.Error, ValueError):
        raise Unverified("the header is not base64url") from None
    return _json_object(raw, "header")


def verify(
    token: str | bytes,
    keys: Mapping[str, Mapping[str, Any]],
    *,
    typ: str,
    max_bytes: int = MAX_JWS_BYTES,
) -> dict[str, Any]:
    """The claims of ``token`` once its signature checks out with one of ``keys`` (public JWKs
    by ``kid``). Refused with :class:`Unverified`: an oversized or malformed token, a header
    member other than ``alg``, ``kid`` and ``typ``, an algorithm outside :data:`ALGORITHMS`, an
    unknown ``kid``, a key whose type is not the algorithm's, a ``typ`` other than ``typ``, a
    bad signature, a payload that is not a JSON object."""
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise Unverified("not a compact JWS") from None
    token = token.strip()
    if len(token) > max_bytes:
        raise Unverified(f"larger than {max_bytes} bytes")
    header = read_header(token)
    if not set(header) <= HEADER_MEMBERS:
        raise Unverified("header parameters other than alg, kid and typ")
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise Unverified(f"the algorithm {alg!r} is not allowed")
    if not isinstance(kid, str) or kid not in keys:
        raise Unverified("unknown key")
    jwk = keys[kid]
    if algorithm_of(jwk) != alg:
        raise Unverified(f"the key {kid} is not for {alg}")
    if not _media_type_matches(header.get("typ"), typ):
        raise Unverified(f"not a {typ}")
    key = import_key(public_part(jwk), alg)
    try:
        signed = jws.deserialize_compact(token, key, algorithms=[alg])
    except (JoseError, ValueError, binascii.Error):
        raise Unverified("bad signature") from None
    return _json_object(signed.payload, "payload")


def jwks(keys: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """A JWK Set (RFC 7517) of the given published keys."""
    return {"keys": [dict(key) for key in keys]}
