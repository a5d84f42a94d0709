"""A stored version of a Consent is a record of what the person said: PostgreSQL itself
refuses to change or delete it (a trigger, like the audit chain's), whatever the code does."""

import pytest
from django.db import DatabaseError, connection, transaction

from consent import services
from consent.models import ConsentRecord, ConsentVersion

pytestmark = pytest.mark.postgres


@pytest.fixture
def stored(donor):
    if connection.vendor != "postgresql":
        pytest.skip("the triggers are PostgreSQL's")
    return services.opt_out_record(citizen=donor.citizen)


def test_postgresql_refuses_to_update_or_delete_a_version(stored):
    table = ConsentVersion._meta.db_table
    for sql in (
        f"UPDATE {table} SET status = 'entered-in-error' WHERE id = %s",
        f"UPDATE {table} SET resource = '{{}}'::jsonb WHERE id = %s",
        f"DELETE FROM {table} WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="consent versions are immutable"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [stored.pk])
    kept = ConsentVersion.objects.get(pk=stored.pk)
    assert (kept.status, kept.resource) == ("active", stored.resource)


def test_the_orm_cannot_either(stored):
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentVersion.objects.filter(pk=stored.pk).update(status="inactive")
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentVersion.objects.filter(pk=stored.pk).delete()
    assert ConsentVersion.objects.get(pk=stored.pk).status == "active"


def test_new_versions_are_appended(stored, donor):
    services.opt_out_revoke(record=stored.record, citizen=donor.citizen)
    assert ConsentRecord.objects.get(pk=stored.record_id).current_version == 2
    assert ConsentVersion.objects.filter(record_id=stored.record_id).count() == 2
