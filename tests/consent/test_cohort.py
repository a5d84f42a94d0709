"""The decisions for whole datasets (``consent.cohort``: counts, kinds of refusal, exclusion
set, verdicts; subjects grouped by standing, each group decided once) are, subject by subject,
the policy engine's decision on that subject's stored Consent resources: on a seeded, varied
cohort of consents written through the FHIR API's service (nested provisions with purposes,
custodians, periods, data and conditions; donations in force, withdrawn, ended and not begun;
opt-outs before and after the permit, with and without exceptions; consents in statuses that
play no part; subjects without any consent), for several uses and approval times, under both
``CONSENT_DEFAULT`` settings."""

import random
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from catalogue import duo
from consent import cohort, selectors, services
from consent.models import DonorLink
from consent.policy import cause_of, denies_every_use, facts_of
from consent.terms import (
    CONSENT_ACTION,
    CUSTODIAN,
    DATASET_SYSTEM,
    DUO_SYSTEM,
    EHDS_PURPOSE_SYSTEM,
    FHIR_TYPES,
    NODE_SYSTEM,
    PARTICIPATION_TYPE,
)
from portal.models import Role
from tests.consent.conftest import add_studies
from tests.factories import UserFactory

DAY = timedelta(days=1)
PURPOSES = ["research", "research_ai", "education", "public_health"]
USES = [duo.GRU, duo.HMB, duo.DS, duo.POA]
CONDITIONS = [duo.NCU, duo.IRB, duo.NPU]


def _instant(moment):
    return moment.isoformat().replace("+00:00", "Z")


class _Rules:
    """Random provision trees over the request's criteria, from one seed."""

    def __init__(self, rng, donor, now):
        self.rng, self.donor, self.now = rng, donor, now

    def period(self):
        start = self.now + self.rng.choice([-40, -20, -2, 3]) * DAY
        end = start + self.rng.choice([5, 30, 90]) * DAY
        return {"start": _instant(start), "end": _instant(end)}

    def provision(self, depth):
        rng, found = self.rng, {}
        if rng.random() < 0.6:
            codings = [
                {"system": EHDS_PURPOSE_SYSTEM, "code": c}
                for c in rng.sample(PURPOSES, rng.randint(0, 2))
            ]
            codings += [
                {"system": DUO_SYSTEM, "code": c}
                for c in rng.sample(USES, rng.randint(0, 1))
                + rng.sample(CONDITIONS, rng.randint(0, 1))
            ]
            if codings:
                found["purpose"] = codings
        if rng.random() < 0.3:
            node = rng.choice([self.donor.oslo, self.donor.valencia])
            found["actor"] = [
                {
                    "role": {"coding": [{"system": PARTICIPATION_TYPE, "code": CUSTODIAN}]},
                    "reference": {"identifier": {"system": NODE_SYSTEM, "value": node.audience}},
                }
            ]
        if rng.random() < 0.2:
            found["period"] = self.period()
        if rng.random() < 0.2:
            found["resourceType"] = [
                {"system": FHIR_TYPES, "code": rng.choice(["ImagingStudy", "Observation"])}
            ]
        if rng.random() < 0.15:
            dataset = rng.choice([self.donor.breast, self.donor.lung])
            found["data"] = [
                {
                    "meaning": "instance",
                    "reference": {
                        "identifier": {"system": DATASET_SYSTEM, "value": dataset.identifier}
                    },
                }
            ]
        if rng.random() < 0.1:
            found["code"] = [{"text": rng.choice(["Breast Cancer", "lung cancer"])}]
        if rng.random() < 0.1:
            found["action"] = [{"coding": [{"system": CONSENT_ACTION, "code": "use"}]}]
        if depth < 3 and (not found or rng.random() < 0.5):
            found["provision"] = [self.provision(depth + 1) for _ in range(rng.randint(1, 2))]
        if not found:  # FHIR has no empty elements
            found["purpose"] = [{"system": EHDS_PURPOSE_SYSTEM, "code": rng.choice(PURPOSES)}]
        return found

    def rule_sets(self, count):
        return [
            [self.provision(1) for _ in range(self.rng.randint(0, 2))] for _ in range(count)
        ] + [[]]


def _consent(citizen, decision, status, period, provisions):
    resource = {
        "resourceType": "Consent",
        "status": status,
        "subject": {"reference": f"Patient/{citizen.pseudonym}"},
        "date": "2026-01-01",
        "decision": decision,
    }
    if period:
        resource["period"] = period
    if provisions:
        resource["provision"] = provisions
    return services.consent_write_fhir(resource=resource, actor=citizen)


def _period(rng, now):
    """A period in force, ended, not begun, open, or none."""
    start = rng.choice([None, now - 60 * DAY, now - 8 * DAY, now - 2 * DAY, now + 4 * DAY])
    end = rng.choice([None, now - 20 * DAY, now - 5 * DAY, now + 30 * DAY])
    if start is not None and end is not None and end < start:
        end = None
    period = {}
    if start is not None:
        period["start"] = _instant(start)
    if end is not None:
        period["end"] = _instant(end)
    return period


