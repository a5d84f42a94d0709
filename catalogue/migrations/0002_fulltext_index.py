"""A full-text index for catalogue search on PostgreSQL (SQLite searches without one)."""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS catalogue_dataset_fts_idx ON catalogue_dataset "
    "USING gin (to_tsvector('simple'::regconfig, COALESCE(search_text, '')))"
)
DROP = "DROP INDEX IF EXISTS catalogue_dataset_fts_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
