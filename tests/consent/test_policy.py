"""The consent decision, case by case: the portal's donation and opt-out, withdrawal, EHDS
Art 71(3), the DUO hierarchy, nested provisions, and consents written by others."""

import copy
from datetime import UTC, date, datetime, timedelta

import pytest

from catalogue import duo
from consent import fhir, policy
from consent.terms import DATASET_SYSTEM, DUO_SYSTEM, EHDS_PURPOSE_SYSTEM
from tests.consent.r5_examples import example

RECORDED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OSLO, VALENCIA = "urn:ecii:node:oslo", "urn:ecii:node:valencia"
HDAB = fhir.Controller("HDAB")


def donation(*, version=1, at=RECORDED, **choices):
    chosen = {
        "nodes": [fhir.NodeRef(OSLO, "Oslo")],
        "categories": ["imaging"],
        "purposes": ["research"],
        "duo_codes": [],
        "until": None,
    }
    chosen.update(choices)
    resource = fhir.donation(consent_id="don", pseudonym="p-1", at=at, controller=HDAB, **chosen)
    return fhir.with_meta(resource, version=version, at=at)


def opt_out(at=RECORDED):
    resource = fhir.opt_out(consent_id="out", pseudonym="p-1", at=at, controller=HDAB)
    return fhir.with_meta(resource, version=1, at=at)


def ask(consents, *, purpose="research", duo_codes=(), node=OSLO, at=AT, approved=None, **kw):
    return policy.decide(
        consents,
        purpose=purpose,
        duo_codes=frozenset(duo_codes),
        dataset="ds-1",
        node=node,
        at=at,
        permit_approved_at=approved,
        default_permit=kw.pop("default_permit", True),
        **kw,
    )


def test_without_a_consent_the_default_decides():
    assert ask([]) == policy.Verdict(True, "default", ask([]).reason)
    assert "CONSENT_DEFAULT=permit" in ask([]).reason
    refused = ask([], default_permit=False)
    assert not refused.permit and refused.provision == "default"
    assert refused.applies_to_earlier_permits


def test_a_donation_permits_what_it_names_and_nothing_else():
    given = [donation(nodes=[fhir.NodeRef(OSLO, "Oslo")], purposes=["research"])]
    permitted = ask(given)
    assert permitted.permit
    assert permitted.provision == "Consent/don/_history/1#provision[0].provision[0]"
    assert ask(given, purpose="research_ai").permit  # (e)(ii) is part of (e) research
    refused = ask(given, purpose="education")
    assert not refused.permit
    assert refused.provision == "Consent/don/_history/1#provision[0]"
    assert refused.applies_to_earlier_permits  # a donation governs every permit
    assert not ask(given, node=VALENCIA).permit  # a node the donor did not name
    assert not ask(given, resource_type="Observation").permit  # clinical data not donated
    clinical = [donation(categories=["clinical"])]
    assert not ask(clinical).permit and ask(clinical, resource_type="Observation").permit


def test_a_donation_s_period_bounds_it():
    given = [donation(until=date(2026, 5, 31))]
    assert ask(given, at=datetime(2026, 5, 31, 23, 59, tzinfo=UTC)).permit
    ended = ask(given, at=datetime(2026, 6, 1, tzinfo=UTC))
    assert not ended.permit and ended.provision == "Consent/don/_history/1#period"
    assert "ended" in ended.reason
    assert not ask(given, at=RECORDED - timedelta(seconds=1)).permit  # not yet in force


@pytest.mark.parametrize(
    ("given", "declared", "permit"),
    [
        (duo.HMB, {duo.DS}, True),  # a permit for HMB covers disease-specific research
        (duo.HMB, {duo.HMB}, True),
        (duo.HMB, {duo.GRU}, False),  # broader than what was donated
        (duo.DS, {duo.HMB}, False),
        (duo.GRU, {duo.POA}, True),  # GRU includes ancestry research (DUO's own definition)
        (duo.HMB, {duo.POA}, False),
        (duo.GRU, set(), True),  # no DUO use declared: general research, purpose (e)
        (duo.HMB, set(), False),  # no DUO use declared: cannot tell it is health research
        (duo.DS, {duo.HMB, duo.DS}, True),  # a declared use is its narrowest permission
    ],
)
def test_duo_permissions_follow_the_hierarchy(given, declared, permit):
    assert ask([donation(duo_codes=[given])], duo_codes=declared).permit is permit


