"""Each node's consent exclusion list at the portal: kept in step with every consent change and
every permit in their transaction, one entry for one withdrawal; served to the node alone,
signed, whole or as a delta the node applies, 304 while nothing changed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from access import services
from access.models import ExclusionEntry, ExclusionListState, Permit
from access.node.exclusions import LIST_TYPE, ExclusionList
from access.node.reasons import Reason
from access.services.exclusions import current_entries
from catalogue import duo
from catalogue.models import Study
from consent import services as consent_services
from portal.models import Role
from tests.access.conftest import verify_published
from tests.factories import UserFactory

SUBJECTS = ["SUBJ-1", "SUBJ-2", "SUBJ-3"]


@pytest.fixture
def cohort(catalogue):
    """A study per subject in Oslo's published dataset."""
    for n, subject in enumerate(SUBJECTS, start=1):
        Study.objects.create(
            dataset=catalogue.published, study_instance_uid=f"1.2.826.0.1.9.{n}", subject=subject
        )


def linked_citizen(catalogue, personas, subject):
    """A citizen who linked ``subject`` at Oslo with the operator's code."""
    citizen = UserFactory(username=f"citizen-{subject.lower()}", roles=[Role.CITIZEN])
    _link, code = consent_services.link_code_issue(
        node=catalogue.own_node, subject=subject, actor=personas["node_operator"]
    )
    consent_services.link_code_redeem(citizen=citizen, code=code)
    return citizen


def donate(citizen, catalogue, **choices):
    chosen = {"purposes": ["research"], "duo_codes": [duo.HMB], **choices}
    return consent_services.donation_create(
        citizen=citizen, nodes=[catalogue.own_node], categories=["imaging"], **chosen
    )


def standing(node):
    return set(
        ExclusionEntry.objects.filter(node=node, removed_in__isnull=True).values_list(
            "kind", "permit", "subject", "earlier_permits"
        )
    )


def version(node) -> int:
    return ExclusionListState.objects.get(node=node).version


def fetch(client, nodes, node, **query):
    return client.get(
        f"/access/nodes/{node.audience}/exclusions",
        query,
        HTTP_AUTHORIZATION=nodes.oslo,
    )


def read(client, answer) -> dict:
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"] == "application/exclusionlist+jwt"
    return verify_published(answer.content.decode(), LIST_TYPE, client)


def test_an_approved_permit_is_known_with_the_subjects_its_use_is_not_allowed_for(
    catalogue, cohort, permit, personas
):
    oslo = catalogue.own_node
    narrow = linked_citizen(catalogue, personas, "SUBJ-1")
    # Donated for education only: the permit's research use is not allowed.
    donate(narrow, catalogue, purposes=["education"], duo_codes=[duo.GRU])
    assert standing(oslo) >= {
        (ExclusionEntry.Kind.PERMIT, permit.number, "", True),
        (ExclusionEntry.Kind.EXCLUDED, permit.number, "SUBJ-1", True),
    }
    assert not any(subject == "SUBJ-2" for _k, _p, subject, _e in standing(oslo))


def test_one_withdrawal_changes_one_entry_in_one_version(catalogue, cohort, permit, personas):
    oslo = catalogue.own_node
    citizen = linked_citizen(catalogue, personas, "SUBJ-2")
    donation = donate(citizen, catalogue)
    before, at = standing(oslo), version(oslo)
    assert not any(subject == "SUBJ-2" for _k, _p, subject, _e in before)

    consent_services.donation_withdraw(record=donation.record, citizen=citizen)
    assert version(oslo) == at + 1
    assert standing(oslo) - before == {(ExclusionEntry.Kind.SUBJECT, "", "SUBJ-2", True)}
    assert before - standing(oslo) == set()
    # Given again: the entry goes, in one more version.
    consent_services.donation_change(
        record=donation.record,
        citizen=citizen,
        nodes=[oslo],
        categories=["imaging"],
        purposes=["research"],
        duo_codes=[duo.HMB],
    )
    assert version(oslo) == at + 2 and standing(oslo) == before


