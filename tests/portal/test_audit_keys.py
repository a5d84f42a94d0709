"""The audit keys come from the environment; production refuses to run without real ones."""

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.audit_keys import DEVELOPMENT_AUDIT_KEYS, DEVELOPMENT_KEY, parse_audit_keys
from tests.portal.test_settings import PRODUCTION_ENV, _manage

KEY = "k" * 32


def test_it_refuses_the_development_key_in_production():
    keys = json.dumps({"signing": "prod", "keys": {"prod": DEVELOPMENT_KEY}})
    result = _manage("check", env={**PRODUCTION_ENV, "AUDIT_KEYS": keys})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "development key" in result.stderr


def test_it_reads_the_audit_keys_from_a_file_in_production(tmp_path):
    keys_file = tmp_path / "audit-keys.json"
    keys_file.write_text(PRODUCTION_ENV["AUDIT_KEYS"])
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "AUDIT_KEYS"}
    result = _manage("check", env={**env, "AUDIT_KEYS_FILE": str(keys_file)})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not json", "not valid JSON"),
        (json.dumps({"keys": {"a": KEY}}), "exactly the members signing and keys"),
        (json.dumps({"signing": "a", "keys": {}}), "keys must be a non-empty object"),
        (json.dumps({"signing": "b", "keys": {"a": KEY}}), "signing names 'b'"),
        (json.dumps({"signing": "a", "keys": {"a": "short"}}), "at least 32 characters"),
        (json.dumps({"signing": "a b", "keys": {"a b": KEY}}), "key id 'a b'"),
    ],
)
def test_it_explains_a_malformed_keyring(value, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        parse_audit_keys(value, production=False)


def test_it_keeps_the_keys_out_of_its_representation():
    keyring = parse_audit_keys(DEVELOPMENT_AUDIT_KEYS, production=False)
    assert keyring.signing_key == DEVELOPMENT_KEY.encode()
    assert DEVELOPMENT_KEY not in repr(keyring)
