"""The citizen's consent pages and the node operator's link code page, through the test client:
what each form refuses and says, that nothing is stored on error, who reaches what, and the
number of queries of the history page."""

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from catalogue import duo
from consent import fhir, services
from consent.models import ConsentRecord, ConsentVersion, DonorLink, LinkCode
from portal.models import AuditEvent

DASHBOARD = "/dashboard/citizen/"


def _text(response) -> str:
    """The page as a reader sees it: tags removed, spaces collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _donation_data(donor, **overrides):
    data = {
        "nodes": [str(donor.oslo.pk), str(donor.valencia.pk)],
        "categories": ["imaging", "clinical"],
        "purposes": ["research"],
        "research": duo.HMB,
        "conditions": [duo.NCU, duo.NPOA],
        "until": "",
        "disease": "",
    }
    return {**data, **overrides}


def _stored() -> tuple[int, int, int]:
    return ConsentRecord.objects.count(), ConsentVersion.objects.count(), AuditEvent.objects.count()


@pytest.fixture
def citizen_client(client_for, donor):
    return client_for("citizen")


# ---------------------------------------------------------------------------------------------
# The dashboard


def test_the_dashboard_explains_sharing_and_lists_the_linked_images(citizen_client):
    text = _text(citizen_client.get(DASHBOARD))
    assert "What is shared, with whom, and how to stop it" in text
    assert "health data access body for a permit" in text
    assert "withdraw your donation in one step" in text
    assert "Oslo imaging node: your images there are named oslo-7" in text
    assert "Valencia imaging node: your images there are named val-3" in text
    assert "You have not donated your data." in text
    assert "You have not opted out." in text


def test_the_dashboard_summarises_the_donation_in_words(citizen_client, donor):
    services.donation_create(
        citizen=donor.citizen, nodes=[donor.oslo], categories=["imaging"],
        purposes=["research_ai"], duo_codes=[duo.DS, duo.NCU], disease="breast cancer",
        until=timezone.localdate() + timedelta(days=400),
    )  # fmt: skip
    text = _text(citizen_client.get(DASHBOARD))
    assert "You donate your data as described below." in text
    assert "Oslo imaging node" in text.split("Your donation")[1]
    assert "Research to train, test and evaluate computer programs, including AI" in text
    assert "Research on one disease only" in text
    assert "The disease: breast cancer." in text
    assert "Not for commercial use" in text
    assert "Change my donation" in text and "Withdraw my donation" in text


# ---------------------------------------------------------------------------------------------
# Donating and changing


def test_a_donation_made_through_the_form_is_stored_and_valid(citizen_client, donor):
    url = reverse("consent:donation_form")
    response = citizen_client.post(url, _donation_data(donor))
    assert response.status_code == 302 and response.url == DASHBOARD
    version = ConsentVersion.objects.get()
    assert fhir.validate(version.resource)[1] == []
    choices = fhir.donation_choices(version.resource)
    assert set(choices.nodes) == {donor.oslo.audience, donor.valencia.audience}
    assert set(choices.duo_codes) == {duo.HMB, duo.NCU, duo.NPOA}
    text = _text(citizen_client.get(DASHBOARD))
    assert "Thank you: your donation is recorded." in text


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"nodes": []}, "nodes", "Choose at least one hospital or node."),
        ({"categories": []}, "categories", "Choose at least one kind of data."),
        ({"purposes": []}, "purposes", "Choose at least one purpose."),
        ({"purposes": ["marketing"]}, "purposes", "Select a valid choice."),
        ({"research": duo.DS}, "disease", "Name the disease the research must be about."),
        ({"disease": "lung cancer"}, "disease", "Choose “Research on one disease only” above"),
        ({"until": "2001-01-01"}, "until", "The last day cannot be in the past."),
        ({"until": "tomorrow"}, "until", "Enter a valid date."),
        ({"conditions": [duo.MOR]}, "conditions", "Select a valid choice."),
    ],
)
def test_a_refused_donation_says_why_by_field_and_stores_nothing(
    citizen_client, donor, overrides, field, message
):
    before = _stored()
    response = citizen_client.post(
        reverse("consent:donation_form"), _donation_data(donor, **overrides)
    )
    assert response.status_code == 200
    assert message in response.context["form"].errors[field][0]
    assert "Please correct the fields marked below." in _text(response)
    assert _stored() == before


def test_a_node_the_citizen_did_not_link_cannot_be_chosen(citizen_client, donor, catalogue):
    DonorLink.objects.filter(node=donor.valencia).delete()
    before = _stored()
    response = citizen_client.post(reverse("consent:donation_form"), _donation_data(donor))
    assert response.status_code == 200
    assert "Select a valid choice" in response.context["form"].errors["nodes"][0]
    assert _stored() == before


def test_the_service_refusal_reaches_the_field_in_words(citizen_client, donor):
    """A refusal the form leaves to the service (markup in the disease's name) is shown on its
    field, in words, without paths into the FHIR resource."""
    before = _stored()
    response = citizen_client.post(
        reverse("consent:donation_form"),
        _donation_data(donor, research=duo.DS, disease="lung <b>cancer</b>"),
    )
    assert response.status_code == 200
    assert "plain text" in response.context["form"].errors["disease"][0]
    assert "Consent." not in _text(response)
    assert _stored() == before


def test_the_change_form_is_filled_in_with_the_current_choices(citizen_client, donor):
    until = timezone.localdate() + timedelta(days=30)
    services.donation_create(
        citizen=donor.citizen, nodes=[donor.valencia], categories=["clinical"],
        purposes=["public_health", "research"], duo_codes=[duo.DS, duo.IRB],
        disease="lung cancer", until=until,
    )  # fmt: skip
    form = citizen_client.get(reverse("consent:donation_form")).context["form"]
    assert form.initial == {
        "nodes": [donor.valencia.pk],
        "categories": ["clinical"],
        "purposes": ["public_health", "research"],
        "research": duo.DS,
        "disease": "lung cancer",
        "conditions": [duo.IRB],
        "until": until,
    }


def test_narrowing_a_donation_adds_a_version(citizen_client, donor):
    citizen_client.post(reverse("consent:donation_form"), _donation_data(donor))
    response = citizen_client.post(
        reverse("consent:donation_form"),
        _donation_data(donor, nodes=[str(donor.oslo.pk)], categories=["imaging"]),
    )
    assert response.status_code == 302
    record = ConsentRecord.objects.get()
    assert record.current_version == 2
    assert ConsentVersion.objects.get(record=record, version=2).node_ids == [donor.oslo.audience]
    assert "The earlier version stays in your history" in _text(citizen_client.get(DASHBOARD))


def test_without_linked_images_the_form_explains_how_to_link_them(client_for, another_citizen):
    from portal.models import User

    client = client_for("citizen")
    client.force_login(User.objects.get(username="second_citizen"))
    text = _text(client.get(reverse("consent:donation_form")))
    assert "ask the hospital that holds them for a link code" in text
    assert "Donate" in text and 'name="nodes"' not in text


# ---------------------------------------------------------------------------------------------
# Withdrawing and opting out


def test_withdrawing_asks_first_then_withdraws(citizen_client, donor):
    citizen_client.post(reverse("consent:donation_form"), _donation_data(donor))
    url = reverse("consent:donation_withdraw")
    asked = citizen_client.post(url)
    assert asked.status_code == 200
    assert "Withdraw your donation?" in _text(asked)
    assert ConsentRecord.objects.get().current_version == 1
    done = citizen_client.post(url, {"confirmed": "yes"})
    assert done.status_code == 302
    assert ConsentVersion.objects.get(version=2).status == "inactive"
    text = _text(citizen_client.get(DASHBOARD))
    assert "Your donation is withdrawn." in text
    assert "Donation withdrawn: your data may not be used." in text
    assert "Donate again" in text


def test_withdrawing_nothing_says_so(citizen_client):
    response = citizen_client.post(reverse("consent:donation_withdraw"), {"confirmed": "yes"})
    assert response.status_code == 302
    assert "You have no donation in force to withdraw." in _text(citizen_client.get(DASHBOARD))
    assert ConsentRecord.objects.count() == 0


def test_an_opt_out_is_recorded_and_revoked_after_confirmation(citizen_client):
    record_url = reverse("consent:opt_out_record")
    asked = _text(citizen_client.get(record_url))
    assert "Article 71(3)" in asked and "Permits approved before today" in asked
    assert ConsentRecord.objects.count() == 0
    citizen_client.post(record_url, {"confirmed": "yes"})
    text = _text(citizen_client.get(DASHBOARD))
    assert "You opted out of the secondary use of your data." in text
    assert "Revoke my opt-out" in text
    citizen_client.post(reverse("consent:opt_out_revoke"), {"confirmed": "yes"})
    text = _text(citizen_client.get(DASHBOARD))
    assert "Your opt-out is revoked." in text
    assert "Opt-out revoked: it no longer applies." in text
    assert [v.status for v in ConsentVersion.objects.order_by("version")] == [
        "active",
        "inactive",
    ]


# ---------------------------------------------------------------------------------------------
# History


def test_the_history_shows_every_version_with_its_date_and_its_resource(citizen_client, donor):
    citizen_client.post(reverse("consent:donation_form"), _donation_data(donor))
    citizen_client.post(reverse("consent:donation_withdraw"), {"confirmed": "yes"})
    response = citizen_client.get(reverse("consent:history"))
    text = _text(response)
    today = timezone.localtime().strftime("%-d %B %Y")
    assert "Data donation, version 2" in text and "Data donation, version 1" in text
    assert f"Recorded on {today}" in text
    assert "withdrawn" in text
    record = ConsentRecord.objects.get()
    download = citizen_client.get(reverse("consent:version_fhir", args=[record.pk, 1]))
    assert download["Content-Type"].startswith("application/fhir+json")
    resource = json.loads(download.content)
    assert resource["meta"]["versionId"] == "1" and resource["status"] == "active"


def test_the_history_page_takes_the_same_queries_for_many_versions(
    citizen_client, donor, django_assert_max_num_queries
):
    for purposes in (["research"], ["education"], ["research", "education"]) * 4:
        citizen_client.post(
            reverse("consent:donation_form"), _donation_data(donor, purposes=purposes)
        )
    assert ConsentVersion.objects.count() == 12
    with django_assert_max_num_queries(6):
        response = citizen_client.get(reverse("consent:history"))
    assert response.status_code == 200
    assert "Data donation, version 12" in _text(response)


def test_another_citizens_versions_are_not_found(client_for, donor, another_citizen):
    services.opt_out_record(citizen=another_citizen)
    record = ConsentRecord.objects.get(owner=another_citizen)
    url = reverse("consent:version_fhir", args=[record.pk, 1])
    assert client_for("citizen").get(url).status_code == 404
    assert "version 1" not in _text(client_for("citizen").get(reverse("consent:history")))


# ---------------------------------------------------------------------------------------------
# Links


def test_a_link_code_links_the_images(client_for, catalogue, personas):
    _code, code = services.link_code_issue(
        node=catalogue.own_node, subject="oslo-42", actor=personas["node_operator"]
    )
    client = client_for("citizen")
    response = client.post(reverse("consent:links"), {"code": code.lower()})
    assert response.status_code == 302
    assert "Your images at Oslo imaging node, named oslo-42 there, are linked" in _text(
        client.get(DASHBOARD)
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "Enter the code your hospital gave you."),
        ("ABCD-EFGH", "This is not a valid link code."),
        ("ABCD-EFGH-JKLM-NPQR", "This is not a valid link code."),
    ],
)
def test_a_wrong_link_code_is_refused_in_words(client_for, personas, code, message):
    client = client_for("citizen")
    before = DonorLink.objects.count(), AuditEvent.objects.count()
    response = client.post(reverse("consent:links"), {"code": code})
    assert response.status_code == 200
    assert message in _text(response)
    assert (DonorLink.objects.count(), AuditEvent.objects.count()) == before


def test_a_used_link_code_says_to_ask_for_a_new_one(client_for, donor, another_citizen):
    _code, code = services.link_code_issue(node=donor.oslo, subject="oslo-50", actor=donor.operator)
    services.link_code_redeem(citizen=another_citizen, code=code)
    response = client_for("citizen").post(reverse("consent:links"), {"code": code})
    assert "already used or replaced: ask the hospital for a new one" in _text(response)


def test_unlinking_asks_first(citizen_client, donor):
    link = DonorLink.objects.get(node=donor.valencia)
    url = reverse("consent:link_remove", args=[link.pk])
    assert "Unlink your images at Valencia imaging node?" in _text(citizen_client.get(url))
    assert DonorLink.objects.filter(pk=link.pk).exists()
    citizen_client.post(url, {"confirmed": "yes"})
    assert not DonorLink.objects.filter(pk=link.pk).exists()
    assert "are no longer linked" in _text(citizen_client.get(DASHBOARD))


def test_another_citizens_link_is_not_found(client_for, donor, another_citizen):
    _code, code = services.link_code_issue(node=donor.oslo, subject="oslo-51", actor=donor.operator)
    theirs = services.link_code_redeem(citizen=another_citizen, code=code)
    url = reverse("consent:link_remove", args=[theirs.pk])
    client = client_for("citizen")
    assert client.get(url).status_code == 404
    assert client.post(url, {"confirmed": "yes"}).status_code == 404
    assert DonorLink.objects.filter(pk=theirs.pk).exists()


# ---------------------------------------------------------------------------------------------
# The node operator's link codes


def test_an_operator_issues_a_code_shown_once(client_for, catalogue):
    client = client_for("node_operator")
    url = reverse("consent:link_codes", args=[catalogue.own_node.pk])
    response = client.post(url, {"subject": "oslo-77"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    code = re.search(r'<code id="link-code">([A-Z0-9-]+)</code>', response.content.decode())[1]
    assert LinkCode.objects.get().code_hash == services.hash_code(code.replace("-", ""))
    listed = client.get(url)
    assert "oslo-77" in _text(listed) and "Not used yet" in _text(listed)
    assert code not in listed.content.decode()


def test_an_operator_is_told_when_a_pseudonym_is_already_linked(client_for, donor):
    client = client_for("node_operator")
    url = reverse("consent:link_codes", args=[donor.oslo.pk])
    before = LinkCode.objects.count()
    response = client.post(url, {"subject": "oslo-7"})
    assert "This pseudonym is already linked to an account." in _text(response)
    assert LinkCode.objects.count() == before


def test_the_codes_list_is_paginated_with_bounded_queries(
    client_for, catalogue, personas, django_assert_max_num_queries
):
    for n in range(30):
        services.link_code_issue(
            node=catalogue.own_node, subject=f"oslo-{n}", actor=personas["node_operator"]
        )
    client = client_for("node_operator")
    url = reverse("consent:link_codes", args=[catalogue.own_node.pk])
    with django_assert_max_num_queries(8):
        response = client.get(url)
    assert "Page 1 of 2" in _text(response)


def test_other_nodes_codes_are_not_found(client_for, catalogue):
    url = reverse("consent:link_codes", args=[catalogue.other_node.pk])
    client = client_for("node_operator")
    assert client.get(url).status_code == 404
    assert client.post(url, {"subject": "val-9"}).status_code == 404
    assert LinkCode.objects.count() == 0


def test_the_dashboard_takes_a_bounded_number_of_queries(
    citizen_client, donor, django_assert_max_num_queries
):
    services.donation_create(
        citizen=donor.citizen, nodes=[donor.oslo, donor.valencia], categories=["imaging"],
        purposes=["research"], duo_codes=[duo.HMB],
    )  # fmt: skip
    services.opt_out_record(citizen=donor.citizen)
    with django_assert_max_num_queries(10):
        response = citizen_client.get(DASHBOARD)
    assert "You opted out of the secondary use of your data." in _text(response)