def test_an_opt_out_spares_the_permits_approved_before_it(
    catalogue, cohort, permit, access, personas
):
    """EHDS Art 71(3): one subject entry that does not hold for earlier permits; a permit
    approved after it gets no entry of its own (the subject entry covers it)."""
    oslo = catalogue.own_node
    # Approved an hour ago (times are compared to the second, and a tie refuses).
    Permit.objects.filter(pk=permit.pk).update(issued_at=timezone.now() - timedelta(hours=1))
    permit.refresh_from_db()
    citizen = linked_citizen(catalogue, personas, "SUBJ-3")
    consent_services.opt_out_record(citizen=citizen)
    entry = ExclusionEntry.objects.get(
        node=oslo, kind=ExclusionEntry.Kind.SUBJECT, removed_in__isnull=True
    )
    assert (entry.subject, entry.earlier_permits) == ("SUBJ-3", False)
    exclusions = ExclusionList.of(oslo.audience, 1, current_entries(oslo))
    earlier = int(permit.issued_at.timestamp())
    ask = {"permit": permit.number, "dataset": str(catalogue.published.identifier)}
    assert exclusions.refusal(**ask, permit_iat=earlier, subject="SUBJ-3") is None
    assert exclusions.refusal(**ask, permit_iat=entry.since, subject="SUBJ-3") is (
        Reason.SUBJECT_EXCLUDED
    )


def test_a_revoked_permit_leaves_the_list(catalogue, cohort, permit, personas):
    oslo = catalogue.own_node
    services.permit_change(
        permit=permit, actor=personas["committee_chair"], change="suspend", reason="Audit."
    )
    assert (ExclusionEntry.Kind.PERMIT, permit.number, "", True) in standing(oslo)
    services.permit_change(
        permit=permit, actor=personas["committee_chair"], change="revoke", reason="Misuse."
    )
    assert not any(p == permit.number for _k, p, _s, _e in standing(oslo))


def test_unlinking_a_pseudonym_leaves_it_to_the_default(
    catalogue, cohort, permit, personas, settings
):
    oslo = catalogue.own_node
    citizen = linked_citizen(catalogue, personas, "SUBJ-1")
    donation = donate(citizen, catalogue)
    consent_services.donation_withdraw(record=donation.record, citizen=citizen)
    assert (ExclusionEntry.Kind.SUBJECT, "", "SUBJ-1", True) in standing(oslo)
    link = citizen.donor_links.get()
    consent_services.link_remove(citizen=citizen, link=link)
    assert not any(s == "SUBJ-1" for _k, _p, s, _e in standing(oslo))


def test_under_an_opt_in_default_the_unconsented_are_excluded(
    catalogue, cohort, access, personas, settings
):
    settings.CONSENT_DEFAULT = "deny"
    citizen = linked_citizen(catalogue, personas, "SUBJ-1")
    donate(citizen, catalogue)
    application = access.new_application("Opt-in study", submit=True)
    for review in application.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    permit = application.permits.get(review__committee=access.oslo)
    excluded = {
        s
        for kind, p, s, _e in standing(catalogue.own_node)
        if kind == ExclusionEntry.Kind.EXCLUDED and p == permit.number
    }
    assert excluded == {"SUBJ-2", "SUBJ-3"}


def test_a_subject_new_to_the_index_is_judged_when_their_study_is_ingested(
    catalogue, cohort, access, personas, settings, tmp_path
):
    """Under an opt-in default, an unconsented subject whose first study is ingested after the
    permit is excluded at once, in the ingest's own transaction (not at the daily rebuild)."""
    from catalogue.ingest import ingest_paths
    from tests.catalogue.dicom_factory import deidentified, write

    settings.CONSENT_DEFAULT = "deny"
    application = access.new_application("Opt-in study", submit=True)
    for review in application.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    permit = application.permits.get(review__committee=access.oslo)
    oslo = catalogue.own_node
    before = version(oslo)
    assert not any(s == "SUBJ-NEW" for _k, _p, s, _e in standing(oslo))

    write(deidentified(patient_id="SUBJ-NEW"), tmp_path / "new.dcm")
    report = ingest_paths(dataset=catalogue.published, paths=[tmp_path], workers=1)
    assert len(report.accepted) == 1, report.counts()

    assert (ExclusionEntry.Kind.EXCLUDED, permit.number, "SUBJ-NEW", True) in standing(oslo)
    assert version(oslo) == before + 1
    # Ingesting the same file again indexes nothing new and changes nothing.
    ingest_paths(dataset=catalogue.published, paths=[tmp_path], workers=1)
    assert version(oslo) == before + 1


# --- Served to the node ------------------------------------------------------------------------


