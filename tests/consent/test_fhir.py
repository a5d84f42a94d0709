"""Every Consent is checked as FHIR R5 before it is stored: the structure with fhir.resources,
and what fhir.resources leaves out (the required bindings, per-1, FHIR JSON rules, narrative,
contained resources, the portal's own rules). Each problem is reported where it is, as an
OperationOutcome says it."""

import copy
from datetime import UTC, date, datetime

import pytest
from fhir.resources.consent import Consent

from consent import fhir
from consent.terms import DUO_SYSTEM, EHDS_PURPOSE_SYSTEM
from tests.consent.r5_examples import EXAMPLES, example

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
OSLO = fhir.NodeRef("urn:ecii:node:oslo", "Oslo imaging node")


def donation(**overrides):
    choices = {
        "consent_id": "d1",
        "pseudonym": "p-0123456789abcdef",
        "at": NOW,
        "until": date(2030, 12, 31),
        "nodes": [OSLO],
        "categories": ["imaging"],
        "purposes": ["research"],
        "duo_codes": ["DUO:0000006", "DUO:0000046", "DUO:0000044"],
        "controller": fhir.Controller("HDAB", "https://hdab.example.org/"),
    }
    return fhir.with_meta(fhir.donation(**{**choices, **overrides}), version=1, at=NOW)


def issues_of(resource):
    model, issues = fhir.validate(resource)
    assert (model is None) == bool(issues)
    return {(i.expression, i.code) for i in issues}, [i.message for i in issues]


def test_the_portal_s_donation_and_opt_out_are_valid_r5():
    opt_out = fhir.opt_out(
        consent_id="o1", pseudonym="p-1", at=NOW, controller=fhir.Controller("HDAB")
    )
    for resource in (donation(), opt_out, fhir.ended(donation(), NOW), fhir.ended(opt_out, NOW)):
        model, issues = fhir.validate(resource)
        assert issues == []
        assert isinstance(model, Consent)
        assert Consent.model_validate(resource).status == resource["status"]


def test_the_donation_has_the_elements_the_issue_asks_for():
    resource = donation()
    assert resource["status"] == "active"
    assert resource["category"][0]["coding"][0]["code"] == "59284-0"
    assert resource["subject"] == {"reference": "Patient/p-0123456789abcdef"}
    assert resource["grantor"] == [resource["subject"]]
    assert resource["date"] == "2026-03-01"
    assert resource["period"] == {"start": "2026-03-01T09:30:00.000000Z", "end": "2030-12-31"}
    assert resource["controller"][0]["display"] == "HDAB"
    assert resource["policyBasis"] == {"url": "http://data.europa.eu/eli/reg/2025/327/oj"}
    assert resource["decision"] == "permit"
    donated = resource["provision"][0]["provision"][0]
    assert donated["actor"][0]["reference"]["identifier"]["value"] == "urn:ecii:node:oslo"
    assert {(c["system"], c["code"]) for c in donated["purpose"]} == {
        (EHDS_PURPOSE_SYSTEM, "research"),
        (DUO_SYSTEM, "DUO:0000006"),
        (DUO_SYSTEM, "DUO:0000046"),
    }
    assert [t["code"] for t in donated["resourceType"]] == ["ImagingStudy", "ImagingSelection"]
    # NPOA (no population origins or ancestry research) is a denial nested in the donation.
    assert donated["provision"] == [{"purpose": [{"system": DUO_SYSTEM, "code": "DUO:0000011"}]}]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_it_accepts_consents_written_to_the_r5_specification(name):
    resource = example(name)
    model, issues = fhir.validate(resource)
    assert issues == []
    assert model.model_dump(mode="json")["id"] == resource["id"]


