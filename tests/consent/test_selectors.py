"""Who may read a consent, and the consent decision for the subjects of whole datasets: the
counts a committee sees before approving and the subjects a use is not allowed for. The
decisions for many subjects at once are the decisions for each subject, in a fixed number of
queries."""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalogue import duo
from catalogue.services import node_create
from consent import selectors, services
from consent.models import DonorLink
from portal.models import Role
from portal.workflow import NotPermitted
from tests.consent.conftest import add_studies
from tests.factories import UserFactory


def donate(donor, **choices):
    chosen = {"nodes": [donor.oslo], "categories": ["imaging"], "purposes": ["research"]}
    return services.donation_create(citizen=donor.citizen, **{**chosen, **choices})


@pytest.fixture
def record(donor):
    return donate(donor).record


def test_the_citizen_reads_and_writes_their_own_consent(record, donor):
    assert selectors.access_consent(donor.citizen, record.pk) == record
    assert selectors.access_consent(donor.citizen, record.pk, for_write=True) == record


def test_the_access_body_and_the_operators_of_linked_nodes_only_read_it(record, personas):
    for name in ("hdab_admin", "node_operator"):
        assert selectors.access_consent(personas[name], record.pk) == record
        with pytest.raises(NotPermitted):
            selectors.access_consent(personas[name], record.pk, for_write=True)


def test_everyone_else_is_told_it_does_not_exist(record, personas, another_citizen, donor):
    from django.contrib.auth.models import AnonymousUser

    node_create(
        actor=None,
        operators=[operator := UserFactory(roles=[Role.NODE_OPERATOR])],
        name="Lyon imaging node",
        slug="lyon",
        organisation="Centre Léon Bérard",
        country="FR",
        contact_email="node@lyon.example.org",
        dicomweb_base_url="https://lyon.example.org/dicom-web",
        audience="urn:ecii:node:lyon",
    )
    strangers = [
        another_citizen,
        operator,  # a node where the citizen linked nothing
        personas["researcher"],
        personas["committee_member"],
        personas["outsider"],
        AnonymousUser(),
    ]
    for user in strangers:
        for for_write in (False, True):
            with pytest.raises(Http404):
                selectors.access_consent(user, record.pk, for_write=for_write)
        assert record not in selectors.consents_visible_to(user)
    with pytest.raises(Http404):
        selectors.access_consent(donor.citizen, "no-such-consent")
    donor.citizen.is_active = False
    donor.citizen.save(update_fields=["is_active"])
    with pytest.raises(Http404):
        selectors.access_consent(donor.citizen, record.pk)


def test_lists_show_what_each_may_read(record, personas, donor):
    for name in ("citizen", "hdab_admin", "node_operator"):
        assert list(selectors.consents_visible_to(personas[name])) == [record]
    DonorLink.objects.filter(citizen=donor.citizen).delete()
    assert list(selectors.consents_visible_to(personas["node_operator"])) == []
    assert list(selectors.consents_visible_to(personas["hdab_admin"])) == [record]


def test_versions_are_read_newest_first(record, donor):
    services.donation_withdraw(record=record, citizen=donor.citizen)
    record.refresh_from_db()
    assert [v.version for v in selectors.versions_of(record)] == [2, 1]
    assert selectors.current_version(record).status == "inactive"
    assert selectors.version_of(record, 1).status == "active"
    with pytest.raises(Http404):
        selectors.version_of(record, 3)


def counts(donor, **kw):
    found = selectors.allowed_counts(datasets=[donor.breast, donor.lung], **kw)
    return found[donor.breast.pk], found[donor.lung.pk]


def test_the_committee_sees_how_many_subjects_the_consents_allow(donor):
    donate(donor)  # research, at Oslo only
    breast, lung = counts(donor, purpose="research")
    assert breast == selectors.SubjectCount(allowed=3, total=3)
    assert lung == selectors.SubjectCount(allowed=2, total=3)  # Valencia was not named
    breast, lung = counts(donor, purpose="education")
    assert (breast.allowed, lung.allowed) == (2, 2)


def test_without_consents_the_default_counts(donor, settings):
    donate(donor)
    settings.CONSENT_DEFAULT = "deny"
    breast, lung = counts(donor, purpose="research")
    assert (breast.allowed, lung.allowed) == (1, 0)
    refused = selectors.not_allowed(datasets=[donor.breast], purpose="research")
    assert sorted(refused[donor.breast.pk]) == ["oslo-8", "oslo-9"]
    assert refused[donor.breast.pk]["oslo-8"].provision == "default"


def test_an_opt_out_counts_only_against_later_permits(donor):
    opted_out = services.opt_out_record(citizen=donor.citizen)
    before = opted_out.last_updated - timedelta(seconds=1)
    breast, _lung = counts(donor, purpose="research", permit_approved_at=before)
    assert breast.allowed == 3
    breast, _lung = counts(donor, purpose="research")  # a permit approved now
    assert breast.allowed == 2
    verdict = selectors.not_allowed(datasets=[donor.breast], purpose="research")[donor.breast.pk][
        "oslo-7"
    ]
    assert verdict.since == opted_out.period_start
    assert not verdict.applies_to_earlier_permits


