"""What the citizen reads of their choices: a prohibition is never shown as a permission, the
history tells replaced versions from the one in force, an opt-out is revoked (not withdrawn),
the dashboard says when an opt-out overrides the donation, and each message fits what
happened."""

import pytest
from django.urls import reverse

from catalogue import duo
from consent import fhir, services
from consent.models import ConsentRecord
from tests.consent.test_pages import DASHBOARD, _donation_data, _stored, _text

PAGES = (DASHBOARD, "/consent/donation/", "/consent/history/")


def _section(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


@pytest.fixture
def citizen_client(client_for, donor):
    return client_for("citizen")


def test_never_for_methods_research_is_not_shown_as_a_purpose(citizen_client, donor):
    chosen = _donation_data(donor, purposes=["public_health"], research="", conditions=[duo.NMDS])
    assert citizen_client.post(reverse("consent:donation_form"), chosen).status_code == 302
    for url in PAGES:
        text = _text(citizen_client.get(url))
        purposes = _section(text, " For ", " Conditions ")
        assert "Protecting public health" in purposes, url
        assert "Art 53(1)(e)" not in purposes, url
        conditions = _section(text, " Conditions ", "Never to develop")
        assert "None" not in conditions, url
        assert "Never to develop general research methods (such as new products or AI)" in text


def test_never_for_ancestry_research_is_not_shown_as_ancestry_research_only(citizen_client, donor):
    chosen = _donation_data(donor, conditions=[duo.NPOA])
    citizen_client.post(reverse("consent:donation_form"), chosen)
    for url in PAGES:
        text = _text(citizen_client.get(url))
        assert "Never for research on population origins or ancestry" in text, url
        assert "ancestry research only" not in text, url


def test_a_donation_written_through_the_fhir_api_lists_its_denials_as_never(citizen_client, donor):
    """A donation of another shape than the portal's: what it permits, and what it denies."""
    research = {"system": fhir.EHDS_PURPOSE_SYSTEM, "code": "research"}
    methods = {"system": fhir.EHDS_PURPOSE_SYSTEM, "code": "research_ai"}
    resource = {
        "resourceType": "Consent",
        "status": "active",
        "subject": {"reference": f"Patient/{donor.citizen.pseudonym}"},
        "decision": "permit",
        # Permit, except everything, except research, except AI research.
        "provision": [
            {"provision": [{"purpose": [research], "provision": [{"purpose": [methods]}]}]}
        ],
    }
    services.consent_write_fhir(resource=resource, actor=donor.citizen)
    text = _text(citizen_client.get(DASHBOARD))
    purposes = _section(text, " For ", " Conditions ")
    assert "Scientific research on health or care" in purposes
    assert "Art 53(1)(e)(ii)" not in purposes
    assert "Never for: Research to train, test and evaluate computer programs" in text


def test_the_history_says_which_version_is_in_force_and_when_the_others_were_replaced(
    citizen_client, donor
):
    url = reverse("consent:donation_form")
    for purposes in (["research"], ["research", "education"], ["education"]):
        citizen_client.post(url, _donation_data(donor, purposes=purposes, research=""))
    citizen_client.post(reverse("consent:opt_out_record"), {"confirmed": "yes"})
    citizen_client.post(reverse("consent:opt_out_revoke"), {"confirmed": "yes"})
    assert ConsentRecord.objects.get(kind="donation").current_version == 3
    text = _text(citizen_client.get(reverse("consent:history")))
    versions = {}
    for part in text.split("Download version")[:-1]:
        heading = part.rsplit("Data donation, version ", 1)
        if len(heading) == 1:
            heading = part.rsplit("Opt-out from secondary use, version ", 1)
            versions["opt-out " + heading[1][0]] = heading[1]
        else:
            versions["donation " + heading[1][0]] = heading[1]
    assert "· in force" in versions["donation 3"]
    for replaced in ("donation 1", "donation 2", "opt-out 1"):
        assert "· in force" not in versions[replaced], replaced
        assert "replaced on " in versions[replaced], replaced
        assert "Replaced on " in versions[replaced], replaced
        assert "You donate your data as described below." not in versions[replaced]
        assert "You opted out of the secondary use" not in versions[replaced]
    assert "· revoked" in versions["opt-out 2"]


def test_an_opt_out_lasts_until_revoked(citizen_client):
    citizen_client.post(reverse("consent:opt_out_record"), {"confirmed": "yes"})
    text = _text(citizen_client.get(DASHBOARD))
    opt_out = text.split("Opt-out from secondary use", 1)[1]
    assert "until revoked." in opt_out and "until withdrawn" not in opt_out


def test_donating_again_after_a_withdrawal_says_so(citizen_client, donor):
    url = reverse("consent:donation_form")
    citizen_client.post(url, _donation_data(donor))
    citizen_client.post(reverse("consent:donation_withdraw"), {"confirmed": "yes"})
    assert "Donate again" in _text(citizen_client.get(url))
    citizen_client.post(url, _donation_data(donor))
    text = _text(citizen_client.get(DASHBOARD))
    assert "you donate your data again" in text
    assert "Your donation is changed." not in text


def test_the_kind_of_research_is_summarised_without_the_form_s_wording(citizen_client, donor):
    chosen = _donation_data(donor, research=duo.DS, disease="breast cancer")
    citizen_client.post(reverse("consent:donation_form"), chosen)
    text = _text(citizen_client.get(DASHBOARD))
    summary = _section(text, "Your donation", "Change my donation")
    assert "Research on one disease only" in summary
    assert "name it below" not in summary
    assert "The disease: breast cancer." in summary


def test_the_dashboard_says_an_opt_out_overrides_the_donation_for_later_permits(
    citizen_client, donor
):
    citizen_client.post(reverse("consent:donation_form"), _donation_data(donor))
    assert "overrides this donation" not in _text(citizen_client.get(DASHBOARD))
    citizen_client.post(reverse("consent:opt_out_record"), {"confirmed": "yes"})
    text = _text(citizen_client.get(DASHBOARD))
    donation = _section(text, "Your donation", "Change my donation")
    assert "You donate your data as described below." in donation
    assert "You have also opted out of secondary use, since" in donation
    assert "your opt-out overrides this donation for every permit approved from that day on" in (
        donation
    )
    citizen_client.post(reverse("consent:opt_out_revoke"), {"confirmed": "yes"})
    assert "overrides this donation" not in _text(citizen_client.get(DASHBOARD))


def test_a_disease_too_long_gets_one_error_only(citizen_client, donor):
    before = _stored()
    response = citizen_client.post(
        reverse("consent:donation_form"),
        _donation_data(donor, research=duo.DS, disease="x" * 101),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["disease"]
    assert len(errors) == 1 and "at most 100 characters" in errors[0]
    assert "Name the disease" not in _text(response)
    assert _stored() == before
