"""Fuzzing the verifier's parser with hypothesis: whatever arrives as a bearer token (any text,
any three segments, any header and payload, signed by the portal's real key or not), no
exception escapes, and every refusal carries a reason code. Kept to a few seconds."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access.node.jws import Refused, load_jwks
from access.node.reasons import Reason
from access.node.statuslist import LIST_TYPE
from access.node.verifier import Decision

from .stand_in import (
    ED_KID,
    ED_PRIVATE,
    ES_KID,
    ES_PRIVATE,
    LIST_URI,
    STUDY,
    Clock,
    StandInPortal,
    b64,
    craft,
    study_map,
)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def check(decision: Decision) -> None:
    """What every answer must be: a decision; an allowing one with claims and no reason; a
    refusal with a reason code, never the verifier's own failure, reusable for 0 s."""
    assert isinstance(decision, Decision)
    assert decision.reason is not Reason.VERIFIER_ERROR
    if decision.allowed:
        assert decision.reason is None and decision.claims is not None
        assert decision.cache_for >= 0
    else:
        assert isinstance(decision.reason, Reason)
        assert decision.cache_for == 0


def verify(token: str, portal: StandInPortal | None = None) -> Decision:
    portal = portal or StandInPortal(Clock())
    verifier = portal.verifier()
    decision = verifier.verify(token)
    check(decision)
    check(verifier.allows_study(decision, STUDY, study_map()))
    return decision


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda data: data.decode("latin-1")))
def test_any_text_gets_a_reason(text):
    assert not verify(text).allowed


segment_texts = st.one_of(
    json_values.map(json.dumps),
    st.binary(max_size=60).map(lambda data: data.decode("latin-1")),
    st.just('{"alg": "ES256", "alg": "none"}'),
)
segments = st.one_of(
    segment_texts.map(b64),
    st.text(alphabet="ABCDEFabcdef0123456789-_+/=. ", max_size=40),
)


@FUZZ
@given(segments, segments, segments)
def test_any_three_segments_get_a_reason(header, payload, signature):
    assert not verify(f"{header}.{payload}.{signature}").allowed


headers = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["ES256", "Ed25519", "none", "HS256", "RS256"]) | json_values,
        "kid": st.sampled_from([ES_KID, ED_KID, "other"]) | json_values,
        "typ": st.sampled_from(["at+jwt", "JWT", "application/at+jwt", LIST_TYPE]) | json_values,
        "jku": st.just("https://attacker.example/jwks.json"),
        "crit": st.lists(st.text(max_size=5), max_size=2),
    },
)


def genuine_claims():
    portal = StandInPortal(Clock())
    return portal.claims()


claim_values = {name: st.just(value) | json_values for name, value in genuine_claims().items()}
claims = st.fixed_dictionaries({}, optional=claim_values) | json_values


@FUZZ
@given(headers, claims, st.sampled_from(["ES256", "Ed25519"]), st.booleans())
def test_any_header_and_claims_signed_by_the_portals_key_get_a_reason(
    header, payload, signer, well_signed
):
    """Signed with the real key, so the fuzz reaches the checks after the signature."""
    private = ES_PRIVATE if signer == "ES256" else ED_PRIVATE
    signature = None if well_signed else b"\x00" * 64
    verify(craft(header, payload, private=private, signature=signature))


@FUZZ
@given(
    st.fixed_dictionaries({}, optional={"keys": st.lists(json_values, max_size=4)}) | json_values
)
def test_any_jwks_loads_or_is_refused(document):
    try:
        keys = load_jwks(json.dumps(document).encode())
    except Refused as refused:
        assert refused.reason is Reason.KEYS_UNAVAILABLE
    else:
        assert keys == {}


list_claims = st.fixed_dictionaries(
    {},
    optional={
        "sub": st.just(LIST_URI) | json_values,
        "iat": st.just(1_800_000_000) | json_values,
        "exp": st.just(1_800_000_120) | json_values,
        "ttl": st.just(60) | json_values,
        "iss": st.just("https://portal.example.org") | json_values,
        "status_list": st.fixed_dictionaries(
            {}, optional={"bits": st.sampled_from([1, 2, 3]) | json_values, "lst": json_values}
        )
        | json_values,
    },
)


@FUZZ
@given(list_claims, st.sampled_from([LIST_TYPE, "at+jwt"]))
def test_any_status_list_the_portal_might_sign_gets_a_reason(claims, typ):
    portal = StandInPortal(Clock())
    header = {"alg": "ES256", "kid": ES_KID, "typ": typ}
    portal.documents[LIST_URI] = craft(header, claims).encode()
    decision = verify(portal.token(), portal)
    assert decision.allowed or decision.reason in {
        Reason.STATUS_UNAVAILABLE,
        Reason.STATUS_OUT_OF_RANGE,
        Reason.REVOKED,
        Reason.SUSPENDED,
    }