def test_duo_modifiers_are_conditions_every_use_must_meet():
    given = [donation(duo_codes=[duo.HMB, duo.NCU])]
    assert ask(given, duo_codes={duo.HMB, duo.NCU}).permit
    assert ask(given, duo_codes={duo.HMB, duo.NPUNCU}).permit  # NPUNCU implies NCU
    assert not ask(given, duo_codes={duo.HMB}).permit  # commercial use not excluded


def test_duo_prohibitions_are_nested_denials():
    given = [donation(duo_codes=[duo.GRU, duo.NPOA, duo.NMDS])]
    assert ask(given, duo_codes={duo.HMB}).permit
    ancestry = ask(given, duo_codes={duo.POA})
    assert not ancestry.permit
    assert ancestry.provision == "Consent/don/_history/1#provision[0].provision[0].provision[0]"
    methods = ask(given, purpose="research_ai", duo_codes={duo.HMB})
    assert not methods.permit
    assert methods.provision.endswith("provision[0].provision[0].provision[1]")


def test_a_withdrawn_donation_denies_everything_from_its_withdrawal_for_every_permit():
    withdrawn_at = datetime(2026, 5, 1, tzinfo=UTC)
    given = [fhir.with_meta(fhir.ended(donation(), withdrawn_at), version=2, at=withdrawn_at)]
    refused = ask(given, approved=RECORDED)  # a permit approved long before
    assert not refused.permit
    assert refused.provision == "Consent/don/_history/2#status"
    assert refused.applies_to_earlier_permits
    assert refused.since == withdrawn_at + timedelta(microseconds=1)
    assert ask(given, at=withdrawn_at - timedelta(days=1)).permit  # before it was withdrawn
    assert not ask(given, at=withdrawn_at + timedelta(microseconds=1)).permit
    # Even with no other consent and a permitting default: the withdrawal stands.
    assert not ask(given, purpose="education").permit


def test_a_consent_withdrawn_at_an_unknown_time_denies_everything():
    given = [{**donation(), "status": "inactive"}]  # written elsewhere, without a period end
    refused = ask(given, approved=RECORDED)
    assert not refused.permit and refused.provision.endswith("#status")
    assert refused.applies_to_earlier_permits


def test_an_opt_out_applies_to_permits_approved_from_then_on():
    given = [opt_out()]
    later = ask(given, approved=RECORDED)
    assert not later.permit
    assert later.provision == "Consent/out/_history/1#decision"
    assert later.since == RECORDED and not later.applies_to_earlier_permits
    assert "Art 71" in later.reason
    assert ask(given, approved=RECORDED - timedelta(seconds=1)).permit  # default permits
    assert not ask(given, approved=None).permit  # a permit not approved yet: approved now
    # With a donation, an earlier permit is judged by the donation alone.
    both = [donation(purposes=["education"]), opt_out()]
    assert not ask(both, approved=RECORDED).permit
    assert not ask(both, approved=RECORDED - timedelta(days=1)).permit  # not donated for (e)
    assert ask(both, purpose="education", approved=RECORDED - timedelta(days=1)).permit
    # With a refusing default, the opt-out's denial holds for earlier permits too.
    strict = ask(given, approved=RECORDED, default_permit=False)
    assert not strict.permit and strict.applies_to_earlier_permits


def test_a_revoked_opt_out_plays_no_part_after_its_revocation():
    revoked_at = datetime(2026, 4, 1, tzinfo=UTC)
    given = [fhir.with_meta(fhir.ended(opt_out(), revoked_at), version=2, at=revoked_at)]
    assert ask(given, approved=AT).permit
    assert not ask(given, at=revoked_at - timedelta(days=1), approved=RECORDED).permit


@pytest.mark.parametrize("status", ["draft", "not-done", "entered-in-error", "unknown"])
def test_consents_not_in_force_play_no_part(status):
    assert ask([{**opt_out(), "status": status}], default_permit=True).permit
    assert not ask([{**donation(), "status": status}], default_permit=False).permit


