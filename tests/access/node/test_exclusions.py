"""The consent exclusion list at the node: its wire format, deltas, the node's copy (fetched
when needed, kept for its ttl, updated by deltas and 304s, refused when stale), and the
gatekeeper's decisions on a study of an excluded subject."""

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from access.node.claims import AccessClaims
from access.node.exclusion_store import ExclusionStore
from access.node.exclusions import (
    LIST_TYPE,
    Entries,
    ExclusionList,
    InvalidExclusionList,
    SubjectExclusion,
    delta_claims,
    entries_of,
)
from access.node.fetch import FetchError
from access.node.reasons import Reason, http_answer
from access.node.studies import StudyEntry

from .stand_in import AUDIENCE, DATASET, ISSUER, NOW, Clock, StandInPortal
from .test_verifier_fuzz import FUZZ, json_values

PERMIT = "EHDS-2027-00001-001"
URL = f"{ISSUER}/access/nodes/{AUDIENCE}/exclusions"


def listed(version=1, *, permits=(), excluded=(), subjects=None) -> ExclusionList:
    entries = entries_of(permits=permits, excluded=excluded, subjects=subjects or {})
    return ExclusionList.of(AUDIENCE, version, entries)


def claims_of(exclusions: ExclusionList) -> dict:
    return {"aud": AUDIENCE, **exclusions.to_claims()}


# --- The wire format --------------------------------------------------------------------------


def test_it_refuses_the_excluded_subjects_of_a_permit_and_no_one_else():
    exclusions = listed(
        permits=[PERMIT, "P-2"],
        excluded=[(PERMIT, DATASET, "p-1")],
        subjects={"p-withdrew": (1_000, True), "p-opted-out": (2_000, False)},
    )
    ask = {"permit": PERMIT, "permit_iat": 1_500, "dataset": DATASET}
    assert exclusions.refusal(**ask, subject="p-1") is Reason.SUBJECT_EXCLUDED
    assert exclusions.refusal(**ask, subject="p-2") is None
    # Under another permit (its use allowed) the same subject is served.
    assert exclusions.refusal(**{**ask, "permit": "P-2"}, subject="p-1") is None
    # The same subject in another dataset is decided apart.
    assert exclusions.refusal(**{**ask, "dataset": "other"}, subject="p-1") is None
    # A withdrawal refuses every permit, earlier ones too.
    assert exclusions.refusal(**ask, subject="p-withdrew") is Reason.SUBJECT_EXCLUDED
    # An opt-out (Art 71(3)) spares a permit approved before it, not one approved after.
    assert exclusions.refusal(**ask, subject="p-opted-out") is None
    late = {**ask, "permit_iat": 2_000}
    assert exclusions.refusal(**late, subject="p-opted-out") is Reason.SUBJECT_EXCLUDED
    # A token that does not say when its permit was approved is read strictly.
    strict = {**ask, "permit_iat": None}
    assert exclusions.refusal(**strict, subject="p-opted-out") is Reason.SUBJECT_EXCLUDED
    # A permit the list does not know: nothing can be said, nothing is served.
    unknown = {**ask, "permit": "P-unknown"}
    assert exclusions.refusal(**unknown, subject="p-2") is Reason.PERMIT_NOT_IN_EXCLUSIONS


def test_its_refusals_are_rfc_6750_answers():
    assert http_answer(Reason.SUBJECT_EXCLUDED) == (403, "insufficient_scope")
    assert http_answer(Reason.EXCLUSIONS_UNAVAILABLE) == (401, "invalid_token")
    assert http_answer(Reason.PERMIT_NOT_IN_EXCLUSIONS) == (401, "invalid_token")


def test_a_list_reads_back_what_it_wrote():
    exclusions = listed(
        version=7,
        permits=[PERMIT],
        excluded=[(PERMIT, DATASET, "p-1"), (PERMIT, DATASET, "p-2")],
        subjects={"p-3": (5, False)},
    )
    claims = claims_of(exclusions)
    assert claims["excluded"] == {PERMIT: [[DATASET, "p-1"], [DATASET, "p-2"]]}
    assert claims["subjects"] == {"p-3": [5, False]}
    again = ExclusionList.from_claims(claims)
    assert again.version == 7 and again.entries == exclusions.entries