def test_the_choices_behind_a_donation_are_read_back():
    choices = fhir.donation_choices(donation())
    assert choices == fhir.DonationChoices(
        nodes=("urn:ecii:node:oslo",),
        categories=("imaging",),
        purposes=("research",),
        duo_codes=("DUO:0000006", "DUO:0000046", "DUO:0000044"),
        until=date(2030, 12, 31),
    )
    open_ended = donation(until=None, categories=["imaging", "clinical"], duo_codes=["DUO:0000015"])
    assert fhir.donation_choices(open_ended).until is None
    assert fhir.donation_choices(open_ended).categories == ("imaging", "clinical")
    assert fhir.donation_choices(open_ended).duo_codes == ("DUO:0000015",)
    assert fhir.donation_choices(example("not-this")) is None
    assert fhir.donation_choices(example("opt-out")) is None


def test_the_columns_are_copied_from_the_resource():
    columns = fhir.columns(donation())
    assert columns.status == "active"
    assert columns.decision == "permit"
    assert columns.subject == "p-0123456789abcdef"
    assert columns.period_start == NOW
    assert columns.period_end == datetime(2031, 1, 1, tzinfo=UTC)  # 2030-12-31 is included
    assert columns.purposes == ["research"]
    assert columns.duo_codes == ["DUO:0000006", "DUO:0000046", "DUO:0000011"]
    assert columns.categories == ["imaging"]
    assert columns.node_ids == ["urn:ecii:node:oslo"]
    assert columns.rules_digest == fhir.columns(donation(consent_id="other")).rules_digest
    assert columns.rules_digest != fhir.columns(donation(purposes=["education"])).rules_digest


def _with(path, value, resource=None):
    resource = copy.deepcopy(resource or donation())
    *parents, last = path
    here = resource
    for key in parents:
        here = here[key]
    if value is _DROP:
        del here[last]
    else:
        here[last] = value
    return resource


_DROP = object()
DONATED = ("provision", 0, "provision", 0)


@pytest.mark.parametrize(
    ("path", "value", "expression", "code"),
    [
        (("status",), "proposed", "Consent.status", "code-invalid"),  # R4's code, not R5's
        (("status",), _DROP, "Consent.status", "required"),
        (("decision",), "maybe", "Consent.decision", "code-invalid"),
        (("decision",), _DROP, "Consent.decision", "required"),
        (("period",), {"start": "2026-03-01", "end": "2026-02-28"}, "Consent.period", "invariant"),
        (
            (*DONATED, "provision", 0, "purpose", 0, "code"),
            "DUO:9999999",
            "Consent.provision[0].provision[0].provision[0].purpose[0].code",
            "code-invalid",
        ),
        (
            (*DONATED, "purpose", 0, "code"),
            "marketing",
            "Consent.provision[0].provision[0].purpose[0].code",
            "code-invalid",
        ),
        (
            (*DONATED, "resourceType", 0, "code"),
            "Coding",  # a data type, not a resource type
            "Consent.provision[0].provision[0].resourceType[0].code",
            "code-invalid",
        ),
        (
            (*DONATED, "action", 0, "coding", 0, "code"),
            "sell",
            "Consent.provision[0].provision[0].action[0].coding[0].code",
            "code-invalid",
        ),
        (
            (*DONATED, "period"),
            {"start": "2027", "end": "2026-12-31"},
            "Consent.provision[0].provision[0].period",
            "invariant",
        ),
        (("subject",), {"reference": "Group/everyone"}, "Consent.subject", "business-rule"),
        (("subject",), _DROP, "Consent.subject", "business-rule"),
        (("colour",), "blue", "Consent.colour", "structure"),  # not an element of Consent
        (
            (*DONATED, "purpose", 0, "system"),
            42,
            "Consent.provision[0].provision[0].purpose[0].system",
            "structure",
        ),
        (("period", "start"), 20260301, "Consent.period.start", "structure"),  # not a string
        (("date",), "2026-03-01T10:00:00Z", "Consent.date", "value"),  # R5 date, not dateTime
        (("category",), [], "Consent.category", "invalid"),  # empty arrays are not FHIR JSON
        (("grantor",), None, "Consent.grantor", "invalid"),  # nor nulls
        (("controller", 0, "display"), "  ", "Consent.controller[0].display", "invalid"),
        (("controller", 0, "display"), "HDAB\x00", "Consent.controller[0].display", "invalid"),
        (
            ("modifierExtension",),
            [{"url": "http://example.org/unless", "valueBoolean": True}],
            "Consent.modifierExtension",
            "not-supported",
        ),
        (("implicitRules",), "http://example.org/rules", "Consent.implicitRules", "not-supported"),
    ],
)
def test_it_refuses_an_invalid_consent_and_says_where(path, value, expression, code):
    found, messages = issues_of(_with(path, value))
    assert (expression, code) in found, (found, messages)


