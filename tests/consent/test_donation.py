"""A citizen donates, changes their donation, withdraws it and gives it again; records an EHDS
opt-out and undoes it. Each step is a new immutable version of one Consent, valid FHIR R5, in
the audit chain; a refused step stores nothing."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from catalogue import duo
from consent import fhir, services
from consent.models import ConsentRecord, ConsentVersion
from portal.audit import verify_chain
from portal.models import AuditEvent
from portal.workflow import NotPermitted


def donate(donor, **choices):
    chosen = {
        "nodes": [donor.oslo],
        "categories": ["imaging"],
        "purposes": ["research"],
        "duo_codes": [duo.HMB],
    }
    return services.donation_create(citizen=donor.citizen, **{**chosen, **choices})


def consent_events():
    return list(
        AuditEvent.objects.filter(action__startswith="consent.")
        .exclude(action__startswith="consent.link")
        .order_by("seq")
        .values_list("action", "object_id", "details")
    )


def nothing_stored():
    return (
        not ConsentRecord.objects.exists()
        and not ConsentVersion.objects.exists()
        and consent_events() == []
    )


def test_a_donation_is_stored_whole_as_a_first_version(donor):
    version = donate(donor, until=date(2031, 6, 30))
    record = version.record
    assert (record.owner, record.kind, record.current_version) == (
        donor.citizen,
        "donation",
        1,
    )
    resource = ConsentVersion.objects.get(pk=version.pk).resource
    assert fhir.validate(resource)[1] == []
    assert resource["id"] == record.id
    assert resource["meta"]["versionId"] == "1"
    assert resource["subject"] == {"reference": f"Patient/{donor.citizen.pseudonym}"}
    assert resource["period"]["end"] == "2031-06-30"
    assert (version.status, version.decision, version.purposes, version.duo_codes) == (
        "active",
        "permit",
        ["research"],
        [duo.HMB],
    )
    assert version.node_ids == [donor.oslo.audience]
    assert version.categories == ["imaging"]
    assert version.written_by == donor.citizen
    assert consent_events() == [
        (
            "consent.donation.created",
            record.id,
            {"kind": "donation", "version": 1, "status": "active"},
        )
    ]
    assert verify_chain().ok


def test_change_withdraw_and_donate_again_are_new_versions(donor):
    first = donate(donor)
    record = first.record
    second = services.donation_change(
        record=record,
        citizen=donor.citizen,
        nodes=[donor.oslo, donor.valencia],
        categories=["imaging", "clinical"],
        purposes=["research", "education"],
        duo_codes=[duo.GRU, duo.NCU],
    )
    third = services.donation_withdraw(record=record, citizen=donor.citizen)
    fourth = services.donation_change(
        record=record,
        citizen=donor.citizen,
        nodes=[donor.valencia],
        categories=["imaging"],
        purposes=["public_health"],
    )
    versions = list(ConsentVersion.objects.filter(record=record).order_by("version"))
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert [v.status for v in versions] == ["active", "active", "inactive", "active"]
    assert {v.decision for v in versions} == {"permit"}  # withdrawing keeps the decision
    assert versions[0].resource == first.resource  # earlier versions stay as they were
    assert versions[1].node_ids == [donor.oslo.audience, donor.valencia.audience]
    withdrawn = versions[2].resource
    assert withdrawn["provision"] == second.resource["provision"]
    assert fhir.columns(withdrawn).period_end <= timezone.now()
    assert versions[3].purposes == ["public_health"]
    assert ConsentRecord.objects.get(pk=record.pk).current_version == 4
    for version in versions:
        assert fhir.validate(version.resource)[1] == [], version.version
    assert [e[0] for e in consent_events()] == [
        "consent.donation.created",
        "consent.donation.changed",
        "consent.donation.withdrawn",
        "consent.donation.changed",
    ]
    assert third.version == 3 and fourth.version == 4


def test_withdrawing_twice_is_refused(donor):
    record = donate(donor).record
    services.donation_withdraw(record=record, citizen=donor.citizen)
    with pytest.raises(services.ConsentConflict):
        services.donation_withdraw(record=record, citizen=donor.citizen)
    assert ConsentVersion.objects.filter(record=record).count() == 2


def test_a_second_donation_is_refused(donor):
    donate(donor)
    with pytest.raises(services.ConsentConflict) as refused:
        donate(donor)
    assert refused.value.code == "duplicate"
    assert ConsentRecord.objects.count() == 1


@pytest.mark.parametrize(
    ("choices", "field"),
    [
        ({"nodes": []}, "nodes"),
        ({"categories": ["genomic"]}, "categories"),
        ({"purposes": []}, "purposes"),
        ({"purposes": ["marketing"]}, "purposes"),
        ({"duo_codes": [duo.MOR]}, "duo_codes"),  # a moratorium needs terms a donor cannot set
        ({"until": date.today() - timedelta(days=2)}, "until"),
        ({"duo_codes": [duo.DS]}, "disease"),  # research on one disease names it
        ({"disease": "breast cancer"}, "disease"),  # a disease without DS limits nothing
        ({"duo_codes": [duo.DS], "disease": "x" * 101}, "disease"),
        ({"duo_codes": [duo.DS], "disease": "<b>breast</b>"}, "disease"),
    ],
)
def test_a_donation_the_citizen_could_not_mean_stores_nothing(donor, choices, field):
    with pytest.raises(ValidationError) as refused:
        donate(donor, **choices)
    assert field in refused.value.message_dict
    assert nothing_stored()


def test_a_donation_names_only_nodes_where_the_citizen_linked_their_images(donor, catalogue):
    from consent.models import DonorLink

    DonorLink.objects.filter(node=donor.valencia).delete()
    with pytest.raises(ValidationError) as refused:
        donate(donor, nodes=[donor.oslo, donor.valencia])
    assert "Valencia imaging node" in refused.value.message_dict["nodes"][0]
    assert nothing_stored()


def test_only_citizens_donate_and_only_their_own(donor, personas):
    with pytest.raises(NotPermitted):
        services.donation_create(
            citizen=personas["researcher"],
            nodes=[donor.oslo],
            categories=["imaging"],
            purposes=["research"],
        )
    assert nothing_stored()
    record = donate(donor).record
    other = personas["researcher"]
    with pytest.raises(NotPermitted):
        services.donation_withdraw(record=record, citizen=other)
    with pytest.raises(NotPermitted):
        services.opt_out_revoke(record=record, citizen=other)
    assert ConsentVersion.objects.filter(record=record).count() == 1


def test_an_opt_out_is_recorded_undone_and_recorded_again(donor):
    citizen = donor.citizen
    first = services.opt_out_record(citizen=citizen)
    record = first.record
    assert (record.kind, first.decision, first.status) == ("opt_out", "deny", "active")
    assert "provision" not in first.resource  # every purpose
    with pytest.raises(services.ConsentConflict):
        services.opt_out_record(citizen=citizen)
    revoked = services.opt_out_revoke(record=record, citizen=citizen)
    assert (revoked.status, revoked.decision) == ("inactive", "deny")
    with pytest.raises(services.ConsentConflict):
        services.opt_out_revoke(record=record, citizen=citizen)
    again = services.opt_out_record(citizen=citizen)
    assert (again.record_id, again.version, again.status) == (record.id, 3, "active")
    assert "end" not in again.resource["period"]
    assert [e[0] for e in consent_events()] == [
        "consent.opt_out.recorded",
        "consent.opt_out.revoked",
        "consent.opt_out.recorded",
    ]
    for version in ConsentVersion.objects.all():
        assert fhir.validate(version.resource)[1] == []


def test_a_donation_and_an_opt_out_are_two_consents(donor):
    donation = donate(donor)
    opt_out = services.opt_out_record(citizen=donor.citizen)
    assert donation.record_id != opt_out.record_id
    with pytest.raises(services.ConsentConflict):
        services.donation_withdraw(record=opt_out.record, citizen=donor.citizen)
    with pytest.raises(services.ConsentConflict):
        services.opt_out_revoke(record=donation.record, citizen=donor.citizen)


def test_a_donation_for_research_on_one_disease_permits_only_that_disease(donor):
    """The disease becomes the donated provision's ``code``, which the policy engine matches
    against a dataset's conditions: breast MRI yes, lung CT no, and no wider use either."""
    from consent.selectors import decide_for_subject

    version = donate(
        donor, nodes=[donor.oslo, donor.valencia], duo_codes=[duo.DS], disease=" Breast  Cancer "
    )
    assert fhir.validate(version.resource)[1] == []
    donated = version.resource["provision"][0]["provision"][0]
    assert donated["code"] == [{"text": "Breast Cancer"}]
    assert fhir.donation_choices(version.resource).disease == "Breast Cancer"

    def verdict(node, subject, dataset, codes):
        return decide_for_subject(
            node_pk=node.pk, subject=subject, dataset=dataset, purpose="research",
            duo_codes=frozenset(codes),
        ).permit  # fmt: skip

    assert verdict(donor.oslo, "oslo-7", donor.breast, {duo.DS})
    assert not verdict(donor.valencia, "val-3", donor.lung, {duo.DS})
    assert not verdict(donor.oslo, "oslo-7", donor.breast, {duo.HMB})
