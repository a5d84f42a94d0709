"""Nodes choose their de-identification gate. Nodes registered before this migration keep the
basic profile (nothing already running changes silently); new nodes get strict."""

from django.db import migrations, models

CHOICES = [
    ("basic", "Basic: PS3.15 basic profile"),
    ("strict", "Strict: also refuses names, institution, device, dates, burned-in text"),
]
HELP = (
    "Strict also refuses person names, institution and device identity, dates and text burned "
    "into the pixels, unless the files declare the matching retain option."
)


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0005_public_address_validators"),
    ]

    operations = [
        # Existing rows are filled with "basic"...
        migrations.AddField(
            model_name="node",
            name="gate_profile",
            field=models.CharField(
                choices=CHOICES,
                default="basic",
                help_text=HELP,
                max_length=8,
                verbose_name="de-identification gate",
            ),
        ),
        # ...and the default for new nodes becomes "strict".
        migrations.AlterField(
            model_name="node",
            name="gate_profile",
            field=models.CharField(
                choices=CHOICES,
                default="strict",
                help_text=HELP,
                max_length=8,
                verbose_name="de-identification gate",
            ),
        ),
    ]