def test_opt_outs_before_and_after_a_permit_count_apart(donor, another_citizen):
    DonorLink.objects.create(
        citizen=another_citizen, node=donor.oslo, subject="oslo-8", linked_at=timezone.now()
    )
    first = services.opt_out_record(citizen=donor.citizen)  # oslo-7
    approved = timezone.now()
    second = services.opt_out_record(citizen=another_citizen)  # oslo-8, after the permit
    assert first.period_start <= approved < second.period_start
    breast, _lung = counts(donor, purpose="research", permit_approved_at=approved)
    assert breast.allowed == 2  # oslo-8 and oslo-9
    refused = selectors.not_allowed(
        datasets=[donor.breast], purpose="research", permit_approved_at=approved
    )
    assert set(refused[donor.breast.pk]) == {"oslo-7"}


def test_a_withdrawal_is_refused_for_every_permit(donor):
    record = donate(donor).record
    services.donation_withdraw(record=record, citizen=donor.citizen)
    refused = selectors.not_allowed(
        datasets=[donor.breast, donor.lung],
        purpose="research",
        permit_approved_at=timezone.now() - timedelta(days=400),
    )
    assert set(refused[donor.breast.pk]) == {"oslo-7"}
    assert set(refused[donor.lung.pk]) == {"val-3"}
    assert refused[donor.breast.pk]["oslo-7"].applies_to_earlier_permits


def test_the_current_consents_of_node_subjects(donor):
    version = donate(donor)
    found = selectors.current_consents(
        [(donor.oslo.pk, "oslo-7"), (donor.oslo.pk, "oslo-8"), (donor.valencia.pk, "val-3")]
    )
    assert found[(donor.oslo.pk, "oslo-7")] == [version.resource]
    assert found[(donor.valencia.pk, "val-3")] == [version.resource]
    assert found[(donor.oslo.pk, "oslo-8")] == []


def _cohort(donor, size, seed):
    """``size`` citizens at each node, linked and with studies, and a mix of consents."""
    rng = random.Random(seed)
    for index in range(size):
        citizen = UserFactory(roles=[Role.CITIZEN])
        nodes = []
        for node, dataset in ((donor.oslo, donor.breast), (donor.valencia, donor.lung)):
            subject = f"{node.slug}-{seed}-{index}"
            DonorLink.objects.create(
                citizen=citizen, node=node, subject=subject, linked_at=timezone.now()
            )
            add_studies(dataset, subject)
            nodes.append(node)
        choice = rng.randrange(6)
        if choice in (1, 2, 3):
            version = services.donation_create(
                citizen=citizen,
                nodes=rng.sample(nodes, rng.randint(1, 2)),
                categories=rng.sample(["imaging", "clinical"], rng.randint(1, 2)),
                purposes=rng.sample(["research", "education", "research_ai"], rng.randint(1, 2)),
                duo_codes=rng.sample(
                    [duo.GRU, duo.HMB, duo.NCU, duo.NPOA, duo.NMDS], rng.randint(0, 3)
                ),
            )
            if choice == 3:
                services.donation_withdraw(record=version.record, citizen=citizen)
        if choice in (2, 4):
            services.opt_out_record(citizen=citizen)
        if choice == 5:
            services.opt_out_revoke(
                record=services.opt_out_record(citizen=citizen).record, citizen=citizen
            )


REQUESTS = [
    ("research", frozenset({duo.HMB, duo.NCU})),
    ("research_ai", frozenset({duo.DS})),
    ("education", frozenset()),
    ("research", frozenset({duo.POA})),
]


@pytest.mark.parametrize("default", ["permit", "deny"])
def test_the_decisions_for_a_cohort_are_each_subject_s_decision(donor, settings, default):
    settings.CONSENT_DEFAULT = default
    _cohort(donor, 24, seed=10)
    at = timezone.now()
    mixed = 0
    for purpose, duo_codes in REQUESTS:
        for approved in (None, at - timedelta(days=1)):
            ask = {"purpose": purpose, "duo_codes": duo_codes, "at": at}
            refused = selectors.not_allowed(
                datasets=[donor.breast, donor.lung], permit_approved_at=approved, **ask
            )
            allowed = selectors.allowed_counts(
                datasets=[donor.breast, donor.lung], permit_approved_at=approved, **ask
            )
            for dataset in (donor.breast, donor.lung):
                subjects = set(dataset.studies.values_list("subject", flat=True))
                one_by_one = {
                    subject: selectors.decide_for_subject(
                        node_pk=dataset.node_id,
                        subject=subject,
                        dataset=dataset,
                        permit_approved_at=approved,
                        **ask,
                    )
                    for subject in subjects
                }
                expected = {s: v for s, v in one_by_one.items() if not v.permit}
                assert refused[dataset.pk] == expected
                assert allowed[dataset.pk] == selectors.SubjectCount(
                    allowed=len(subjects) - len(expected), total=len(subjects)
                )
                mixed += 0 < len(expected) < len(subjects)
    assert mixed >= 8  # the cohort is not all one way


def _queries(function):
    with CaptureQueriesContext(connection) as captured:
        function()
    return len(captured.captured_queries)


def test_the_decisions_take_the_same_number_of_queries_for_any_cohort(donor, catalogue):
    def count_both():
        selectors.allowed_counts(
            datasets=[donor.breast, donor.lung, catalogue.draft], purpose="research"
        )

    def refuse_both():
        selectors.not_allowed(datasets=[donor.breast, donor.lung], purpose="research")

    donate(donor)
    few = (_queries(count_both), _queries(refuse_both))
    _cohort(donor, 30, seed=11)
    assert (_queries(count_both), _queries(refuse_both)) == few
    assert few[0] <= 6
