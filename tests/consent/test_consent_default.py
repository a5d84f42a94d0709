"""``CONSENT_DEFAULT``: what the decision is for a person without a consent in force. Permit by
default (EHDS's opt-out model); deny makes secondary use opt-in; anything else stops start-up."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _settings_with(value):
    env = {k: v for k, v in os.environ.items() if k != "CONSENT_DEFAULT"}
    if value is not None:
        env["CONSENT_DEFAULT"] = value
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.CONSENT_DEFAULT)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_default_is_the_ehds_opt_out_model():
    result = _settings_with(None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "permit"
    assert _settings_with("deny").stdout.strip() == "deny"


def test_anything_else_stops_start_up():
    result = _settings_with("allow")
    assert result.returncode != 0
    assert "CONSENT_DEFAULT must be permit or deny" in result.stderr
