"""The kind of research a donor chooses (GRU, HMB or DS) limits their research purposes only: a
use for public health, which declares no kind of research, is allowed by a donation for public
health and health research. The same answer from the engine, the committee's counts and a
node's exclusions; donations recorded before, with one provision for every purpose, keep their
reading and stay readable."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from catalogue import duo
from consent import fhir, services, wording
from consent.models import ConsentVersion
from consent.selectors import allowed_counts, decide_for_subject, exclusion_set
from tests.consent.test_pages import _text

DEMO_CHOICES = {
    "categories": ["imaging", "clinical"],
    "purposes": ["research", "public_health"],
    "duo_codes": [duo.HMB, duo.NCU],
}


def _permits(donor, purpose, codes):
    return decide_for_subject(
        node_pk=donor.oslo.pk, subject="oslo-7", dataset=donor.breast, purpose=purpose,
        duo_codes=frozenset(codes),
    ).permit  # fmt: skip


def test_a_public_health_use_is_not_read_as_research_of_no_kind(donor):
    """The demo donation: public health and health research, not commercial."""
    version = services.donation_create(citizen=donor.citizen, nodes=[donor.oslo], **DEMO_CHOICES)
    assert fhir.validate(version.resource)[1] == []
    assert _permits(donor, "public_health", {duo.NCU})
    assert not _permits(donor, "public_health", set())  # still not commercial only
    assert _permits(donor, "research", {duo.HMB, duo.NCU})
    assert not _permits(donor, "research", {duo.NCU})  # research of no stated kind
    assert not _permits(donor, "research", {duo.GRU, duo.NCU})  # wider than health research
    assert not _permits(donor, "research_ai", {duo.POA, duo.NCU})
    assert not _permits(donor, "education", {duo.HMB, duo.NCU})


def test_the_committee_s_counts_and_the_exclusions_agree_with_the_engine(donor):
    services.donation_create(citizen=donor.citizen, nodes=[donor.oslo], **DEMO_CHOICES)
    use = {"datasets": [donor.breast], "purpose": "public_health", "duo_codes": {duo.NCU}}
    counts = allowed_counts(**use)[donor.breast.pk]
    # oslo-7 donated; oslo-8 and oslo-9 have no consent (CONSENT_DEFAULT permits in tests).
    assert "oslo-7" not in exclusion_set(**use)[donor.breast.pk]
    narrower = {**use, "duo_codes": set()}
    assert "oslo-7" in exclusion_set(**narrower)[donor.breast.pk]
    assert allowed_counts(**narrower)[donor.breast.pk].allowed == counts.allowed - 1


def test_the_donation_writes_the_kind_with_the_research_purposes_only(donor):
    version = services.donation_create(
        citizen=donor.citizen, nodes=[donor.oslo], categories=["imaging"],
        purposes=["public_health", "research_ai"], duo_codes=[duo.DS, duo.NCU, duo.NPOA],
        disease="breast cancer",
    )  # fmt: skip
    research, others = version.resource["provision"][0]["provision"]
    assert [c["code"] for c in research["purpose"]] == ["research_ai", duo.DS, duo.NCU]
    assert research["code"] == [{"text": "breast cancer"}]
    assert [c["code"] for c in others["purpose"]] == ["public_health", duo.NCU]
    assert "code" not in others
    assert research["provision"] == others["provision"]  # never ancestry research, in both
    choices = fhir.donation_choices(version.resource)
    assert choices.purposes == ("public_health", "research_ai")
    assert set(choices.duo_codes) == {duo.DS, duo.NCU, duo.NPOA}
    assert choices.disease == "breast cancer" and not choices.limits_every_purpose


def test_without_a_research_purpose_the_kind_limits_nothing(donor):
    version = services.donation_create(
        citizen=donor.citizen, nodes=[donor.oslo], categories=["imaging"],
        purposes=["education"], duo_codes=[duo.GRU],
    )  # fmt: skip
    assert _permits(donor, "education", set())
    assert not _permits(donor, "research", {duo.GRU})
    assert fhir.donation_choices(version.resource).duo_codes == ()


def test_the_form_says_the_kind_limits_research_only(client_for, donor):
    page = _text(client_for("citizen").get(reverse("consent:donation_form")))
    assert "This limits the research purposes only" in page
    assert "the other purposes you chose are not limited by it" in page


def _old_shape(donor):
    """A donation as the portal wrote it before: one provision for every purpose and the
    kind of research."""
    resource = fhir.donation(
        consent_id="ignored", pseudonym=donor.citizen.pseudonym, at=timezone.now(), until=None,
        nodes=[fhir.NodeRef(donor.oslo.audience, donor.oslo.name)], categories=["imaging"],
        purposes=["research"], duo_codes=[duo.HMB, duo.NCU],
        controller=fhir.Controller("Health data access body"),
    )  # fmt: skip
    donated = resource["provision"][0]["provision"][0]
    donated["purpose"].insert(1, {"system": fhir.EHDS_PURPOSE_SYSTEM, "code": "public_health"})
    return services.consent_write_fhir(resource=resource, actor=donor.citizen)


def test_a_donation_recorded_before_keeps_its_reading_and_says_so(client_for, donor):
    version = _old_shape(donor)
    assert not _permits(donor, "public_health", {duo.NCU})  # as it was recorded
    assert _permits(donor, "public_health", {duo.HMB, duo.NCU})
    choices = fhir.donation_choices(version.resource)
    assert choices.purposes == ("research", "public_health")
    assert choices.limits_every_purpose
    client = client_for("citizen")
    page = client.get(reverse("consent:donation_form"))
    assert page.context["form"].initial["research"] == duo.HMB
    assert "it limits every purpose above" in _text(page)
    summary = wording.summarise(version, {})
    assert summary.research == "Health or medical research only"

    # Saved again through the form, the kind limits research only.
    data = {
        "nodes": [str(donor.oslo.pk)], "categories": ["imaging"],
        "purposes": ["research", "public_health"], "research": duo.HMB,
        "conditions": [duo.NCU], "until": "", "disease": "",
    }  # fmt: skip
    assert client.post(reverse("consent:donation_form"), data).status_code == 302
    assert ConsentVersion.objects.filter(record=version.record).count() == 2
    later = timezone.now() + timedelta(seconds=1)
    assert decide_for_subject(
        node_pk=donor.oslo.pk, subject="oslo-7", dataset=donor.breast, purpose="public_health",
        duo_codes=frozenset({duo.NCU}), at=later,
    ).permit  # fmt: skip
