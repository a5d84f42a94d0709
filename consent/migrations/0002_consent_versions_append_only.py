"""Make the database itself refuse UPDATE and DELETE on consent versions (PostgreSQL): a
version of a Consent, once written, is a record of what the person said."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION consent_consentversion_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'consent versions are immutable: ' || TG_OP || ' on consent_consentversion '
                  'refused',
        ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER consent_consentversion_immutable
    BEFORE UPDATE OR DELETE ON consent_consentversion
    FOR EACH ROW EXECUTE FUNCTION consent_consentversion_immutable();
"""

DROP = """
DROP TRIGGER IF EXISTS consent_consentversion_immutable ON consent_consentversion;
DROP FUNCTION IF EXISTS consent_consentversion_immutable();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_consent_records_versions_links")]

    operations = [migrations.RunPython(create, drop)]