def test_deny_overrides_permit_across_consents():
    assert ask([donation()]).permit
    assert not ask([donation(), opt_out()], approved=AT).permit


def test_nested_provisions_negate_the_level_above():
    base = {"resourceType": "Consent", "id": "c", "status": "active", "decision": "permit"}
    leaf = {"id": "applies-to-everything"}
    for depth in range(5):
        provisions = [leaf]
        for _ in range(depth):
            provisions = [{"provision": provisions}]
        verdict = ask([{**base, "provision": provisions}])
        assert verdict.permit is (depth % 2 == 1), depth
        assert verdict.provision.endswith("provision[0]" + ".provision[0]" * depth)


def test_among_sibling_provisions_deny_overrides():
    permit_research = {"purpose": [{"system": EHDS_PURPOSE_SYSTEM, "code": "research"}]}
    consent = {
        "resourceType": "Consent",
        "id": "c",
        "status": "active",
        "decision": "deny",
        "provision": [permit_research, {**permit_research, "provision": [{"id": "all"}]}],
    }
    refused = ask([consent], approved=AT)
    assert not refused.permit and refused.provision == "Consent/c#provision[1].provision[0]"


def test_what_the_portal_cannot_judge_denies():
    research = example("research")
    # HRESCH reads as EHDS research; HMARKT never matches; the securityLabel denial cannot
    # be judged (the images carry no labels the portal reads), so it applies.
    refused = ask([research], approved=AT)
    assert not refused.permit
    assert refused.provision == "Consent/consent-example-research#provision[0].provision[1]"
    without_label = copy.deepcopy(research)
    without_label["provision"][0]["provision"].pop()
    assert ask([without_label], approved=AT).permit
    assert not ask([without_label], purpose="education", approved=AT).permit
    # A permission naming an actor the portal does not know does not apply.
    named = copy.deepcopy(without_label)
    named["provision"][0]["actor"] = [
        {"role": {"text": "recipient"}, "reference": {"reference": "Organization/x"}}
    ]
    assert not ask([named], approved=AT).permit


def test_a_consent_the_portal_cannot_read_denies():
    given = {**donation(), "modifierExtension": [{"url": "http://x", "valueBoolean": True}]}
    refused = ask([given], approved=RECORDED)
    assert not refused.permit and refused.provision.endswith("#modifierExtension")


def test_a_provision_naming_the_dataset_or_its_condition_applies_to_it():
    base = {"resourceType": "Consent", "id": "c", "status": "active", "decision": "permit"}
    dataset = {"reference": {"identifier": {"system": DATASET_SYSTEM, "value": "ds-1"}}}
    without_dataset = [{**base, "provision": [{"data": [dataset]}]}]
    assert not ask(without_dataset).permit
    other = {"reference": {"identifier": {"system": DATASET_SYSTEM, "value": "ds-2"}}}
    assert ask([{**base, "provision": [{"data": [other]}]}]).permit
    only_breast = {
        **base,
        "decision": "deny",
        "provision": [{"code": [{"text": "Breast  Cancer"}]}],
    }
    assert ask([only_breast], conditions=frozenset({"breast cancer"}), approved=AT).permit
    assert not ask([only_breast], conditions=frozenset({"lung cancer"}), approved=AT).permit


def test_purposes_read_narrowly_in_a_permission_and_broadly_in_a_denial():
    codings = [
        {"system": EHDS_PURPOSE_SYSTEM, "code": "research"},
        {"system": DUO_SYSTEM, "code": duo.NCU},
    ]
    permission = {
        "resourceType": "Consent",
        "id": "c",
        "status": "active",
        "decision": "deny",
        "provision": [{"purpose": codings}],
    }
    # Permitted: research and non-commercial, both.
    assert ask([permission], duo_codes={duo.NCU}, approved=AT).permit
    assert not ask([permission], approved=AT).permit
    assert not ask([permission], purpose="education", duo_codes={duo.NCU}, approved=AT).permit
    # Denied: research or non-commercial, either.
    denial = {**permission, "decision": "permit"}
    assert not ask([denial]).permit
    assert not ask([denial], purpose="education", duo_codes={duo.NCU}).permit
    assert ask([denial], purpose="education").permit