def test_the_node_gets_its_list_signed_and_cacheable_for_its_ttl(
    client, nodes, catalogue, cohort, permit, settings
):
    oslo = catalogue.own_node
    answer = fetch(client, nodes, oslo)
    claims = read(client, answer)
    assert claims["aud"] == oslo.audience and claims["iss"] == settings.SITE_URL
    assert claims["sub"] == f"{settings.SITE_URL}/access/nodes/{oslo.audience}/exclusions"
    assert claims["ttl"] == settings.EXCLUSION_LIST_TTL
    assert claims["exp"] == claims["iat"] + settings.EXCLUSION_LIST_LIFETIME
    assert answer["Cache-Control"] == f"private, max-age={settings.EXCLUSION_LIST_TTL}"
    assert answer["ETag"] == f'"{oslo.pk}-{claims["version"]}"'
    exclusions = ExclusionList.from_claims(claims)
    assert exclusions.knows(permit.number) and exclusions.version == version(oslo)
    assert not exclusions.knows(permit.other.number)  # a Valencia permit

    unchanged = client.get(
        f"/access/nodes/{oslo.audience}/exclusions",
        HTTP_AUTHORIZATION=nodes.oslo,
        HTTP_IF_NONE_MATCH=answer["ETag"],
    )
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged["ETag"] == answer["ETag"]


def test_the_node_applies_a_delta_to_the_version_it_holds(
    client, nodes, catalogue, cohort, permit, personas
):
    oslo = catalogue.own_node
    citizen = linked_citizen(catalogue, personas, "SUBJ-2")
    donation = donate(citizen, catalogue)
    held = ExclusionList.from_claims(read(client, fetch(client, nodes, oslo)))

    consent_services.donation_withdraw(record=donation.record, citizen=citizen)
    delta = read(client, fetch(client, nodes, oslo, since=held.version))
    assert delta["base"] == held.version and delta["version"] == held.version + 1
    assert delta["added"] == {"permits": [], "excluded": {}, "subjects": {"SUBJ-2": [
        delta["added"]["subjects"]["SUBJ-2"][0], True]}}  # fmt: skip
    assert delta["removed"] == {"permits": [], "excluded": {}, "subjects": []}
    updated = held.apply(delta)
    whole = ExclusionList.from_claims(read(client, fetch(client, nodes, oslo)))
    assert updated.version == whole.version and updated.entries == whole.entries
    ask = {"permit": permit.number, "permit_iat": None, "dataset": "any"}
    assert updated.refusal(**ask, subject="SUBJ-2") is Reason.SUBJECT_EXCLUDED
    assert held.refusal(**ask, subject="SUBJ-2") is None


def test_a_delta_from_a_forgotten_version_is_the_whole_list(
    client, nodes, catalogue, cohort, permit, personas, settings
):
    settings.EXCLUSION_DELTA_RETENTION = 1
    oslo = catalogue.own_node
    for subject in SUBJECTS:  # three changes, each a version; older removals are forgotten
        citizen = linked_citizen(catalogue, personas, subject)
        consent_services.donation_withdraw(
            record=donate(citizen, catalogue).record, citizen=citizen
        )
    state = ExclusionListState.objects.get(node=oslo)
    assert state.oldest_delta > 1
    claims = read(client, fetch(client, nodes, oslo, since=1))
    assert "base" not in claims and claims["version"] == state.version
    assert set(claims["subjects"]) == set(SUBJECTS)
    future = read(client, fetch(client, nodes, oslo, since=state.version + 5))
    assert "base" not in future  # a version the portal never made: the whole list


def test_only_the_node_itself_reads_its_list(client, nodes, catalogue, cohort, permit):
    other = catalogue.other_node
    mine = client.get(f"/access/nodes/{other.audience}/exclusions", HTTP_AUTHORIZATION=nodes.oslo)
    assert mine.status_code == 404
    anonymous = client.get(f"/access/nodes/{catalogue.own_node.audience}/exclusions")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Basic")
    bad = fetch(client, nodes, catalogue.own_node, since="-1")
    assert bad.status_code == 400


def test_a_rebuild_finds_nothing_to_change_when_every_change_was_followed(
    catalogue, cohort, permit, personas
):
    oslo = catalogue.own_node
    tomorrow = timezone.localdate() + timedelta(days=1)
    choices = ({"purposes": ["education"]}, {"until": tomorrow}, {})
    for subject, chosen in zip(SUBJECTS, choices, strict=True):
        donate(linked_citizen(catalogue, personas, subject), catalogue, **chosen)
    consent_services.opt_out_record(citizen=linked_citizen(catalogue, personas, "SUBJ-OPT"))
    assert services.exclusions_rebuild(node=oslo) == 0
    # A donation's period ends with no write: the daily rebuild finds it.
    assert services.exclusions_rebuild(node=oslo, at=timezone.now() + timedelta(days=3)) == 1
    assert (ExclusionEntry.Kind.SUBJECT, "", "SUBJ-2", True) in standing(oslo)


def test_the_daily_command_rebuilds_every_nodes_list(catalogue, cohort, permit, personas):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("exclusion_lists", "rebuild", stdout=out)
    assert out.getvalue().splitlines() == ["oslo: 0 entries changed", "valencia: 0 entries changed"]
