"""Racing writes end in one clear outcome (PostgreSQL, real concurrent transactions, forced to
overlap as in tests/access/test_concurrency.py): two people redeeming one link code, a
double-clicked donation, and two changes of one consent."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from consent import services
from consent.models import ConsentRecord, ConsentVersion, DonorLink, LinkCode
from portal.models import User
from tests.access.test_concurrency import _race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL")


def test_one_code_links_one_account(donor, personas, another_citizen):
    link_code, code = services.link_code_issue(
        node=donor.oslo, subject="PAT-RACE", actor=donor.operator
    )
    results, errors = _race(
        lambda: services.link_code_redeem(citizen=personas["citizen"], code=code),
        lambda: services.link_code_redeem(citizen=another_citizen, code=code),
        holding=LinkCode.objects.get(pk=link_code.pk),
    )
    assert sum(r is not None for r in results) == 1, errors
    assert sum(isinstance(e, ValidationError) for e in errors) == 1, errors
    assert DonorLink.objects.filter(subject="PAT-RACE").count() == 1


def test_a_double_clicked_donation_is_one_donation(donor):
    def donate():
        return services.donation_create(
            citizen=donor.citizen, nodes=[donor.oslo], categories=["imaging"], purposes=["research"]
        )

    results, errors = _race(donate, donate, holding=User.objects.get(pk=donor.citizen.pk))
    assert sum(r is not None for r in results) == 1, errors
    assert sum(isinstance(e, services.ConsentConflict) for e in errors) == 1, errors
    assert ConsentRecord.objects.filter(owner=donor.citizen).count() == 1


def test_two_changes_of_one_consent_are_two_versions(donor):
    record = services.donation_create(
        citizen=donor.citizen, nodes=[donor.oslo], categories=["imaging"], purposes=["research"]
    ).record

    def change(purpose):
        return lambda: services.donation_change(
            record=record,
            citizen=donor.citizen,
            nodes=[donor.oslo],
            categories=["imaging"],
            purposes=[purpose],
        )

    _results, errors = _race(
        change("education"),
        change("public_health"),
        holding=ConsentRecord.objects.get(pk=record.pk),
    )
    assert errors == [None, None]
    versions = ConsentVersion.objects.filter(record=record).order_by("version")
    assert [v.version for v in versions] == [1, 2, 3]
    assert ConsentRecord.objects.get(pk=record.pk).current_version == 3
    assert {v.resource["meta"]["versionId"] for v in versions} == {"1", "2", "3"}
