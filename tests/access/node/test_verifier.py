"""The node's verifier: the checks in their order, the caches of keys, status lists and tokens,
and what it does when the portal cannot be reached."""

import json
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc.jwk import ECKey, RSAKey

from access.node.jws import Refused, load_jwks
from access.node.reasons import Reason, http_answer
from access.node.statuslist import INVALID, SUSPENDED, VALID
from access.node.studies import StudyMap
from access.node.verifier import JWKS_MAX_AGE

from .stand_in import (
    AUDIENCE,
    DATASET,
    ED_KID,
    ES_KID,
    ISSUER,
    JWKS_URL,
    LIST_URI,
    OTHER_DATASET,
    OTHER_NODE,
    OTHER_STUDY,
    STUDY,
    Clock,
    StandInPortal,
    b64,
    study_map,
)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def portal(clock):
    return StandInPortal(clock)


@pytest.fixture
def verifier(portal):
    return portal.verifier()


@pytest.mark.parametrize("kid", [ES_KID, ED_KID])
def test_it_allows_the_portals_token_for_this_node(portal, verifier, kid):
    token = portal.token(kid=kid)
    decision = verifier.verify(token)
    assert decision.allowed
    assert decision.reason is None
    assert decision.claims.aud == AUDIENCE
    assert decision.claims.datasets == (DATASET,)
    # The status list may be used for its ttl (60 s), the token for 600 s: the shorter wins.
    assert decision.cache_for == 60


def test_a_study_of_the_tokens_datasets_is_allowed_and_no_other(portal, verifier):
    decision = verifier.verify(portal.token())
    assert verifier.allows_study(decision, STUDY, study_map()).allowed
    for study in (OTHER_STUDY, "1.2.3.4.5"):
        refusal = verifier.allows_study(decision, study, study_map())
        assert refusal.reason is Reason.STUDY_NOT_PERMITTED
        assert http_answer(refusal.reason) == (403, "insufficient_scope")
        assert refusal.claims == decision.claims  # the gatekeeper reports the jti
        assert refusal.cache_for == 0
    both = verifier.verify(portal.token(datasets=[DATASET, OTHER_DATASET]))
    assert verifier.allows_study(both, OTHER_STUDY, study_map()).allowed


def test_a_study_in_two_datasets_is_allowed_to_a_token_for_either(portal, verifier):
    shared = StudyMap.from_rows(
        AUDIENCE, [(STUDY, DATASET, "p-subject-1"), (STUDY, OTHER_DATASET, "p-subject-1")]
    )
    for datasets in ([DATASET], [OTHER_DATASET]):
        decision = verifier.verify(portal.token(datasets=datasets))
        assert verifier.allows_study(decision, STUDY, shared).allowed
    decision = verifier.verify(portal.token(datasets=["another-dataset"]))
    assert verifier.allows_study(decision, STUDY, shared).reason is Reason.STUDY_NOT_PERMITTED


def test_a_study_map_of_another_node_allows_nothing(portal, verifier):
    decision = verifier.verify(portal.token())
    refusal = verifier.allows_study(decision, STUDY, study_map(node=OTHER_NODE))
    assert refusal.reason is Reason.STUDY_NOT_PERMITTED


def test_a_token_without_the_read_scope_reads_no_study(portal, verifier):
    decision = verifier.verify(portal.token(scope="openid profile"))
    assert decision.allowed  # the token itself is valid
    refusal = verifier.allows_study(decision, STUDY, study_map())
    assert refusal.reason is Reason.INSUFFICIENT_SCOPE
    assert http_answer(refusal.reason) == (403, "insufficient_scope")


def test_a_refusal_stays_a_refusal_for_every_study(portal, verifier):
    refusal = verifier.verify(portal.token(aud=OTHER_NODE))
    assert verifier.allows_study(refusal, STUDY, study_map()) == refusal


