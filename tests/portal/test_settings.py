import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import database_from_url, envsecret

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "PORTAL_MODE": "production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "portal.example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
    "AUDIT_KEYS": f'{{"signing": "k1", "keys": {{"k1": "{secrets.token_urlsafe(48)}"}}}}',
    "SIGNING_KEK": secrets.token_urlsafe(32),
}


def _manage(*args, env):
    base = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    base.pop("DJANGO_SETTINGS_MODULE", None)
    base.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_passes_the_deployment_checks_in_production_mode():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "AUDIT_KEYS", "SIGNING_KEK"]
)
def test_it_refuses_to_start_in_production_without_a_secret(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


def test_it_sends_a_content_security_policy_without_inline_script(client, db):
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_it_reads_secrets_from_files(tmp_path, monkeypatch):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("SOME_SECRET_FILE", str(secret))
    assert envsecret("SOME_SECRET", required=True) == "from-a-file"
    monkeypatch.setenv("SOME_SECRET_FILE", str(tmp_path / "absent"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        envsecret("SOME_SECRET", required=True)


def test_it_parses_database_urls(tmp_path):
    pg = database_from_url(
        "postgres://u:p%40ss@db.example:6432/portal?sslmode=require", base_dir=tmp_path
    )
    assert (pg["ENGINE"], pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "django.db.backends.postgresql", "portal", "u", "p@ss", "db.example", "6432"
    )  # fmt: skip
    assert pg["OPTIONS"] == {"sslmode": "require"}
    with pytest.raises(ImproperlyConfigured, match="not supported"):
        database_from_url("mysql://x/y", base_dir=tmp_path)