@pytest.mark.parametrize(
    "bad",
    [
        {"aud": AUDIENCE},  # no version
        {"aud": AUDIENCE, "version": -1},
        {"aud": AUDIENCE, "version": True},
        {"version": 1},  # no node
        {"aud": AUDIENCE, "version": 1, "permits": "P"},
        {"aud": AUDIENCE, "version": 1, "permits": [""]},
        {"aud": AUDIENCE, "version": 1, "excluded": {PERMIT: [["d"]]}},
        {"aud": AUDIENCE, "version": 1, "excluded": {PERMIT: [[DATASET, 5]]}},
        {"aud": AUDIENCE, "version": 1, "subjects": {"p": [1]}},
        {"aud": AUDIENCE, "version": 1, "subjects": {"p": [1, "yes"]}},
        {"aud": AUDIENCE, "version": 1, "subjects": {"p": [-1, True]}},
        {"aud": AUDIENCE, "version": 1, "subjects": {"x" * 300: [1, True]}},
        {"aud": AUDIENCE, "version": 2, "base": 1},  # a delta is not a list
    ],
)
def test_it_refuses_a_list_it_cannot_read(bad):
    with pytest.raises(InvalidExclusionList):
        ExclusionList.from_claims(bad)


def test_a_delta_takes_one_version_to_the_next():
    old = listed(
        version=3,
        permits=[PERMIT],
        excluded=[(PERMIT, DATASET, "p-1")],
        subjects={"p-2": (10, False)},
    )
    new = entries_of(
        permits=[PERMIT, "P-2"],
        excluded=[(PERMIT, DATASET, "p-3")],
        subjects={"p-2": (20, True), "p-4": (30, True)},
    )
    delta = {"aud": AUDIENCE, "base": 3, "version": 4, **delta_claims(old.entries, new)}
    applied = old.apply(delta)
    assert applied.version == 4 and applied.entries == new
    with pytest.raises(InvalidExclusionList):  # not from the version in hand
        listed(version=2).apply(delta)
    with pytest.raises(InvalidExclusionList):
        old.apply({**delta, "aud": "urn:ecii:node:elsewhere"})


subjects = st.sampled_from(["p-1", "p-2", "p-3", "p-4"])
permits = st.sampled_from([PERMIT, "P-2", "P-3"])
entries = st.builds(
    entries_of,
    permits=st.lists(permits, max_size=3),
    excluded=st.lists(st.tuples(permits, st.sampled_from(["d-1", "d-2"]), subjects), max_size=6),
    subjects=st.dictionaries(subjects, st.tuples(st.integers(0, 100), st.booleans()), max_size=3),
)


@FUZZ
@given(entries, entries)
def test_any_delta_applied_gives_the_list_it_was_made_for(old: Entries, new: Entries):
    held = ExclusionList.of(AUDIENCE, 1, old)
    delta = {"aud": AUDIENCE, "base": 1, "version": 2, **delta_claims(old, new)}
    assert held.apply(delta).entries == new


@FUZZ
@given(st.dictionaries(st.sampled_from(["aud", "version", "permits", "excluded", "subjects",
                                        "base", "added", "removed"]), json_values))  # fmt: skip
def test_whatever_arrives_is_read_or_refused_with_its_own_error(claims):
    with contextlib.suppress(InvalidExclusionList):
        ExclusionList.from_claims(claims)
    with contextlib.suppress(InvalidExclusionList):
        listed().apply(claims)


# --- The node's copy ---------------------------------------------------------------------------


class ListPortal:
    """Serves the node's exclusion list at versions the test sets, as the portal does: 304 for
    the ETag in hand, a delta for ``?since`` while the changes are known, else the whole
    list."""

    def __init__(self, signer: StandInPortal, clock: Clock, *, ttl: int = 60) -> None:
        self.signer, self.clock, self.ttl = signer, clock, ttl
        self.versions: dict[int, Entries] = {
            1: entries_of(permits=[PERMIT], excluded=[], subjects={})
        }
        self.oldest_delta = 1
        self.asked: list[tuple[str, str | None]] = []
        self.down = False
        self.overrides: dict = {}  # claims changed in what is served
        self.typ = LIST_TYPE

    @property
    def version(self) -> int:
        return max(self.versions)

    def publish(self, **entries) -> None:
        self.versions[self.version + 1] = entries_of(**entries)

    def conditional(self, url, *, accept, etag):
        self.asked.append((url, etag))
        if self.down:
            raise FetchError(f"{url} could not be fetched: connection refused")
        current = f'"{self.version}"'
        if etag == current:
            return 304, current, b""
        now = int(self.clock())
        claims = {"iss": ISSUER, "sub": URL, "aud": AUDIENCE, "iat": now, "exp": now + 3600,
                  "ttl": self.ttl, "version": self.version}  # fmt: skip
        _base, _sep, query = url.partition("?since=")
        if query and self.oldest_delta <= int(query) <= self.version:
            since = int(query)
            claims.update(
                base=since, **delta_claims(self.versions[since], self.versions[self.version])
            )
        else:
            claims.update(self.versions[self.version].to_claims())
        claims.update(self.overrides)
        return 200, current, self.signer.sign(claims, typ=self.typ).encode()


@pytest.fixture
def clock():
    return Clock(NOW)