def test_the_first_failed_check_names_the_refusal(portal, verifier, clock):
    """Checks run in the order of the issue: signature, typ, iss, aud, time, status. A token
    failing them all is refused for the first; mended one by one, for each of the next."""
    now = int(clock())
    claims = portal.claims(
        iss="https://other-portal.example.org",
        aud=OTHER_NODE,
        iat=now - 3000,
        nbf=now - 3000,
        exp=now - 2000,
        status={"status_list": {"idx": 0, "uri": "https://lists.example.org/1"}},
    )
    portal.status.set(0, INVALID)
    forged = portal.sign(claims, typ="JWT").rsplit(".", 1)[0] + "." + b64(bytes(64))
    assert verifier.verify(forged).reason is Reason.BAD_SIGNATURE
    assert verifier.verify(portal.sign(claims, typ="JWT")).reason is Reason.BAD_TYPE
    mend = [
        ("iss", ISSUER, Reason.BAD_ISSUER),
        ("aud", AUDIENCE, Reason.WRONG_AUDIENCE),
        ("exp", now + 600, Reason.EXPIRED),
        ("status", {"status_list": {"idx": 0, "uri": LIST_URI}}, Reason.UNTRUSTED_STATUS_LIST),
    ]
    for name, value, reason in mend:
        assert verifier.verify(portal.sign(claims)).reason is reason
        claims[name] = value
    assert verifier.verify(portal.sign(claims)).reason is Reason.REVOKED


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": ISSUER + "/"}, Reason.BAD_ISSUER),
        ({"iss": "https://portal.example.org.evil.example"}, Reason.BAD_ISSUER),
        ({"iss": None}, Reason.BAD_ISSUER),
        ({"aud": OTHER_NODE}, Reason.WRONG_AUDIENCE),
        ({"aud": [AUDIENCE, OTHER_NODE]}, Reason.WRONG_AUDIENCE),
        ({"aud": AUDIENCE.upper()}, Reason.WRONG_AUDIENCE),
        ({"aud": None}, Reason.WRONG_AUDIENCE),
        ({"jti": None}, Reason.BAD_CLAIMS),
        ({"datasets": DATASET}, Reason.BAD_CLAIMS),
        ({"exp": 1_800_000_000.5}, Reason.BAD_CLAIMS),
        ({"status": {"status_list": {"idx": "0", "uri": LIST_URI}}}, Reason.BAD_CLAIMS),
        # The portal issues nothing that lives longer than an hour.
        ({"exp": 1_800_003_601}, Reason.BAD_CLAIMS),
    ],
)
def test_it_refuses_claims_that_are_not_this_nodes_token(portal, verifier, overrides, reason):
    decision = verifier.verify(portal.token(**overrides))
    assert decision.reason is reason
    assert not decision.allowed
    assert http_answer(reason) == (401, "invalid_token")


def test_a_one_element_audience_list_is_this_node(portal, verifier):
    assert verifier.verify(portal.token(aud=[AUDIENCE])).allowed


@pytest.mark.parametrize(
    ("times", "reason"),
    [
        ({"exp": -29}, None),  # within the leeway of 30 s
        ({"exp": -30}, Reason.EXPIRED),
        ({"exp": -3000}, Reason.EXPIRED),
        ({"nbf": 30}, None),
        ({"nbf": 31}, Reason.NOT_YET_VALID),
        ({"iat": 31, "nbf": 0}, Reason.NOT_YET_VALID),
    ],
)
def test_exp_and_nbf_are_checked_with_a_small_leeway(portal, verifier, clock, times, reason):
    now = int(clock())
    claims = {"iat": now - 600, "nbf": now - 600, "exp": now + 600}
    claims.update({name: now + offset for name, offset in times.items()})
    claims["iat"] = min(claims["iat"], claims["exp"])
    claims["nbf"] = min(claims["nbf"], claims["exp"])
    decision = verifier.verify(portal.token(**claims))
    assert decision.reason is reason
    if reason is None:
        assert decision.cache_for == max(0, min(60, claims["exp"] - now))


def test_a_token_is_refused_once_it_expires_though_it_was_cached(portal, verifier, clock):
    token = portal.token(exp=int(clock()) + 300)
    assert verifier.verify(token).allowed
    clock.advance(300 + 29)
    assert verifier.verify(token).allowed
    clock.advance(1)
    assert verifier.verify(token).reason is Reason.EXPIRED
    assert verifier.stats.signature_checks == 1


# Status


@pytest.mark.parametrize(
    ("status", "reason"),
    [(VALID, None), (INVALID, Reason.REVOKED), (SUSPENDED, Reason.SUSPENDED), (3, Reason.REVOKED)],
)
def test_the_tokens_status_entry_decides(portal, verifier, status, reason):
    token = portal.token()
    portal.status.set(portal.idx_of(token), status)
    assert verifier.verify(token).reason is reason


def test_an_index_beyond_the_list_is_refused(portal, verifier):
    decision = verifier.verify(portal.token(status={"status_list": {"idx": 1024, "uri": LIST_URI}}))
    assert decision.reason is Reason.STATUS_OUT_OF_RANGE
    assert portal.status.size == 1024


