"""Store every user name in one spelling: Unicode NFKC, case-folded.

Before this, "Victim1" and "ｖｉｃｔｉｍ１" could be two people. If two existing people
would end up with the same name, the migration stops and names them: rename one of them
(admin or shell) and run it again. Nothing is changed until every name is known to be free.
"""

import unicodedata

import portal.models
from django.db import migrations


def _normalise(username: str) -> str:
    # A copy of portal.models.normalise_username as it was when this migration was written.
    value = username
    for _ in range(4):
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
        if folded == value:
            break
        value = folded
    return value


class UsernameCollision(RuntimeError):
    pass


def normalise_usernames(apps, schema_editor):
    User = apps.get_model("portal", "User")
    by_name: dict[str, list[tuple[int, str]]] = {}
    for pk, username in User.objects.order_by("pk").values_list("pk", "username"):
        by_name.setdefault(_normalise(username), []).append((pk, username))
    collisions = {name: people for name, people in by_name.items() if len(people) > 1}
    if collisions:
        lines = [
            f"  {name!r}: " + ", ".join(f"id {pk} ({username!r})" for pk, username in people)
            for name, people in sorted(collisions.items())
        ]
        raise UsernameCollision(
            "These people would share one user name once names are normalised (Unicode NFKC, "
            "case-folded). Rename all but one of each group, then run migrate again:\n"
            + "\n".join(lines)
        )
    for name, [(pk, username)] in by_name.items():
        if name != username:
            User.objects.filter(pk=pk).update(username=name)


class Migration(migrations.Migration):

    dependencies = [
        ("portal", "0003_audit_event_key_id"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", portal.models.PortalUserManager()),
            ],
        ),
        migrations.RunPython(normalise_usernames, migrations.RunPython.noop),
    ]