@pytest.fixture
def portal(clock):
    return ListPortal(StandInPortal(clock), clock)


@pytest.fixture
def store(portal, clock):
    exclusions = ExclusionStore(
        url=URL,
        audience=AUDIENCE,
        authorization="Basic bm9kZTpzZWNyZXQ=",
        reader=portal.signer.verifier(),
        refresh_floor=10,
        clock=clock,
    )
    exclusions.fetcher = portal  # type: ignore[assignment]
    return exclusions


def claims(**overrides) -> AccessClaims:
    signer = StandInPortal(Clock(NOW))
    return AccessClaims.from_claims(signer.claims(permit_iat=int(NOW) - 86400, **overrides))


def test_the_node_uses_its_copy_for_the_ttl_then_takes_only_the_changes(store, portal, clock):
    entry = StudyEntry(dataset=DATASET, subject="p-1")
    assert store.refusal(claims(), entry) is None
    assert store.fetches == 1
    portal.publish(permits=[PERMIT], excluded=[], subjects={"p-1": (int(NOW), True)})
    clock.advance(59)
    assert store.refusal(claims(), entry) is None  # the copy lasts its ttl
    assert store.fetches == 1
    clock.advance(2)
    assert store.refusal(claims(), entry) is Reason.SUBJECT_EXCLUDED  # the withdrawal
    url, etag = portal.asked[-1]
    assert url == f"{URL}?since=1" and etag == '"1"'  # the node asked for the changes
    assert store.held is not None and store.held.exclusions.version == 2
    clock.advance(61)
    assert store.refusal(claims(), entry) is Reason.SUBJECT_EXCLUDED
    assert portal.asked[-1] == (f"{URL}?since=2", '"2"')  # nothing changed: a 304
    assert store.held.fetched_at == clock()


def test_a_delta_too_old_for_the_portal_brings_the_whole_list(store, portal, clock):
    store.sync()
    for n in range(3):
        portal.publish(permits=[PERMIT], excluded=[(PERMIT, DATASET, f"p-{n}")], subjects={})
    portal.oldest_delta = 3  # the portal forgot the changes from 1
    clock.advance(61)
    assert store.refusal(claims(), StudyEntry(DATASET, "p-2")) is Reason.SUBJECT_EXCLUDED
    assert store.held.exclusions.version == 4
    assert store.held.exclusions.entries == portal.versions[4]


def test_a_node_that_cannot_fetch_the_list_again_serves_no_study(store, portal, clock):
    entry = StudyEntry(dataset=DATASET, subject="p-1")
    assert store.refusal(claims(), entry) is None
    portal.down = True
    clock.advance(30)
    assert store.refusal(claims(), entry) is None  # within the ttl
    clock.advance(31)
    assert store.refusal(claims(), entry) is Reason.EXCLUSIONS_UNAVAILABLE
    portal.down = False
    clock.advance(1)
    assert store.refusal(claims(), entry) is None  # fetched again: served again


@pytest.mark.parametrize(
    "change",
    [
        {"overrides": {"iss": "https://elsewhere.example.org"}},
        {"overrides": {"aud": "urn:ecii:node:elsewhere"}},
        {"overrides": {"exp": int(NOW) - 3600}},
        {"overrides": {"ttl": 0}},
        {"overrides": {"version": "2"}},
        {"typ": "statuslist+jwt"},
    ],
)
def test_a_list_that_is_not_the_portals_for_this_node_is_not_used(store, portal, change):
    for name, value in change.items():
        setattr(portal, name, value)
    assert store.current() is None
    assert store.refusal(claims(), StudyEntry(DATASET, "p-1")) is Reason.EXCLUSIONS_UNAVAILABLE


def test_an_unknown_permit_makes_the_node_fetch_again_no_sooner_than_the_floor(
    store, portal, clock
):
    entry = StudyEntry(dataset=DATASET, subject="p-1")
    new_permit = claims(permit="P-NEW")
    assert store.refusal(new_permit, entry) is Reason.PERMIT_NOT_IN_EXCLUSIONS
    assert store.fetches == 1  # fetched once: the floor had not passed since the first fetch
    clock.advance(5)
    assert store.refusal(new_permit, entry) is Reason.PERMIT_NOT_IN_EXCLUSIONS
    assert store.fetches == 1
    portal.publish(permits=[PERMIT, "P-NEW"], excluded=[], subjects={})
    clock.advance(6)
    assert store.refusal(new_permit, entry) is None  # past the floor: fetched, now known
    assert store.fetches == 2


def test_subject_exclusions_read_the_tokens_permit_approval():
    opted_out = SubjectExclusion(since=100, earlier_permits=False)
    assert not opted_out.covers(99) and opted_out.covers(100) and opted_out.covers(None)
    assert SubjectExclusion(since=100, earlier_permits=True).covers(1)