@pytest.mark.parametrize(
    "uri",
    [
        "https://lists.example.org/access/status-lists/1",
        "https://portal.example.org.evil.example/access/status-lists/1",
        "https://portal.example.org@evil.example/access/status-lists/1",
        "https://evil.example#@portal.example.org/access/status-lists/1",
        "http://portal.example.org/access/status-lists/1",
        "https://portal.example.org:8443/access/status-lists/1",
        "https://portal.example.org/access/status-lists/../../evil",
        "https://portal.example.org/access/%2e%2e/%2E%2E/evil",
        "https://portal.example.org/access/status-lists/1?redirect=https://evil.example",
        "https://portal.example.org",
        "https://portal.example.org/",
        "file:///etc/passwd",
        "//portal.example.org/access/status-lists/1",
        "https://portal.example.org/access/status lists/1",
    ],
)
def test_a_status_list_outside_the_issuer_is_refused_unfetched(portal, verifier, uri):
    portal.documents[uri] = portal.status_list_token().encode()
    decision = verifier.verify(portal.token(status={"status_list": {"idx": 0, "uri": uri}}))
    assert decision.reason is Reason.UNTRUSTED_STATUS_LIST
    assert portal.fetched == [JWKS_URL]


def test_the_status_list_is_fetched_once_per_ttl(portal, verifier, clock):
    tokens = [portal.token() for _ in range(50)]
    for _ in range(3):
        for token in tokens:
            assert verifier.verify(token).allowed
        clock.advance(19)
    assert portal.fetches(LIST_URI) == 1
    clock.advance(4)  # 61 s after the first fetch
    assert verifier.verify(tokens[0]).allowed
    assert portal.fetches(LIST_URI) == 2


def test_a_revocation_reaches_a_cached_token_once_the_lists_ttl_is_over(portal, verifier, clock):
    token = portal.token()
    first = verifier.verify(token)
    assert first.allowed and first.cache_for == 60
    portal.status.set(portal.idx_of(token), INVALID)
    clock.advance(30)
    later = verifier.verify(token)
    assert later.allowed  # the list in hand is good for another 30 s
    assert later.cache_for == 30  # and the decision never for longer
    clock.advance(30)
    assert verifier.verify(token).reason is Reason.REVOKED
    assert verifier.stats.signature_checks == 1


def test_a_list_is_never_used_beyond_its_exp(portal, verifier, clock):
    portal.list_lifetime = 10  # ttl 60 s, but exp 10 s after iat
    token = portal.token()
    decision = verifier.verify(token)
    assert decision.allowed and decision.cache_for == 10
    clock.advance(10)
    assert verifier.verify(token).allowed
    assert portal.fetches(LIST_URI) == 2


def test_when_the_list_cannot_be_fetched_again_it_fails_closed(portal, verifier, clock):
    token = portal.token()
    assert verifier.verify(token).allowed
    portal.down = True
    clock.advance(59)
    assert verifier.verify(token).allowed  # the list in hand is within its ttl
    clock.advance(1)
    decision = verifier.verify(token)
    assert decision.reason is Reason.STATUS_UNAVAILABLE
    assert http_answer(decision.reason) == (401, "invalid_token")
    # It does not ask the portal again on every request meanwhile...
    fetches = portal.fetches(LIST_URI)
    for _ in range(100):
        assert verifier.verify(token).reason is Reason.STATUS_UNAVAILABLE
    assert portal.fetches(LIST_URI) == fetches
    # ...and serves again as soon as the portal is back.
    portal.down = False
    clock.advance(1)
    assert verifier.verify(token).allowed


@pytest.mark.parametrize(
    "bad_list",
    [
        lambda p: p.status_list_token(sub=LIST_URI + "0"),  # another list's
        lambda p: p.status_list_token(iss="https://other-portal.example.org"),
        lambda p: p.status_list_token(ttl=None),
        lambda p: p.status_list_token(ttl=0),
        lambda p: p.status_list_token(ttl=10**12),
        lambda p: p.status_list_token(iat=None),
        lambda p: p.status_list_token(exp=int(p.clock()) - 60),  # expired
        lambda p: p.status_list_token(status_list={"bits": 2, "lst": "not zlib"}),
        lambda p: p.sign({**p.claims(), "sub": LIST_URI}),  # an access token, not a list
        lambda p: p.status_list_token()[:-4] + "AAAA",  # its signature broken
        lambda p: "<html>Service unavailable</html>",
    ],
)
def test_a_list_that_does_not_check_out_is_no_list(portal, verifier, bad_list):
    token = portal.token()
    portal.documents[LIST_URI] = bad_list(portal).encode()
    assert verifier.verify(token).reason is Reason.STATUS_UNAVAILABLE