def _populate(donor, size, seed):
    """``size`` citizens, each linked at both nodes with studies in both datasets, with a
    donation, an opt-out, both or neither, drawn from a few rule sets (so that many subjects
    share one) with their own statuses and periods."""
    rng = random.Random(seed)
    now = timezone.now()
    rules = _Rules(rng, donor, now)
    donations, opt_outs = rules.rule_sets(5), rules.rule_sets(3)
    opt_outs.append([{"purpose": [{"system": EHDS_PURPOSE_SYSTEM, "code": "public_health"}]}])
    for index in range(size):
        citizen = UserFactory(roles=[Role.CITIZEN])
        for node, dataset in ((donor.oslo, donor.breast), (donor.valencia, donor.lung)):
            subject = f"{node.slug}-{seed}-{index}"
            DonorLink.objects.create(
                citizen=citizen, node=node, subject=subject, linked_at=timezone.now()
            )
            add_studies(dataset, subject)
        which = rng.randrange(4)
        if which in (1, 3):
            status = rng.choice(["active"] * 4 + ["inactive", "inactive", "draft"])
            period = _period(rng, now)
            if status == "inactive" and rng.random() < 0.7:
                period["end"] = _instant(now - rng.choice([1, 9]) * DAY)
                period.pop("start", None)
            _consent(citizen, "permit", status, period, rng.choice(donations))
        if which in (2, 3):
            status = rng.choice(["active"] * 5 + ["inactive", "entered-in-error"])
            start = rng.choice([None, now - 30 * DAY, now - 6 * DAY, now - DAY])
            period = {"start": _instant(start)} if start is not None else {}
            if status == "inactive":
                period["end"] = _instant(now - DAY / 2)
            _consent(citizen, "deny", status, period, rng.choice(opt_outs))


USES_ASKED = [
    ("research", frozenset({duo.HMB, duo.NCU})),
    ("research_ai", frozenset({duo.DS, duo.IRB})),
    ("education", frozenset()),
    ("public_health", frozenset({duo.NPU, duo.NCU})),
]


@pytest.mark.parametrize("default", ["permit", "deny"])
def test_each_subject_is_decided_as_the_policy_engine_decides(donor, settings, default):
    settings.CONSENT_DEFAULT = default
    _populate(donor, 60, seed=7 if default == "permit" else 8)
    at = timezone.now()
    datasets = [donor.breast, donor.lung]
    subjects = {d.pk: set(d.studies.values_list("subject", flat=True)) for d in datasets}
    kinds = set()
    for purpose, duo_codes in USES_ASKED:
        # A permit approved now, three days ago (after some opt-outs, before others), and
        # before every consent.
        for approved in (None, at - 3 * DAY, at - 100 * DAY):
            ask = {"purpose": purpose, "duo_codes": duo_codes, "at": at}
            counts = selectors.allowed_counts(datasets=datasets, permit_approved_at=approved, **ask)
            refused = selectors.not_allowed(datasets=datasets, permit_approved_at=approved, **ask)
            excluded = selectors.exclusion_set(
                datasets=datasets, permit_approved_at=approved, **ask
            )
            causes = selectors.refusal_counts(datasets=datasets, permit_approved_at=approved, **ask)
            for dataset in datasets:
                expected = {}
                for subject in subjects[dataset.pk]:
                    verdict = selectors.decide_for_subject(
                        node_pk=dataset.node_id,
                        subject=subject,
                        dataset=dataset,
                        permit_approved_at=approved,
                        **ask,
                    )
                    if not verdict.permit:
                        expected[subject] = verdict
                        kinds.add((verdict.provision.rpartition("#")[2][:9], verdict.since is None))
                assert refused[dataset.pk] == expected
                assert excluded[dataset.pk] == {
                    s: (cohort.seconds(v.since), v.applies_to_earlier_permits)
                    for s, v in expected.items()
                }
                assert causes[dataset.pk] == Counter(cause_of(v) for v in expected.values())
                assert counts[dataset.pk] == selectors.SubjectCount(
                    allowed=len(subjects[dataset.pk]) - len(expected),
                    total=len(subjects[dataset.pk]),
                )
    # The cohort reached the cases: refused by a provision, a withdrawal, a period, an
    # opt-out, the default (under deny).
    reached = {kind for kind, _none in kinds}
    assert {"status", "period", "provision"} <= reached
    assert ("default" in reached) == (default == "deny")


def test_a_few_subjects_are_decided_as_the_whole_cohort(donor):
    _populate(donor, 30, seed=9)
    at = timezone.now()
    ask = {"purpose": "research", "duo_codes": frozenset({duo.GRU}), "at": at}
    whole = selectors.exclusion_set(datasets=[donor.breast, donor.lung], **ask)
    some = [f"oslo-9-{i}" for i in range(0, 30, 3)] + ["val-4", "nobody"]
    few = selectors.exclusion_set(datasets=[donor.breast, donor.lung], subjects=some, **ask)
    assert few[donor.breast.pk] == {s: r for s, r in whole[donor.breast.pk].items() if s in some}
    assert few[donor.lung.pk] == {s: r for s, r in whole[donor.lung.pk].items() if s in some}
    assert selectors.exclusion_set(datasets=[donor.breast], subjects=[], **ask) == {
        donor.breast.pk: {}
    }


@pytest.mark.parametrize("seed", [11, 12])
def test_the_subjects_refused_for_every_use_are_each_subject_s(donor, seed):
    _populate(donor, 60, seed=seed)
    at = timezone.now()
    nodes = [donor.oslo.pk, donor.valencia.pk]
    pairs = list(DonorLink.objects.filter(node__in=nodes).values_list("node_id", "subject"))
    expected = {}
    for pair, resources in selectors.current_consents(pairs).items():
        every = denies_every_use([facts_of(r) for r in resources], at)
        if every is not None:
            expected[pair] = (cohort.seconds(every[0]), every[1])
    assert selectors.every_use_refusals(nodes, at=at) == expected
    assert {True, False} <= set(earlier for _since, earlier in expected.values())
    some = sorted({s for _n, s in pairs})[::4]
    assert selectors.every_use_refusals(nodes, some, at) == {
        pair: refusal for pair, refusal in expected.items() if pair[1] in some
    }
    assert selectors.every_use_refusals(nodes, [], at) == {}