def test_it_refuses_what_is_not_a_consent():
    assert issues_of([])[0] == {("", "structure")}
    assert issues_of({"resourceType": "Patient", "id": "x"})[0] == {("resourceType", "structure")}
    assert issues_of({**donation(), "contained": [{"id": "x"}]})[0] >= {
        ("Consent.contained[0]", "structure")
    }


def test_fhir_resources_own_errors_become_issues():
    found, _messages = issues_of({**donation(), "contained": [{"resourceType": "NoSuchType"}]})
    assert found == {("Consent", "invalid")}


def test_it_refuses_a_resource_nested_too_deep():
    provision: dict = {"purpose": [{"code": "x"}]}
    for _ in range(40):
        provision = {"provision": [provision]}
    found, messages = issues_of({**donation(), "provision": [provision]})
    assert len(found) == 1 and "deeper" in messages[0]


@pytest.mark.parametrize(
    ("div", "problem"),
    [
        ("<p>no wrapper</p>", "div"),
        ('<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script>x</div>', "script"),
        ('<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">x</p></div>', "onclick"),
        ('<div xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:x()">x</a></div>', "link"),
        ('<div xmlns="http://www.w3.org/1999/xhtml"> </div>', "empty"),
        ('<div xmlns="http://www.w3.org/1999/xhtml"><p>unclosed</div>', "well-formed"),
        (
            '<!DOCTYPE x [<!ENTITY a "b">]><div xmlns="http://www.w3.org/1999/xhtml">&a;</div>',
            "type",
        ),
    ],
)
def test_it_refuses_narrative_with_active_content(div, problem):
    found, messages = issues_of({**donation(), "text": {"status": "generated", "div": div}})
    assert found == {("Consent.text.div", "invariant")}
    assert problem in messages[0]


def test_contained_resources_follow_the_dom_rules():
    grantor = example("grantor")
    unreferenced = copy.deepcopy(grantor)
    unreferenced["grantor"] = [{"reference": "Patient/f001"}]
    unreferenced["provision"][0]["actor"].pop()
    assert ("Consent.contained[0]", "invariant") in issues_of(unreferenced)[0]
    versioned = copy.deepcopy(grantor)
    versioned["contained"][0]["meta"] = {"versionId": "2"}
    assert ("Consent.contained[0].meta", "invariant") in issues_of(versioned)[0]
    dangling = copy.deepcopy(grantor)
    dangling["grantee"] = [{"reference": "#nobody"}]
    assert ("Consent", "invalid") in issues_of(dangling)[0]


def test_the_operation_outcome_lists_every_issue():
    outcome = fhir.operation_outcome(fhir.validate(_with(("status",), "proposed"))[1])
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"] == [
        {
            "severity": "error",
            "code": "code-invalid",
            "diagnostics": outcome["issue"][0]["diagnostics"],
            "expression": ["Consent.status"],
        }
    ]
    assert "'proposed' is not an R5 Consent status" in outcome["issue"][0]["diagnostics"]


def test_ending_a_consent_keeps_an_earlier_end():
    expired = donation(until=date(2026, 2, 1))
    ended = fhir.ended(expired, NOW)
    assert ended["status"] == "inactive"
    assert ended["period"]["end"] == "2026-02-01"
    withdrawn = fhir.ended(donation(), NOW)
    assert withdrawn["period"]["end"] == "2026-03-01T09:30:00.000000Z"
    assert {k: v for k, v in withdrawn.items() if k not in {"status", "period"}} == {
        k: v for k, v in donation().items() if k not in {"status", "period"}
    }
