"""The known attacks on JWT verifiers (RFC 8725 and the CVE classes), each replayed against the
node's verifier, each refused with its reason code. Tokens joserfc would refuse to make are
crafted by hand; where an attack needs a valid signature, the real key makes it."""

import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from access.node.reasons import Reason, http_answer
from access.node.statuslist import LIST_TYPE

from .stand_in import (
    AUDIENCE,
    ED_KID,
    ED_PRIVATE,
    ES_KID,
    ES_PRIVATE,
    ISSUER,
    JWKS_URL,
    Clock,
    StandInPortal,
    b64,
    craft,
    unb64,
)

# The order of P-256 (SEC 2 2.4.2).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ATTACKER_URL = "https://attacker.example/jwks.json"
ATTACKER = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def portal():
    return StandInPortal(Clock())


@pytest.fixture
def verifier(portal):
    return portal.verifier()


def header(**members):
    return {"alg": "ES256", "kid": ES_KID, "typ": "at+jwt", **members}


def refused(verifier, token, reason):
    decision = verifier.verify(token)
    assert decision.reason is reason, decision
    assert not decision.allowed and decision.cache_for == 0
    assert http_answer(decision.reason) == (401, "invalid_token")


def test_the_genuine_token_passes(portal, verifier):
    """The baseline every attack below starts from."""
    assert verifier.verify(craft(header(), portal.claims())).allowed


# alg: none


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", " none", "none ", "none\u0000"])
@pytest.mark.parametrize("signature", [b"", b"\x00" * 64])
def test_alg_none_in_any_spelling_is_refused(portal, verifier, alg, signature):
    token = craft(header(alg=alg), portal.claims(), signature=signature)
    refused(verifier, token, Reason.BAD_ALGORITHM)


@pytest.mark.parametrize(
    "alg", [None, "", 0, ["ES256"], {"ES256": True}, "es256", "ES256 ", "EdDSA", "ES384", "ES256K"]
)
def test_an_alg_outside_the_allow_list_is_refused(portal, verifier, alg):
    members = header(alg=alg)
    if alg is None:
        del members["alg"]
    refused(verifier, craft(members, portal.claims()), Reason.BAD_ALGORITHM)


# HMAC keyed with the public key


def _public_forms():
    """Every form of the portal's public key an attacker might use as an HMAC secret."""
    public = ES_PRIVATE.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    point = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    jwk = StandInPortal(Clock()).keys[ES_KID].as_dict(private=False)
    return [pem, der, point, json.dumps(jwk).encode(), b64(json.dumps(jwk)).encode()]


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("secret", _public_forms(), ids=["pem", "der", "point", "jwk", "jwk-b64"])
def test_hmac_keyed_with_the_public_key_is_refused(portal, verifier, alg, secret):
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    claims = portal.claims()
    unsigned = f"{b64(json.dumps(header(alg=alg)))}.{b64(json.dumps(claims))}"
    mac = hmac.new(secret, unsigned.encode(), digest).digest()
    refused(verifier, f"{unsigned}.{b64(mac)}", Reason.BAD_ALGORITHM)
    assert portal.fetched == []  # refused on its header: nothing was fetched for it


# Algorithm substitution


def test_an_es256_token_relabelled_ed25519_is_refused(portal, verifier):
    token = craft(header(alg="Ed25519"), portal.claims(), private=ES_PRIVATE)
    refused(verifier, token, Reason.BAD_ALGORITHM)


def test_an_ed25519_token_relabelled_es256_is_refused(portal, verifier):
    token = craft(header(alg="ES256", kid=ED_KID), portal.claims(), private=ED_PRIVATE)
    refused(verifier, token, Reason.BAD_ALGORITHM)


def test_an_ed25519_signature_under_the_es256_key_is_refused(portal, verifier):
    token = craft(header(alg="Ed25519", kid=ES_KID), portal.claims(), private=ED_PRIVATE)
    refused(verifier, token, Reason.BAD_ALGORITHM)


