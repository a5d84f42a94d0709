"""The wire formats nodes and the portal share: status lists, token claims, reason codes,
study maps and exclusion lists."""

import base64
import zlib

import pytest

from access.node.claims import AccessClaims, InvalidClaims
from access.node.reasons import Reason, http_answer, www_authenticate
from access.node.statuslist import SUSPENDED, InvalidStatusList, StatusList
from access.node.studies import InvalidStudyMap, StudyMap

# The examples of the Token Status List draft (section "Status List"), one bit and two bits.
ONE_BIT = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
TWO_BITS = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]


@pytest.mark.parametrize(
    ("bits", "statuses", "raw", "lst"),
    [
        (1, ONE_BIT, "b9a3", "eNrbuRgAAhcBXQ"),
        (2, TWO_BITS, "c944f9", "eNo76fITAAPfAgc"),
    ],
)
def test_it_encodes_the_drafts_examples(bits, statuses, raw, lst):
    status_list = StatusList(bits=bits)
    for idx, value in enumerate(statuses):
        status_list.set(idx, value)
    assert status_list.data.hex() == raw
    assert status_list.encode() == {"bits": bits, "lst": lst}
    decoded = StatusList.decode({"bits": bits, "lst": lst})
    assert [decoded.get(i) for i in range(len(statuses))] == statuses


def test_it_refuses_an_index_beyond_the_list():
    status_list = StatusList.decode({"bits": 1, "lst": "eNrbuRgAAhcBXQ"})
    assert status_list.size == 16
    with pytest.raises(IndexError):
        status_list.get(16)
    with pytest.raises(IndexError):
        status_list.get(-1)


def test_it_refuses_a_list_that_inflates_into_a_bomb():
    bomb = base64.urlsafe_b64encode(zlib.compress(bytes(64 * 1024 * 1024))).rstrip(b"=").decode()
    with pytest.raises(InvalidStatusList, match="inflates beyond"):
        StatusList.decode({"bits": 1, "lst": bomb}, max_bytes=1024 * 1024)


@pytest.mark.parametrize(
    "claim",
    [
        None,
        {"bits": 3, "lst": "eNrbuRgAAhcBXQ"},
        {"bits": True, "lst": "eNrbuRgAAhcBXQ"},
        {"bits": 1, "lst": "eNrbuRgAAhcBXQ=="},
        {"bits": 1, "lst": "not zlib"},
        {"bits": 1, "lst": "eNrbuRgA"},
        {"bits": 1},
    ],
)
def test_it_refuses_malformed_lists(claim):
    with pytest.raises(InvalidStatusList):
        StatusList.decode(claim)


def test_it_grows_and_keeps_neighbouring_entries():
    status_list = StatusList(bits=2)
    status_list.set(1000, SUSPENDED)
    status_list.set(1001, 1)
    assert [status_list.get(i) for i in (999, 1000, 1001)] == [0, SUSPENDED, 1]
    with pytest.raises(ValueError):
        status_list.set(3, 4)


def _claims(**overrides):
    claims = AccessClaims(
        iss="https://portal.example.org",
        sub="p-0123456789abcdef",
        aud="urn:ecii:node:oslo",
        iat=1_800_000_000,
        nbf=1_800_000_000,
        exp=1_800_000_900,
        jti="t-1",
        client_id="ecii-portal",
        permit="EHDS-2027-00001-001",
        purpose="research_ai",
        scope="dicomweb.read",
        datasets=("d-1", "d-2"),
        status_idx=7,
        status_uri="https://portal.example.org/status/1",
    ).to_claims()
    return {**claims, **overrides}


def test_it_round_trips_the_access_claims():
    claims = _claims()
    assert claims["status"] == {
        "status_list": {"idx": 7, "uri": "https://portal.example.org/status/1"}
    }
    assert AccessClaims.from_claims(claims).to_claims() == claims
    assert AccessClaims.from_claims(_claims(aud=["urn:ecii:node:oslo"])).aud == "urn:ecii:node:oslo"


@pytest.mark.parametrize(
    "overrides",
    [
        {"sub": ""},
        {"exp": "soon"},
        {"exp": True},
        {"iat": 1_800_000_901},
        {"datasets": "d-1"},
        {"datasets": [1]},
        {"status": {"status_list": {"idx": -1, "uri": "u"}}},
        {"status": {"idx": 1}},
        {"aud": ["a", "b"]},
    ],
)
def test_it_refuses_claims_of_the_wrong_shape(overrides):
    with pytest.raises(InvalidClaims):
        AccessClaims.from_claims(_claims(**overrides))


def test_it_names_the_missing_claims():
    claims = _claims()
    del claims["jti"], claims["permit"]
    with pytest.raises(InvalidClaims, match="jti, permit"):
        AccessClaims.from_claims(claims)


def test_it_maps_every_reason_to_rfc_6750():
    assert http_answer(Reason.MISSING_TOKEN) == (401, "")
    assert http_answer(Reason.EXPIRED) == (401, "invalid_token")
    assert http_answer(Reason.STUDY_NOT_PERMITTED) == (403, "insufficient_scope")
    assert www_authenticate(Reason.REVOKED) == (
        'Bearer realm="dicomweb", error="invalid_token", error_description="revoked"'
    )
    for reason in Reason:
        status, error = http_answer(reason)
        assert status in (401, 403)
        assert error in ("", "invalid_token", "insufficient_scope")


def test_it_reads_a_study_map():
    studies = StudyMap.from_claims(
        {"aud": "urn:ecii:node:oslo", "studies": [["1.2.3", "d-1", "p-subject"]]}
    )
    assert [e.dataset for e in studies.entries("1.2.3")] == ["d-1"]
    assert studies.entries("1.2.4") == ()
    assert studies.to_claims() == [["1.2.3", "d-1", "p-subject"]]
    with pytest.raises(InvalidStudyMap):
        StudyMap.from_claims({"aud": "n", "studies": [["1.2.3", "d-1"]]})


def test_a_study_in_two_datasets_keeps_both_and_round_trips():
    rows = [["1.2.3", "d-2", "p-a"], ["1.2.3", "d-1", "p-a"], ["1.2.9", "d-1", "p-b"]]
    studies = StudyMap.from_claims({"aud": "urn:ecii:node:oslo", "studies": rows})
    assert {e.dataset for e in studies.entries("1.2.3")} == {"d-1", "d-2"}
    assert [e.dataset for e in studies.granted("1.2.3", ("d-2",))] == ["d-2"]
    assert studies.granted("1.2.9", ("d-2",)) == ()
    assert studies.to_claims() == sorted(rows)
    # The same row twice is one entry.
    again = StudyMap.from_rows("n", [("1.2.3", "d-1", "p-a"), ("1.2.3", "d-1", "p-a")])
    assert len(again.entries("1.2.3")) == 1
