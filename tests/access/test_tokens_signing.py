"""access.signing alone (no database): keys, their encryption at rest, signing, and the checks
the portal makes of what others sign."""

import base64
import hashlib
import hmac
import json
import os

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, KeySet, OctKey, OKPKey

from access import signing
from access.node.claims import ALGORITHMS

KEK = os.urandom(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict, payload: dict, signature: bytes = b"") -> str:
    return ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()), _b64(signature)]
    )


@pytest.fixture(params=["ES256", "Ed25519"])
def key(request):
    return signing.generate_key(request.param)


def _keys(*made: signing.NewKey) -> dict:
    return {k.kid: signing.published_jwk(k.kid, k.alg, k.public_jwk) for k in made}


def test_it_makes_keys_named_by_their_thumbprint_with_only_public_members_published(key):
    cls = ECKey if key.alg == "ES256" else OKPKey
    assert key.kid == cls.import_key(key.public_jwk).thumbprint()
    published = signing.published_jwk(key.kid, key.alg, {**key.public_jwk, "d": "secret"})
    assert "d" not in published and published["use"] == "sig" and published["alg"] == key.alg
    assert key.alg in ALGORITHMS


def test_it_refuses_algorithms_nodes_do_not_accept():
    for alg in ["none", "HS256", "RS256", "EdDSA"]:
        with pytest.raises(signing.SigningError):
            signing.generate_key(alg)


def test_it_keeps_private_keys_encrypted_and_bound_to_their_key(key):
    blob = signing.encrypt_private_key(key.private_jwk, kek=KEK, kid=key.kid)
    assert key.private_jwk["d"] not in blob and blob.startswith("v1.")
    assert signing.decrypt_private_key(blob, kek=KEK, kid=key.kid) == key.private_jwk
    with pytest.raises(signing.SigningError, match="cannot be decrypted"):
        signing.decrypt_private_key(blob, kek=os.urandom(32), kid=key.kid)  # another KEK
    with pytest.raises(signing.SigningError, match="cannot be decrypted"):
        signing.decrypt_private_key(blob, kek=KEK, kid="another-key")  # moved to another row
    version, nonce, sealed = blob.split(".")
    altered = sealed[:-2] + ("AA" if sealed[-2:] != "AA" else "BA")
    with pytest.raises(signing.SigningError):
        signing.decrypt_private_key(f"{version}.{nonce}.{altered}", kek=KEK, kid=key.kid)


def test_it_signs_with_only_alg_kid_and_typ_and_verifies_what_it_signed(key):
    signer = signing.Signer(kid=key.kid, alg=key.alg, private_jwk=key.private_jwk)
    token = signer.sign({"sub": "p-1", "n": 1}, "at+jwt")
    header = signing.read_header(token)
    assert header == {"alg": key.alg, "kid": key.kid, "typ": "at+jwt"}
    assert signing.verify(token, _keys(key), typ="at+jwt") == {"sub": "p-1", "n": 1}
    # joserfc alone, with the published JWKS
    keyset = KeySet.import_key_set(signing.jwks(_keys(key).values()))
    signed = jws.deserialize_compact(token, keyset.get_by_kid(key.kid), algorithms=[key.alg])
    assert json.loads(signed.payload)["sub"] == "p-1"


def test_it_refuses_a_signer_without_a_private_key(key):
    with pytest.raises(signing.SigningError):
        signing.Signer(kid=key.kid, alg=key.alg, private_jwk=key.public_jwk)


@pytest.fixture
def es256():
    made = signing.generate_key("ES256")
    return made, signing.Signer(kid=made.kid, alg="ES256", private_jwk=made.private_jwk)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h, p, s: _forge({**h, "alg": "none"}, p), "not allowed"),
        (lambda h, p, s: _forge({**h, "alg": "NONE"}, p), "not allowed"),
        (lambda h, p, s: _forge({**h, "jku": "https://evil.example/jwks"}, p, s), "other than"),
        (lambda h, p, s: _forge({**h, "jwk": {"kty": "EC"}}, p, s), "other than"),
        (lambda h, p, s: _forge({**h, "x5u": "https://evil.example/x"}, p, s), "other than"),
        (lambda h, p, s: _forge({**h, "kid": "unknown"}, p, s), "unknown key"),
        (lambda h, p, s: _forge({**h, "typ": "JWT"}, p, s), "not a at\\+jwt"),
        (lambda h, p, s: _forge(h, {**p, "sub": "someone-else"}, s), "bad signature"),
        (lambda h, p, s: _forge(h, p, bytes(64)), "bad signature"),  # a zero signature
        (lambda h, p, s: _forge({**h, "alg": "Ed25519"}, p, s), "is not for Ed25519"),
        (lambda h, p, s: "a.b", "not a compact JWS"),
        (lambda h, p, s: "x" * 9_000_000, "larger than"),
    ],
)
def test_it_refuses_what_was_not_signed_as_it_should(es256, change, reason):
    made, signer = es256
    token = signer.sign({"sub": "p-1"}, "at+jwt")
    header = signing.read_header(token)
    signature = base64.urlsafe_b64decode(token.split(".")[2] + "==")
    forged = change(header, {"sub": "p-1"}, signature)
    with pytest.raises(signing.Unverified, match=reason):
        signing.verify(forged, _keys(made), typ="at+jwt")


def test_it_refuses_an_hmac_token_keyed_with_the_public_key(es256):
    """The classic confusion: HS256 with the verifier's public key as the HMAC secret."""
    made, _signer = es256
    secret = json.dumps(made.public_jwk).encode()
    header = {"alg": "HS256", "kid": made.kid, "typ": "at+jwt"}
    token = jws.serialize_compact(header, b'{"sub":"p-1"}', OctKey.import_key(secret),
                                  algorithms=["HS256"])  # fmt: skip
    with pytest.raises(signing.Unverified, match="not allowed"):
        signing.verify(token, _keys(made), typ="at+jwt")
    # and a hand-made one
    body = _b64(json.dumps(header).encode()) + "." + _b64(b'{"sub":"p-1"}')
    mac = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    with pytest.raises(signing.Unverified, match="not allowed"):
        signing.verify(body + "." + _b64(mac), _keys(made), typ="at+jwt")


def test_it_reads_the_typ_as_a_media_type(es256):
    made, signer = es256
    for typ in ["at+jwt", "AT+JWT", "application/at+jwt"]:
        token = signing.Signer(kid=made.kid, alg="ES256", private_jwk=made.private_jwk).sign(
            {"a": 1}, typ
        )
        assert signing.verify(token, _keys(made), typ="at+jwt") == {"a": 1}
    assert signer.sign({"a": 1}, "statuslist+jwt")
    with pytest.raises(signing.Unverified):
        signing.verify(signer.sign({"a": 1}, "statuslist+jwt"), _keys(made), typ="at+jwt")
