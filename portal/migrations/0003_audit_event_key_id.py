"""Key the audit chain: each event stores the id of the HMAC key that signed it.

Events already in the table keep an empty key id and their plain SHA-256 hash. If there are
any, one signed event ``portal.audit.keyed`` is appended after them: its signature covers the
last unkeyed event's hash, so the unkeyed beginning of the chain can no longer be rewritten
without the key, and from here on every chain ends with a signed event.
"""

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

from portal.audit_keys import chain_fields, keyed_hash

_PG_LOCK_KEY = 0x41554449  # the lock portal.audit takes to append


def seal_unkeyed_events(apps, schema_editor):
    AuditEvent = apps.get_model("portal", "AuditEvent")
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])
    events = AuditEvent.objects.using(connection.alias)
    last = events.order_by("-seq").values_list("seq", "hash").first()
    if last is None:
        return
    keyring = settings.AUDIT_KEYS
    event = AuditEvent(
        seq=last[0] + 1,
        created_at=timezone.now(),
        actor_id=None,
        actor_label="system",
        action="portal.audit.keyed",
        object_type="",
        object_id="",
        details={"unkeyed_events": last[0], "key_id": keyring.signing_key_id},
        prev_hash=last[1],
        key_id=keyring.signing_key_id,
    )
    fields = chain_fields(
        seq=event.seq,
        created_at=event.created_at,
        actor_id=None,
        actor_label=event.actor_label,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        details=event.details,
        prev_hash=event.prev_hash,
    )
    event.hash = keyed_hash(fields, key_id=event.key_id, key=keyring.signing_key)
    event.save(force_insert=True, using=connection.alias)


class Migration(migrations.Migration):
    dependencies = [("portal", "0002_audit_append_only")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, default="", editable=False, max_length=32),
        ),
        # Going back leaves the seal in place: the chain is append-only.
        migrations.RunPython(seal_unkeyed_events, migrations.RunPython.noop),
    ]
