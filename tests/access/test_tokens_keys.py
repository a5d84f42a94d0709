"""The portal's signing keys: creation, rotation without breaking a node, retirement, the
key-encryption key, and the JWKS."""

import os
import secrets
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.utils import timezone

from access import services, signing
from access.models import SigningKey
from access.node.claims import TOKEN_TYPE
from portal.models import AuditEvent
from portal.signing_kek import DEVELOPMENT_SIGNING_KEK, parse_signing_kek
from tests.access.conftest import header_of, published_keys, verify_published

ROOT = Path(__file__).resolve().parents[2]


def _kids(client) -> list[str]:
    return [key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]]


def test_it_creates_an_active_and_a_next_key_and_publishes_both(db, client):
    active, upcoming = services.signing_key_create()
    assert (active.status, upcoming.status) == ("active", "next")
    assert active.alg == upcoming.alg == "ES256"
    answer = client.get("/.well-known/jwks.json")
    assert answer["Cache-Control"] == "public, max-age=300"
    assert answer["Content-Type"] == "application/jwk-set+json"
    keys = answer.json()["keys"]
    assert [k["kid"] for k in keys] == [active.kid, upcoming.kid]
    for key in keys:
        assert key["use"] == "sig" and key["alg"] == "ES256" and "d" not in key
    assert set(AuditEvent.objects.values_list("action", flat=True)) >= {
        "access.signing_key.created"
    }
    with pytest.raises(services.InvalidTransition, match="already a next key"):
        services.signing_key_create()


def test_it_keeps_the_private_key_encrypted_at_rest(db, settings):
    active, _upcoming = services.signing_key_create()
    row = SigningKey.objects.get(pk=active.pk)
    assert row.private_key.startswith("v1.") and row.kek_id == settings.SIGNING_KEK.current_id
    private = signing.decrypt_private_key(
        row.private_key, kek=settings.SIGNING_KEK.current, kid=row.kid
    )
    assert private["d"] not in row.private_key


def test_it_makes_ed25519_keys_when_asked(db, client, settings):
    settings.SIGNING_ALGORITHM = "Ed25519"
    services.signing_key_create()
    token = services.sign({"sub": "p-1"}, TOKEN_TYPE)
    assert header_of(token)["alg"] == "Ed25519"
    assert verify_published(token, client=client) == {"sub": "p-1"}


def test_a_token_signed_before_a_rotation_verifies_with_the_jwks_after_it(db, client):
    """Rotation never breaks a node: the key that signed a token stays in the JWKS."""
    first, upcoming = services.signing_key_create()
    before = services.sign({"sub": "p-1", "n": 1}, TOKEN_TYPE)
    nodes_keys_before = published_keys(client)  # what a node cached before the rotation

    rotation = services.signing_keys_rotate()
    assert rotation.retired.pk == first.pk and rotation.activated.pk == upcoming.pk
    after = services.sign({"sub": "p-1", "n": 2}, TOKEN_TYPE)

    assert header_of(before)["kid"] == first.kid
    assert header_of(after)["kid"] == upcoming.kid  # the key nodes already held
    assert nodes_keys_before.get_by_kid(upcoming.kid)
    assert verify_published(before, client=client)["n"] == 1  # the JWKS after the rotation
    assert verify_published(after, client=client)["n"] == 2
    assert _kids(client) == [upcoming.kid, rotation.created.kid, first.kid]
    retired = SigningKey.objects.get(pk=first.pk)
    assert retired.status == "retired" and retired.private_key == ""  # erased at once
    assert retired.published_until > timezone.now() + timedelta(days=1)


def test_it_drops_a_retired_key_from_the_jwks_after_the_retention(db, client):
    first, _upcoming = services.signing_key_create()
    services.signing_keys_rotate()
    assert first.kid in _kids(client)
    SigningKey.objects.filter(pk=first.pk).update(
        published_until=timezone.now() - timedelta(seconds=1)
    )
    assert first.kid not in _kids(client)


def test_it_withdraws_a_leaked_key_at_once(db, client):
    first, _upcoming = services.signing_key_create()
    with pytest.raises(services.InvalidTransition, match="rotate to retire it"):
        services.signing_key_retire(kid=first.kid)
    services.signing_keys_rotate()
    with pytest.raises(services.InvalidTransition, match="already retired"):
        services.signing_key_retire(kid=first.kid)
    services.signing_key_retire(kid=first.kid, at_once=True)
    assert first.kid not in _kids(client)