def test_an_older_list_does_not_replace_a_newer_one(portal, verifier, clock):
    """A cache between node and portal serving yesterday's list cannot undo a revocation."""
    portal.list_lifetime = 3600  # every list below is still within its exp
    token = portal.token()
    old = portal.status_list_token()
    clock.advance(100)
    portal.status.set(portal.idx_of(token), INVALID)
    assert verifier.verify(token).reason is Reason.REVOKED
    clock.advance(61)
    portal.documents[LIST_URI] = old.encode()
    assert verifier.verify(token).reason is Reason.STATUS_UNAVAILABLE


# Keys


def test_an_unknown_kid_fetches_the_keys_again_but_not_more_often_than_the_floor(
    portal, verifier, clock
):
    assert verifier.verify(portal.token()).allowed
    assert portal.fetches(JWKS_URL) == 1
    # The portal rotates: a new key is published and signs new tokens.
    portal.publish("es-2027-2", ec.generate_private_key(ec.SECP256R1()))
    rotated = portal.token(kid="es-2027-2")
    clock.advance(10)
    assert verifier.verify(rotated).reason is Reason.UNKNOWN_KEY  # within the floor
    assert portal.fetches(JWKS_URL) == 1
    clock.advance(50)
    assert verifier.verify(rotated).allowed  # 60 s after the last fetch
    assert portal.fetches(JWKS_URL) == 2


def test_keys_are_fetched_again_when_old_and_a_withdrawn_key_stops_working(portal, verifier, clock):
    token = portal.token(exp=int(portal.clock()) + 3600)
    assert verifier.verify(token).allowed
    portal.published.remove(ES_KID)
    clock.advance(JWKS_MAX_AGE - 1)
    assert verifier.verify(token).allowed
    clock.advance(1)
    assert verifier.verify(token).reason is Reason.UNKNOWN_KEY
    assert portal.fetches(JWKS_URL) == 2


def test_without_keys_it_refuses_and_tries_again_soon(portal, verifier, clock):
    portal.down = True
    token = portal.token()
    assert verifier.verify(token).reason is Reason.KEYS_UNAVAILABLE
    assert verifier.verify(token).reason is Reason.KEYS_UNAVAILABLE
    assert portal.fetches(JWKS_URL) == 1
    portal.down = False
    clock.advance(1)
    assert verifier.verify(token).allowed


def test_when_the_keys_cannot_be_fetched_again_it_keeps_the_ones_it_has(portal, verifier, clock):
    token = portal.token(exp=int(portal.clock()) + 3600)
    assert verifier.verify(token).allowed
    clock.advance(JWKS_MAX_AGE)
    portal.failing.add(JWKS_URL)
    assert verifier.verify(token).allowed
    assert portal.fetches(JWKS_URL) == 2
    # With keys in hand, it tries again after the floor, not on every request.
    for _ in range(50):
        assert verifier.verify(token).allowed
        assert verifier.verify(portal.token()).allowed
    assert portal.fetches(JWKS_URL) == 2
    clock.advance(60)
    assert verifier.verify(token).allowed
    assert portal.fetches(JWKS_URL) == 3
    assert verifier.verify(portal.token()).allowed


def test_the_jwks_keeps_only_signing_keys_of_the_allowed_kinds(portal):
    good = {k: v for k, v in portal.keys[ES_KID].as_dict(private=False).items() if k != "kid"}
    rsa_key = RSAKey.import_key(rsa.generate_private_key(65537, 2048)).as_dict(private=False)
    p384 = ECKey.import_key(ec.generate_private_key(ec.SECP384R1())).as_dict(private=False)
    off_curve = {**good, "y": good["x"]}
    with_private = portal.keys[ED_KID].as_dict(private=True)
    jwks = {
        "keys": [
            {**rsa_key, "kid": "rsa"},
            {**p384, "kid": "p384"},
            {**good, "kid": "enc", "use": "enc"},
            {**good, "kid": "as-ed", "alg": "Ed25519"},
            {**off_curve, "kid": "off-curve"},
            {**good, "kid": "twice"},
            {**good, "kid": "twice"},
            {**good},  # no kid
            "not a key",
            {**with_private, "kid": "with-d"},
        ]
    }
    keys = load_jwks(json.dumps(jwks).encode())
    assert sorted(keys) == ["with-d"]
    # Only the public key is kept: the private member the JWKS should never have held is not.
    assert isinstance(keys["with-d"].public, Ed25519PublicKey)