def test_an_rs256_token_is_refused_even_with_its_key_in_the_jwks(portal, verifier):
    """RS256 with a key the attacker managed to publish: the allow-list still says no, and the
    JWKS loader never took the RSA key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.public_key().public_numbers()
    rsa_jwk = {
        "kty": "RSA",
        "kid": "rsa-1",
        "use": "sig",
        "alg": "RS256",
        "n": b64(numbers.n.to_bytes(256, "big")),
        "e": b64(numbers.e.to_bytes(3, "big")),
    }
    jwks = json.loads(portal.jwks())
    portal.documents[JWKS_URL] = json.dumps({"keys": [*jwks["keys"], rsa_jwk]}).encode()
    unsigned = (
        f"{b64(json.dumps(header(alg='RS256', kid='rsa-1')))}.{b64(json.dumps(portal.claims()))}"
    )
    signature = private.sign(unsigned.encode(), padding.PKCS1v15(), hashes.SHA256())
    refused(verifier, f"{unsigned}.{b64(signature)}", Reason.BAD_ALGORITHM)
    # Even named ES256, the RSA key is not one the verifier holds.
    token = craft(header(kid="rsa-1"), portal.claims())
    refused(verifier, token, Reason.UNKNOWN_KEY)


# kid injection


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../../../dev/null",
        "/etc/passwd",
        "' OR '1'='1",
        f"{ES_KID}' --",
        f"{ES_KID}\u0000",
        f" {ES_KID}",
        ES_KID.upper(),
        "http://attacker.example/key",
        "x" * 257,
        "",
        0,
        None,
        [ES_KID],
        {"$ne": ""},
    ],
)
def test_kid_injection_finds_no_key(portal, verifier, kid):
    members = header(kid=kid)
    if kid is None:
        del members["kid"]
    refused(verifier, craft(members, portal.claims()), Reason.UNKNOWN_KEY)
    assert set(portal.fetched) <= {JWKS_URL}  # a kid is looked up, never fetched


def test_a_flood_of_unknown_kids_fetches_the_keys_once_per_floor(portal, verifier):
    assert verifier.verify(portal.token()).allowed
    for number in range(500):
        token = craft(header(kid=f"unknown-{number}"), portal.claims())
        refused(verifier, token, Reason.UNKNOWN_KEY)
    assert portal.fetches(JWKS_URL) == 1
    portal.clock.advance(60)
    for number in range(500):
        refused(verifier, craft(header(kid=f"later-{number}"), portal.claims()), Reason.UNKNOWN_KEY)
    assert portal.fetches(JWKS_URL) == 2


# Keys from the token: jku, x5u, jwk, x5c


def _attacker_jwks():
    numbers = ATTACKER.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "kid": ES_KID,
        "x": b64(numbers.x.to_bytes(32, "big")),
        "y": b64(numbers.y.to_bytes(32, "big")),
    }


@pytest.mark.parametrize(
    "members",
    [
        {"jku": ATTACKER_URL},
        {"x5u": ATTACKER_URL},
        {"jwk": _attacker_jwks()},
        {"x5c": ["MIIBszCCAVmgAwIBAgIUQ"]},
        {"jku": JWKS_URL},  # even pointing at the portal's own JWKS
    ],
)
@pytest.mark.parametrize("private", [ATTACKER, ES_PRIVATE])
def test_keys_named_or_carried_by_the_token_are_never_used(portal, verifier, members, private):
    portal.documents[ATTACKER_URL] = json.dumps({"keys": [_attacker_jwks()]}).encode()
    token = craft(header(**members), portal.claims(), private=private)
    refused(verifier, token, Reason.BAD_HEADER)
    assert ATTACKER_URL not in portal.fetched


@pytest.mark.parametrize(
    "members",
    [
        {"crit": ["b64"], "b64": False},
        {"crit": ["exp"]},
        {"b64": True},
        {"cty": "JWT"},
        {"enc": "A256GCM"},
        {"zip": "DEF"},
        {"x5t#S256": "abc"},
    ],
)
def test_header_parameters_a_portal_token_never_has_are_refused(portal, verifier, members):
    """Unencoded payloads (RFC 7797), nested JWTs, JWE members: none is a portal token."""
    refused(verifier, craft(header(**members), portal.claims()), Reason.BAD_HEADER)


# Zero, DER and other broken ECDSA signatures (CVE-2022-21449 "psychic signatures" and kin)


def _es256_signature(token):
    raw = unb64(token.rsplit(".", 1)[1])
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")


def _with_signature(token, signature: bytes):
    return token.rsplit(".", 1)[0] + "." + b64(signature)


@pytest.mark.parametrize(
    "forge",
    [
        lambda r, s: bytes(64),  # r = s = 0
        lambda r, s: P256_ORDER.to_bytes(32, "big") * 2,  # r = s = n
        lambda r, s: bytes(32) + s.to_bytes(32, "big"),  # r = 0
        lambda r, s: r.to_bytes(32, "big") + bytes(32),  # s = 0
        lambda r, s: (r + P256_ORDER).to_bytes(33, "big")[1:] + s.to_bytes(32, "big"),
        lambda r, s: encode_dss_signature(r, s),  # DER instead of raw r||s
        lambda r, s: encode_dss_signature(0, 0),
        lambda r, s: r.to_bytes(32, "big") + s.to_bytes(32, "big") + b"\x00",
        lambda r, s: r.to_bytes(32, "big") + s.to_bytes(32, "big")[:-1],
        lambda r, s: b"",
        lambda r, s: b"\xff" * 64,
    ],
)
def test_broken_ecdsa_signatures_are_refused(portal, verifier, forge):
    genuine = portal.token()
    r, s = _es256_signature(genuine)
    refused(verifier, _with_signature(genuine, forge(r, s)), Reason.BAD_SIGNATURE)
    assert verifier.verify(genuine).allowed  # and the genuine one still passes


@pytest.mark.parametrize("signature", [bytes(64), b"\xff" * 64, bytes(63), b""])
def test_broken_ed25519_signatures_are_refused(portal, verifier, signature):
    genuine = portal.token(kid=ED_KID)
    refused(verifier, _with_signature(genuine, signature), Reason.BAD_SIGNATURE)


def test_a_signature_by_another_key_is_refused(portal, verifier):
    refused(verifier, craft(header(), portal.claims(), private=ATTACKER), Reason.BAD_SIGNATURE)
    other_ed = ed25519.Ed25519PrivateKey.generate()
    token = craft(header(alg="Ed25519", kid=ED_KID), portal.claims(), private=other_ed)
    refused(verifier, token, Reason.BAD_SIGNATURE)


# typ (RFC 8725 3.11 explicit typing, RFC 9068 2.1)


@pytest.mark.parametrize(
    "typ",
    [
        "JWT",
        "jwt",
        "application/jwt",
        "at+jwt ",
        " at+jwt",
        "at+jwt; charset=utf-8",
        "application/at+jwt;q=1",
        "at+jwt,JWT",
        "x-at+jwt",
        "statuslist+jwt",
        "studymap+jwt",
        "accessreport+jwt",
        "",
        1,
        ["at+jwt"],
        None,
    ],
)
def test_a_wrong_typ_is_refused(portal, verifier, typ):
    members = header(typ=typ)
    if typ is None:
        del members["typ"]
    refused(verifier, craft(members, portal.claims()), Reason.BAD_TYPE)


@pytest.mark.parametrize(
    "typ", ["at+jwt", "AT+JWT", "At+Jwt", "application/at+jwt", "Application/AT+JWT"]
)
def test_typ_compares_as_a_media_type(portal, verifier, typ):
    """RFC 7515 4.1.9: ``application/`` may be left out, and media types compare
    case-insensitively (RFC 2045 5.1)."""
    assert verifier.verify(craft(header(typ=typ), portal.claims())).allowed


def test_the_portals_other_signed_documents_are_no_access_tokens(portal, verifier):
    """Cross-JWT confusion: a status list or a study map for this node, genuinely signed by the
    portal, presented as a bearer token."""
    refused(verifier, portal.status_list_token(), Reason.BAD_TYPE)
    study_map = {**portal.claims(), "studies": []}
    refused(verifier, portal.sign(study_map, typ="studymap+jwt"), Reason.BAD_TYPE)
    refused(verifier, portal.sign(portal.claims(), typ=LIST_TYPE), Reason.BAD_TYPE)


# Tampering


@pytest.mark.parametrize(
    "tamper",
    [
        {"aud": "urn:ecii:node:madrid"},
        {"datasets": ["6f0c6c1e-0000-4000-8000-000000000002"]},
        {"exp": 1_800_003_000},
        {"scope": "dicomweb.read dicomweb.write"},
        {"sub": "p-someone-else"},
    ],
)
def test_a_tampered_payload_is_refused(portal, verifier, tamper):
    genuine = portal.token()
    head, payload, signature = genuine.split(".")
    claims = {**json.loads(unb64(payload)), **tamper}
    refused(verifier, f"{head}.{b64(json.dumps(claims))}.{signature}", Reason.BAD_SIGNATURE)


def test_a_tampered_header_is_refused(portal, verifier):
    genuine = craft(header(typ="JWT"), portal.claims())
    _head, payload, signature = genuine.split(".")
    tampered = f"{b64(json.dumps(header()))}.{payload}.{signature}"  # JWT made at+jwt
    refused(verifier, tampered, Reason.BAD_SIGNATURE)
    # The same header re-encoded (other whitespace) is other signed bytes.
    reencoded = b64(json.dumps(header(typ="JWT"), separators=(",", ":")))
    refused(verifier, f"{reencoded}.{payload}.{signature}", Reason.BAD_SIGNATURE)


def test_a_signature_moved_to_another_payload_is_refused(portal, verifier):
    first, second = portal.token(), portal.token()
    head, payload, _signature = second.split(".")
    refused(verifier, f"{head}.{payload}.{first.split('.')[2]}", Reason.BAD_SIGNATURE)


MALFORMED, BAD_CLAIMS = Reason.MALFORMED, Reason.BAD_CLAIMS
param = pytest.param


# Oversized tokens: refused before any parsing


def test_a_token_over_the_size_cap_is_refused_unread(portal):
    verifier = portal.verifier(max_token_bytes=2048)
    genuine = portal.token(padding="x" * 2000)
    assert len(genuine) > 2048
    refused(verifier, genuine, Reason.OVERSIZED)
    refused(verifier, "x" * 10_000_000, Reason.OVERSIZED)
    refused(verifier, "." * 3000, Reason.OVERSIZED)
    assert portal.fetched == []  # not even the keys were fetched
    assert portal.verifier(max_token_bytes=4096).verify(genuine).allowed


def test_the_default_cap_is_8_kib(portal, verifier):
    token = portal.token(padding="x" * 6000)
    assert len(token) > 8192
    refused(verifier, token, Reason.OVERSIZED)


def test_an_oversized_header_is_refused(portal, verifier):
    token = craft(header(typ="at+jwt" + " " * 1000), portal.claims())
    refused(verifier, token, Reason.OVERSIZED)


# Malformed tokens


def _segments(*parts):
    return ".".join(b64(part) if isinstance(part, (bytes, str)) else part for part in parts)


GOOD_HEADER = json.dumps(header())


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",  # a JWE's five parts
        "..",
        "...",
        f"Bearer {_segments(GOOD_HEADER, '{}', 'sig')}",
        _segments(GOOD_HEADER, "{}", "sig") + "=",
        b64(GOOD_HEADER) + "=.e30.c2ln",  # padding
        b64(GOOD_HEADER).replace("e", "+") + ".e30.c2ln",  # base64, not base64url
        b64(GOOD_HEADER) + ".e30.c2ln\n",
        b64(GOOD_HEADER) + " .e30.c2ln",
        b64(GOOD_HEADER) + ".é30.c2ln",
        b64(GOOD_HEADER)[:-1] + "\u0663.e30.c2ln",
        "eyJ.e30.c2ln",  # a length no base64 has
        _segments("not json", "{}", "sig"),
        _segments("[]", "{}", "sig"),
        _segments('"ES256"', "{}", "sig"),
        _segments("null", "{}", "sig"),
        _segments("1e999", "{}", "sig"),
        _segments(b"\xff\xfe{}", "{}", "sig"),
        _segments(GOOD_HEADER.encode("utf-16"), "{}", "sig"),
        _segments(b"\xef\xbb\xbf" + GOOD_HEADER.encode(), "{}", "sig"),  # a BOM
        _segments('{"alg": NaN}', "{}", "sig"),
        _segments("[" * 300 + "]" * 300, "{}", "sig"),
    ],
)
def test_malformed_tokens_are_refused(portal, verifier, token):
    refused(verifier, token, Reason.MALFORMED)


@pytest.mark.parametrize(
    "duplicated",
    [
        f'{{"alg": "ES256", "kid": "{ES_KID}", "typ": "at+jwt", "alg": "none"}}',
        f'{{"alg": "none", "alg": "ES256", "kid": "{ES_KID}", "typ": "at+jwt"}}',
        f'{{"alg": "ES256", "kid": "x", "kid": "{ES_KID}", "typ": "at+jwt"}}',
    ],
)
def test_duplicate_header_members_are_refused(portal, verifier, duplicated):
    refused(verifier, craft(duplicated, portal.claims()), Reason.MALFORMED)


def _claims_text(**replace):
    """The portal's claims as JSON text, with members replaced by raw JSON text."""
    claims = StandInPortal(Clock()).claims()
    text = json.dumps(claims)
    for name, raw in replace.items():
        text = text.replace(f'"{name}": {json.dumps(claims[name])}', f'"{name}": {raw}')
    return text


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        param(_claims_text()[:-1] + f', "aud": "{AUDIENCE}"}}', MALFORMED, id="aud-twice"),
        param(_claims_text()[:-1] + ', "aud": "urn:ecii:node:x"}', MALFORMED, id="aud-other"),
        param(_claims_text()[:-1] + f', "iss": "{ISSUER}"}}', MALFORMED, id="iss-twice"),
        param("[]", MALFORMED, id="list"),
        param('"claims"', MALFORMED, id="string"),
        param("null", MALFORMED, id="null"),
        param("not json", MALFORMED, id="not-json"),
        param(b"\xff\xfe\x00", MALFORMED, id="not-utf-8"),
        # Nested beyond Python 3.11's recursion limit (RecursionError there; a list on 3.13).
        param("[" * 2500 + "]" * 2500, MALFORMED, id="deep"),
        param(_claims_text(exp="1e999"), BAD_CLAIMS, id="exp-infinite"),  # a float, no time
        param(_claims_text(exp="NaN"), MALFORMED, id="exp-nan"),
        param(_claims_text(exp="Infinity"), MALFORMED, id="exp-infinity"),
        # Beyond the 4,300 digits Python converts, and below.
        param(_claims_text(exp="9" * 5000), MALFORMED, id="exp-5000-digits"),
        param(_claims_text(exp="9" * 4000), BAD_CLAIMS, id="exp-4000-digits"),
        param(_claims_text(exp=str(10**100)), BAD_CLAIMS, id="exp-googol"),
        param(_claims_text(exp="-1"), BAD_CLAIMS, id="exp-negative"),
        param(_claims_text(exp="true"), BAD_CLAIMS, id="exp-true"),
        param("{}", Reason.BAD_ISSUER, id="empty"),
    ],
)
def test_signed_but_malformed_claims_are_refused(portal, verifier, payload, reason):
    """Signed with the portal's own key, so only the claims' parsing can refuse them."""
    refused(verifier, craft(header(), payload), reason)
