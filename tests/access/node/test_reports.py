"""The access reports' wire format: what the gatekeeper builds and the portal reads back."""

import json

import pytest

from access.node.reasons import Reason
from access.node.reports import (
    ALLOWED,
    MAX_EVENTS,
    REFUSED,
    AccessEvent,
    InvalidReport,
    batch_claims,
    read_batch,
)

from .stand_in import AUDIENCE, STUDY

NOW = 1_800_000_000


def events():
    return [
        AccessEvent.recorded(jti="t-1", study=STUDY, time=NOW + 0.7, reason=None),
        AccessEvent.recorded(
            jti="t-1", study="1.2.3.4", time=NOW + 1, reason=Reason.STUDY_NOT_PERMITTED
        ),
        AccessEvent.recorded(jti=None, study=None, time=NOW + 2, reason=Reason.MISSING_TOKEN),
    ]


def test_a_batch_round_trips_through_json():
    claims = batch_claims(node=AUDIENCE, events=events(), iat=NOW + 5, jti="batch-1")
    assert claims == {
        "iss": AUDIENCE,
        "iat": NOW + 5,
        "jti": "batch-1",
        "events": [
            {"jti": "t-1", "study": STUDY, "time": NOW, "decision": ALLOWED, "reason": None},
            {
                "jti": "t-1",
                "study": "1.2.3.4",
                "time": NOW + 1,
                "decision": REFUSED,
                "reason": "study_not_permitted",
            },
            {
                "jti": None,
                "study": None,
                "time": NOW + 2,
                "decision": REFUSED,
                "reason": "missing_token",
            },
        ],
    }
    report = read_batch(json.loads(json.dumps(claims)))
    assert report.node == AUDIENCE and report.jti == "batch-1" and report.iat == NOW + 5
    assert list(report.events) == events()
    assert report.to_claims() == claims


def test_each_batch_gets_its_own_id():
    first = batch_claims(node=AUDIENCE, events=events(), iat=NOW)
    second = batch_claims(node=AUDIENCE, events=events(), iat=NOW)
    assert first["jti"] != second["jti"]


def test_whatever_a_refused_path_held_is_recorded_as_no_study():
    for junk in ("../../etc/passwd", "1.2.3.", "01.2", "1." * 40 + "1", "", "<script>"):
        event = AccessEvent.recorded(jti="t-1", study=junk, time=NOW, reason=Reason.MALFORMED)
        assert event.study is None
    assert AccessEvent.recorded(jti="x" * 500, study=STUDY, time=NOW, reason=None).jti is None


def _batch(**overrides):
    claims = batch_claims(node=AUDIENCE, events=events(), iat=NOW, jti="b")
    return {**claims, **overrides}


def _event(**overrides):
    return _batch(events=[{**events()[1].to_claim(), **overrides}])


@pytest.mark.parametrize(
    "claims",
    [
        None,
        [],
        _batch(iss=None),
        _batch(iss=""),
        _batch(iat="now"),
        _batch(iat=True),
        _batch(jti=7),
        _batch(events=[]),
        _batch(events={"0": {}}),
        _batch(events=["event"]),
        _event(decision="granted"),
        _event(decision=ALLOWED),  # an allowed event with a reason
        _event(reason=None),  # a refused event without one
        _event(reason="Not A Code"),
        _event(study="1.2.abc"),
        _event(study=12),
        _event(jti=""),
        _event(time=-1),
        _event(time=1.5),
        _event(time=10**12),
    ],
)
def test_it_refuses_batches_of_the_wrong_shape(claims):
    with pytest.raises(InvalidReport):
        read_batch(claims)


def test_a_batch_has_at_most_so_many_events():
    one = events()[0]
    assert len(read_batch(_batch(events=[one.to_claim()] * MAX_EVENTS)).events) == MAX_EVENTS
    with pytest.raises(InvalidReport, match="at most"):
        read_batch(_batch(events=[one.to_claim()] * (MAX_EVENTS + 1)))


def test_a_node_cannot_build_a_batch_the_portal_would_refuse():
    with pytest.raises(InvalidReport):
        batch_claims(node=AUDIENCE, events=[], iat=NOW)
    with pytest.raises(InvalidReport):
        batch_claims(node="", events=events(), iat=NOW)


def test_a_newer_nodes_reason_codes_are_read():
    """Nodes upgrade at their own pace: a code this portal does not know is still a code."""
    report = read_batch(_event(reason="subject_embargoed"))
    assert report.events[0].reason == "subject_embargoed"