# The verified-token cache


def test_a_viewer_fetching_hundreds_of_frames_costs_one_signature_check(portal, verifier):
    token = portal.token()
    decisions = [verifier.verify(token) for _ in range(500)]
    assert all(decision.allowed for decision in decisions)
    assert verifier.stats.signature_checks == 1
    assert verifier.stats.cache_hits == 499
    assert portal.fetches(JWKS_URL) == 1 and portal.fetches(LIST_URI) == 1


def test_the_token_cache_keeps_the_most_recently_used(portal):
    verifier = portal.verifier(token_cache_size=2)
    first, second, third = (portal.token() for _ in range(3))
    for token in (first, second, first, third):  # second is now the least recently used
        assert verifier.verify(token).allowed
    assert verifier.stats.signature_checks == 3
    verifier.verify(first)
    assert verifier.stats.signature_checks == 3
    verifier.verify(second)
    assert verifier.stats.signature_checks == 4


def test_a_refused_token_is_cached_too_and_still_refused(portal, verifier, clock):
    token = portal.token(aud=OTHER_NODE)
    for _ in range(3):
        assert verifier.verify(token).reason is Reason.WRONG_AUDIENCE
    assert verifier.stats.signature_checks == 1
    clock.advance(600 + 30)  # expired: its entry goes, though the first refusal stays
    for _ in range(3):
        assert verifier.verify(token).reason is Reason.WRONG_AUDIENCE
    assert verifier.stats.signature_checks == 3  # checked afresh after the first


def test_threads_share_one_verifier(portal, verifier):
    tokens = [portal.token() for _ in range(20)]
    results = []

    def work():
        results.extend(verifier.verify(token).allowed for token in tokens * 5)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 800
    assert portal.fetches(JWKS_URL) == 1 and portal.fetches(LIST_URI) == 1


# Other signed documents


def test_it_reads_the_portals_other_signed_documents(portal, verifier, clock):
    claims = {
        "iss": ISSUER,
        "sub": f"{ISSUER}/access/nodes/{AUDIENCE}/study-map",
        "aud": AUDIENCE,
        "iat": int(clock()),
        "exp": int(clock()) + 120,
        "ttl": 60,
        "studies": study_map().to_claims(),
    }
    document = portal.sign(claims, typ="studymap+jwt")
    assert verifier.read_signed(document, typ="studymap+jwt") == claims
    assert verifier.read_signed(document.encode() + b"\n", typ="studymap+jwt") == claims
    with pytest.raises(Refused) as refused:
        verifier.read_signed(document, typ="exclusionlist+jwt")
    assert refused.value.reason is Reason.BAD_TYPE
    with pytest.raises(Refused) as refused:
        verifier.read_signed(portal.sign({**claims, "iss": "https://x.example"}), typ="at+jwt")
    assert refused.value.reason is Reason.BAD_ISSUER
    clock.advance(150)
    with pytest.raises(Refused) as refused:
        verifier.read_signed(document, typ="studymap+jwt")
    assert refused.value.reason is Reason.EXPIRED


def test_a_clock_set_back_uses_no_list_and_no_keys_beyond_their_time(portal, verifier, clock):
    """A clock corrected backwards (NTP) must not stretch a status list's ttl or the wait
    for new keys: both are fetched again."""
    token = portal.token(iat=int(clock()) - 3500, nbf=int(clock()) - 3500, exp=int(clock()) + 60)
    assert verifier.verify(token).allowed
    portal.publish("es-2027-2", ec.generate_private_key(ec.SECP256R1()))
    rotated = portal.token(kid="es-2027-2")
    assert verifier.verify(rotated).reason is Reason.UNKNOWN_KEY  # within the floor
    clock.advance(1)
    portal.documents[LIST_URI] = portal.status_list_token().encode()  # the portal's clock
    clock.advance(-3001)
    assert verifier.verify(token).allowed
    assert portal.fetches(LIST_URI) == 2
    assert verifier.verify(rotated).reason is Reason.NOT_YET_VALID  # found, but issued later
    assert portal.fetches(JWKS_URL) == 2
