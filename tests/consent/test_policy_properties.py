"""Properties of the consent decision, over consents and requests hypothesis makes up: nested
provisions negate the level above, provisions that do not apply change nothing, denials only
ever take away, withdrawal denies everything from its time, an opt-out binds only permits
approved at or after it (EHDS Art 71(3)), and DUO permissions cover narrower uses."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from catalogue import duo
from consent import policy
from consent.terms import (
    CONSENT_ACTION,
    CUSTODIAN,
    DUO_SYSTEM,
    EHDS_PURPOSE_SYSTEM,
    EHDS_PURPOSES,
    FHIR_TYPES,
    KNOWN_ACTIONS,
    NODE_SYSTEM,
    PARTICIPATION_TYPE,
)

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NODES = ["urn:node:a", "urn:node:b", "urn:node:c"]
TYPES = ["ImagingStudy", "Observation", "Condition"]
PERMISSIONS = [duo.NRES, duo.GRU, duo.HMB, duo.DS, duo.POA]
MODIFIERS = [duo.NCU, duo.NPU, duo.NPUNCU, duo.IRB, duo.PUB]
PERIODS = {
    "now": {"start": "2026-01-01", "end": "2026-12-31"},
    "past": {"start": "2020", "end": "2025-12-31"},
    "future": {"start": "2027-01-01T00:00:00Z"},
    "open": {"start": "2000"},
}

settings.register_profile("consent", max_examples=150, deadline=None)
settings.load_profile("consent")


def _coding(system, code):
    return {"system": system, "code": code}


# A provision's purposes come from one kind at a time (EHDS purposes, DUO permissions, or one
# DUO modifier), so that reading them narrowly or broadly comes to the same.
purposes = st.one_of(
    st.lists(st.sampled_from(sorted(EHDS_PURPOSES)), min_size=1, max_size=3, unique=True).map(
        lambda codes: [_coding(EHDS_PURPOSE_SYSTEM, c) for c in codes]
    ),
    st.lists(st.sampled_from(PERMISSIONS), min_size=1, max_size=2, unique=True).map(
        lambda codes: [_coding(DUO_SYSTEM, c) for c in codes]
    ),
    st.sampled_from(MODIFIERS).map(lambda code: [_coding(DUO_SYSTEM, code)]),
)
actors = st.lists(st.sampled_from(NODES), min_size=1, max_size=2, unique=True).map(
    lambda nodes: [
        {
            "role": {"coding": [_coding(PARTICIPATION_TYPE, CUSTODIAN)]},
            "reference": {"identifier": {"system": NODE_SYSTEM, "value": n}},
        }
        for n in nodes
    ]
)
criteria = st.fixed_dictionaries(
    {},
    optional={
        "purpose": purposes,
        "actor": actors,
        "resourceType": st.lists(st.sampled_from(TYPES), min_size=1, max_size=2).map(
            lambda codes: [_coding(FHIR_TYPES, c) for c in codes]
        ),
        "period": st.sampled_from(sorted(PERIODS)).map(PERIODS.__getitem__),
        "action": st.lists(st.sampled_from(sorted(KNOWN_ACTIONS)), min_size=1, max_size=2).map(
            lambda codes: [{"coding": [_coding(CONSENT_ACTION, c)]} for c in codes]
        ),
    },
)


def _with_children(children):
    return st.tuples(criteria, children).map(
        lambda pair: {**pair[0], "provision": pair[1]} if pair[1] else pair[0] or {"id": "all"}
    )


provisions = st.recursive(
    st.lists(criteria.map(lambda c: c or {"id": "all"}), max_size=3),
    lambda children: st.lists(_with_children(children), max_size=3),
    max_leaves=8,
)
# What is asked: always with a DUO permission, so that no criterion is unsure.
requests = st.fixed_dictionaries(
    {
        "purpose": st.sampled_from(sorted(EHDS_PURPOSES)),
        "duo_codes": st.tuples(
            st.sampled_from(PERMISSIONS), st.sets(st.sampled_from(MODIFIERS), max_size=2)
        ).map(lambda pair: frozenset({pair[0], *pair[1]})),
        "node": st.sampled_from(NODES),
        "resource_type": st.sampled_from(TYPES),
    }
)


def consent(decision, provisions, *, status="active", period=None, ident="c"):
    resource = {
        "resourceType": "Consent",
        "id": ident,
        "meta": {"versionId": "1", "lastUpdated": "2026-01-01T00:00:00Z"},
        "status": status,
        "decision": decision,
        "period": period or {"start": "2026-01-01T00:00:00Z"},
    }
    if provisions:
        resource["provision"] = provisions
    return resource


def ask(consents, request, *, at=AT, approved=AT, default_permit=True):
    return policy.decide(
        consents,
        dataset="ds",
        at=at,
        permit_approved_at=approved,
        default_permit=default_permit,
        **request,
    )


def flip(decision):
    return "deny" if decision == "permit" else "permit"


@given(requests, st.sampled_from(["permit", "deny"]), st.integers(0, 6))
def test_each_level_of_provisions_negates_the_one_above(request, decision, depth):
    tree = [{"id": "applies-to-everything"}]
    for _ in range(depth):
        tree = [{"provision": tree}]
    verdict = ask([consent(decision, tree)], request)
    # ``depth + 1`` levels of provisions under the root decision.
    assert verdict.permit is ((decision == "permit") != ((depth + 1) % 2 == 1))


def _chain(levels):
    tree = []
    for level in reversed(levels):
        tree = [{**level, "provision": tree} if tree else level or {"id": "all"}]
    return tree


chains = st.lists(criteria, min_size=1, max_size=5).map(_chain)


@given(requests, chains, st.sampled_from(["permit", "deny"]))
def test_the_opposite_base_decision_gives_the_opposite_answer(request, tree, decision):
    """Down a chain of provisions (one at each level), with every criterion judged for sure,
    the answer mirrors the base decision: each level that applies negates the one above."""
    one = ask([consent(decision, tree)], request)
    other = ask([consent(flip(decision), tree)], request)
    assert one.permit is not other.permit
    assert one.provision.split("#")[1] == other.provision.split("#")[1]


@given(requests, provisions, st.sampled_from(["permit", "deny"]), provisions, st.data())
def test_a_provision_that_does_not_apply_changes_nothing(request, tree, decision, inert, data):
    outside = {"period": PERIODS[data.draw(st.sampled_from(["past", "future"]))]}
    if inert:
        outside["provision"] = inert
    position = data.draw(st.integers(0, len(tree)))
    changed = [*tree[:position], outside, *tree[position:]]
    before = ask([consent(decision, tree)], request)
    after = ask([consent(decision, changed)], request)
    assert after.permit is before.permit


@given(requests, provisions, _with_children(provisions))
def test_a_denial_added_to_a_donation_only_takes_away(request, tree, denial):
    before = ask([consent("permit", tree)], request)
    after = ask([consent("permit", [*tree, denial])], request)
    assert before.permit or not after.permit


@given(requests, provisions, st.integers(-400, 400), st.integers(-4000, 400))
def test_a_withdrawal_denies_every_use_from_its_time_for_every_permit(
    request, tree, hours, approved_hours
):
    withdrawn_at = AT + timedelta(hours=hours)
    period = {"start": "2026-01-01T00:00:00Z", "end": withdrawn_at.isoformat()}
    withdrawn = consent("permit", tree, status="inactive", period=period)
    approved = AT + timedelta(hours=approved_hours)
    verdict = ask([withdrawn], request, approved=approved)
    if withdrawn_at < AT:
        assert not verdict.permit
        assert verdict.applies_to_earlier_permits
        assert verdict.provision.endswith("#status")
    else:  # not withdrawn yet at the time asked about: the donation as it was
        active = ask([consent("permit", tree, period=period)], request, approved=approved)
        assert verdict.permit is active.permit


@given(requests, st.one_of(st.none(), provisions), st.integers(-400, 400), st.booleans())
def test_an_opt_out_binds_only_permits_approved_at_or_after_it(
    request, donated, approved_hours, default_permit
):
    opted_out_at = AT - timedelta(days=10)
    opt_out = consent("deny", [], period={"start": opted_out_at.isoformat()}, ident="out")
    donations = [] if donated is None else [consent("permit", donated, ident="don")]
    approved = opted_out_at + timedelta(hours=approved_hours)
    verdict = ask([*donations, opt_out], request, approved=approved, default_permit=default_permit)
    without = ask(donations, request, approved=approved, default_permit=default_permit)
    if approved >= opted_out_at:
        assert not verdict.permit
        assert verdict.since == opted_out_at or verdict.applies_to_earlier_permits
        # What a node makes of the verdict: refuse from ``since``, or always.
        assert verdict.applies_to_earlier_permits is (not without.permit)
    else:
        assert verdict.permit is without.permit


def _descendants(code):
    children = {}
    for child, parents in duo.HIERARCHY.items():
        for parent in parents:
            children.setdefault(parent, set()).add(child)
    found, todo = set(), [code]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    if code == duo.GRU:
        found.add(duo.POA)  # GRU's definition includes population origins and ancestry
    if code == duo.NRES:
        found.update(PERMISSIONS)
    return found


@given(st.sampled_from(PERMISSIONS), st.sampled_from(PERMISSIONS), st.sampled_from(NODES))
def test_a_permitted_duo_use_covers_every_narrower_use(donated, declared, node):
    donation = consent(
        "deny", [{"purpose": [_coding(DUO_SYSTEM, donated)]}], period={"start": "2000"}
    )
    request = {"purpose": "research", "duo_codes": frozenset({declared}), "node": node}
    covered = declared == donated or declared in _descendants(donated)
    assert ask([donation], request).permit is covered


@given(requests, provisions, st.sampled_from(["permit", "deny"]), provisions, st.booleans())
def test_another_consent_never_lifts_a_denial(request, tree, decision, other, default_permit):
    first = consent(decision, tree, ident="a")
    alone = ask([first], request, default_permit=default_permit)
    together = ask(
        [first, consent(flip(decision), other, ident="b")],
        request,
        default_permit=default_permit,
    )
    if not alone.permit and alone.provision != "default":
        assert not together.permit


@given(
    requests,
    provisions,
    st.sampled_from(["draft", "not-done", "entered-in-error", "unknown"]),
    st.booleans(),
)
def test_a_consent_not_in_force_leaves_the_default(request, tree, status, default_permit):
    verdict = ask([consent("permit", tree, status=status)], request, default_permit=default_permit)
    assert verdict.permit is default_permit and verdict.provision == "default"