def test_it_refuses_to_rotate_without_a_next_key(db):
    with pytest.raises(services.InvalidTransition, match="no next key"):
        services.signing_keys_rotate()
    _active, upcoming = services.signing_key_create()
    services.signing_key_retire(kid=upcoming.kid)  # a next key retires at once
    with pytest.raises(services.InvalidTransition, match="no next key"):
        services.signing_keys_rotate()


def test_it_reencrypts_the_keys_under_a_new_kek(db, settings):
    services.signing_key_create()
    old = settings.SIGNING_KEK
    new_text = secrets.token_urlsafe(32)
    # The new KEK alone: the stored keys cannot be read, so nothing is signed.
    services.keys._forget_signers()
    settings.SIGNING_KEK = parse_signing_kek(new_text, [], production=False)
    with pytest.raises(services.SigningUnavailable, match="does not hold"):
        services.sign({"a": 1}, TOKEN_TYPE)
    # With the old one as previous, rewrap, then the old one can go.
    settings.SIGNING_KEK = parse_signing_kek(new_text, [DEVELOPMENT_SIGNING_KEK], production=False)
    assert services.signing_keys_rewrap() == 2
    settings.SIGNING_KEK = parse_signing_kek(new_text, [], production=False)
    services.keys._forget_signers()
    assert services.sign({"a": 1}, TOKEN_TYPE)
    assert not SigningKey.objects.filter(kek_id=old.current_id).exists()


def test_development_makes_the_first_keys_when_first_needed_and_production_does_not(db, settings):
    settings.SIGNING_KEYS_AUTO_CREATE = False
    with pytest.raises(services.SigningUnavailable, match="signing_keys create"):
        services.sign({"a": 1}, TOKEN_TYPE)
    assert not SigningKey.objects.exists()
    settings.SIGNING_KEYS_AUTO_CREATE = True
    services.sign({"a": 1}, TOKEN_TYPE)
    assert sorted(SigningKey.objects.values_list("status", flat=True)) == ["active", "next"]


def test_the_command_creates_rotates_lists_and_retires(db):
    def run(*args):
        out = StringIO()
        call_command("signing_keys", *args, stdout=out)
        return out.getvalue()

    assert "no signing keys" in run("list")
    created = run("create")
    assert "created active key" in created and "created next key" in created
    rotated = run("rotate", "--alg", "Ed25519")
    assert "retired" in rotated and "activated" in rotated and "(Ed25519)" in rotated
    listing = run("list")
    assert listing.count("in the JWKS") == 3
    retired = SigningKey.objects.get(status="retired")
    assert "published in the JWKS until" in run("retire", retired.kid, "--at-once")
    assert "not published" in run("list")
    with pytest.raises(CommandError, match="already a next key"):
        run("create")


# --- The key-encryption key in the settings ---------------------------------------------------


def test_it_reads_a_kek_and_refuses_junk():
    ring = parse_signing_kek(secrets.token_urlsafe(32), [DEVELOPMENT_SIGNING_KEK], production=False)
    assert len(ring.current) == 32 and len(ring.keys) == 2
    for junk in ["", "short", secrets.token_urlsafe(16), secrets.token_urlsafe(48), "!" * 43]:
        with pytest.raises(ImproperlyConfigured, match="32 random bytes"):
            parse_signing_kek(junk, [], production=False)
    with pytest.raises(ImproperlyConfigured, match="development KEK"):
        parse_signing_kek(DEVELOPMENT_SIGNING_KEK, [], production=True)
    with pytest.raises(ImproperlyConfigured, match="SIGNING_KEK_PREVIOUS is the published"):
        parse_signing_kek(secrets.token_urlsafe(32), [DEVELOPMENT_SIGNING_KEK], production=True)


def _production(**env):
    from tests.portal.test_settings import PRODUCTION_ENV

    base = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and k != "SIGNING_KEK"}
    base.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**base, **PRODUCTION_ENV, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_its_own_kek():
    from tests.portal.test_settings import PRODUCTION_ENV

    without = {k: v for k, v in PRODUCTION_ENV.items() if k != "SIGNING_KEK"}
    result = _production(**{**without, "SIGNING_KEK": ""})
    assert result.returncode != 0 and "SIGNING_KEK" in result.stderr
    result = _production(SIGNING_KEK=DEVELOPMENT_SIGNING_KEK)
    assert result.returncode != 0 and "development KEK" in result.stderr
    assert _production().returncode == 0
