"""The gatekeeper's configuration and its commands: secrets stay in files only their owner reads,
operator secrets are stored hashed, Orthanc and the gatekeeper stay on loopback, the portal is
reached over HTTPS."""

import dataclasses
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from access.node import config as node_config
from access.node.decisions import classify, study_uids_in
from access.node.gatekeeper import new_key

REPOSITORY = Path(__file__).resolve().parents[2]


def _write_config(root: Path, **changes) -> Path:
    secret = root / "client-secret"
    if not secret.exists():
        node_config.write_secret_file(secret, "node-secret")
        new_key(root / "report-key.jwk")
    values = {
        "listen": "127.0.0.1:8090",
        "issuer": "https://portal.example.org",
        "jwks_url": "https://portal.example.org/.well-known/jwks.json",
        "study_map_url": "https://portal.example.org/access/nodes/n/study-map",
        "reports_url": "https://portal.example.org/access/nodes/reports",
        "dicomweb_url": "http://127.0.0.1:8042/dicom-web",
        "operator": node_config.hash_secret("correct horse"),
        **changes,
    }
    path = root / "gatekeeper.toml"
    path.write_text(
        f"""[gatekeeper]
listen = "{values["listen"]}"
state_dir = "{root / "state"}"
[portal]
issuer = "{values["issuer"]}"
jwks_url = "{values["jwks_url"]}"
study_map_url = "{values["study_map_url"]}"
reports_url = "{values["reports_url"]}"
[node]
audience = "urn:ecii:node:n"
client_secret_file = "{secret}"
signing_key_file = "{root / "report-key.jwk"}"
[orthanc]
dicomweb_url = "{values["dicomweb_url"]}"
[operators]
alice = "{values["operator"]}"
"""
    )
    return path


def test_a_good_configuration_loads(tmp_path):
    config = node_config.load(_write_config(tmp_path))
    assert config.listen == ("127.0.0.1", 8090)
    assert config.client_secret == "node-secret"
    assert config.signing_key["kty"] == "EC" and "d" in config.signing_key
    assert node_config.verify_secret("correct horse", config.operators["alice"])
    assert not node_config.verify_secret("correct horse!", config.operators["alice"])


def test_operator_secrets_are_salted_scrypt_hashes():
    first, second = node_config.hash_secret("s3cret"), node_config.hash_secret("s3cret")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert "s3cret" not in first
    with pytest.raises(node_config.ConfigError, match="weaker"):
        node_config.check_secret_hash(first.replace("scrypt$16384$", "scrypt$1024$"))
    with pytest.raises(node_config.ConfigError, match="hash"):
        node_config.check_secret_hash("s3cret")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_a_secret_file_others_can_read_is_refused(tmp_path, mode):
    path = _write_config(tmp_path)
    (tmp_path / "client-secret").chmod(mode)
    with pytest.raises(node_config.ConfigError, match="owner only"):
        node_config.load(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"listen": "0.0.0.0:8090"}, "loopback"),
        ({"dicomweb_url": "http://192.0.2.10:8042/dicom-web"}, "loopback"),
        ({"jwks_url": "http://portal.example.org/.well-known/jwks.json"}, "https"),
        ({"reports_url": "ftp://portal.example.org/reports"}, "https"),
        ({"operator": "plain-text-secret"}, "hash"),
    ],
)
def test_unsafe_settings_are_refused(tmp_path, change, message):
    with pytest.raises(node_config.ConfigError, match=message):
        node_config.load(_write_config(tmp_path, **change))


def test_a_portal_on_this_machine_may_be_reached_over_http(tmp_path):
    local = "http://127.0.0.1:8000/.well-known/jwks.json"
    assert node_config.load(_write_config(tmp_path, jwks_url=local)).jwks_url == local


def _command(*args, cwd=REPOSITORY):
    return subprocess.run(
        [sys.executable, "-m", "access.node.gatekeeper", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_new_operator_prints_the_secret_once_and_the_hash_for_the_configuration():
    result = _command("new-operator", "bob")
    assert result.returncode == 0
    secret = result.stderr.split(": ")[-1].strip()
    name, _, stored = result.stdout.strip().partition(" = ")
    assert name == "bob" and secret not in result.stdout
    assert node_config.verify_secret(secret, json.loads(stored))


@pytest.mark.parametrize("name", ["bob-smith", "Bob_2", "7"])
def test_new_operator_prints_a_line_the_configuration_reads(name):
    result = _command("new-operator", name)
    assert result.returncode == 0, result.stderr
    stored = tomllib.loads(result.stdout)[name]
    node_config.check_secret_hash(stored)


@pytest.mark.parametrize("name", ["ålice", "bob smith", "a=b", "", "x.y"])
def test_new_operator_refuses_a_name_that_is_not_a_plain_toml_key(name):
    result = _command("new-operator", name)
    assert result.returncode == 1 and result.stdout == ""


def test_new_key_writes_a_private_key_only_its_owner_reads_and_prints_the_public_one(tmp_path):
    result = _command("new-key", str(tmp_path / "key.jwk"))
    assert result.returncode == 0
    public = json.loads(result.stdout)
    private = json.loads((tmp_path / "key.jwk").read_text())
    assert "d" not in public and private["d"] and public["kid"] == private["kid"]
    assert public["alg"] == "ES256" and public["use"] == "sig"
    assert os.stat(tmp_path / "key.jwk").st_mode & 0o077 == 0
    again = _command("new-key", str(tmp_path / "key.jwk"))
    assert again.returncode == 1 and json.loads((tmp_path / "key.jwk").read_text()) == private


def test_public_key_prints_again_the_public_key_new_key_printed(tmp_path):
    printed = json.loads(_command("new-key", str(tmp_path / "key.jwk")).stdout)
    result = _command("public-key", str(tmp_path / "key.jwk"))
    assert result.returncode == 0 and json.loads(result.stdout) == printed
    node_config.write_secret_file(tmp_path / "broken.jwk", '{"kty": "EC", "d": "x", "kid": "k"}')
    broken = _command("public-key", str(tmp_path / "broken.jwk"))
    assert broken.returncode == 1 and broken.stdout == "" and "Traceback" not in broken.stderr


def test_check_reports_a_configuration_error(tmp_path):
    path = _write_config(tmp_path, listen="192.0.2.1:8090")
    result = _command("--config", str(path), "check")
    assert result.returncode == 2 and "loopback" in result.stderr
    assert _command("--config", str(_write_config(tmp_path)), "check").returncode == 0


STUDY = "1.2.826.0.1.3680043.10.1234.5"


@pytest.mark.parametrize(
    ("uri", "kind", "study"),
    [
        ("/dicom-web/studies", "search", ""),
        (f"/dicom-web/studies/{STUDY}", "study", STUDY),
        (f"/dicom-web/studies/{STUDY}/", "study", STUDY),
        (f"/dicom-web/studies/{STUDY}/series/1.2/instances/3.4/frames/1,2", "study", STUDY),
        (f"/dicom-web/studies/{STUDY}/series/1.2/instances/3.4/bulk/7fe00010", "study", STUDY),
        (f"/dicom-web/studies/{STUDY}/../1.2.3", "other", ""),
        (f"/dicom-web/studies/{STUDY}/./metadata", "other", ""),
        (f"/dicom-web/studies/{STUDY}/x y", "other", ""),
        ("/dicom-web/studies/1.2.abc", "other", ""),
        ("/dicom-web/studies/" + "1." * 40 + "1", "other", ""),
        ("/dicom-web/studies/", "other", ""),
        ("/dicom-web/series", "other", ""),
        ("/dicom-web/servers/remote/retrieve", "other", ""),
        ("/studies/abc", "other", ""),
    ],
)
def test_paths_are_read_strictly(uri, kind, study):
    target = classify(uri, "/dicom-web")
    assert (target.kind, target.study) == (kind, study)


def test_every_spelling_of_a_study_uid_in_a_query_is_found():
    query = [("StudyInstanceUID", "1.2,1.3"), ("0020000d", "1.4"), ("studyinstanceuid", "1.5\\1.6")]
    assert study_uids_in(query) == ["1.2", "1.3", "1.4", "1.5", "1.6"]
    assert study_uids_in([("PatientID", "x")]) is None


def test_check_refuses_a_log_of_reused_allows_the_gatekeeper_cannot_read(tmp_path):
    path = _write_config(tmp_path)
    unreadable = tmp_path / "reused.log"
    unreadable.mkdir()  # root reads any file: a directory stands in for a file it cannot
    text = path.read_text().replace("[portal]", f'reused_log = "{unreadable}"\n[portal]', 1)
    path.write_text(text)
    result = _command("--config", str(path), "check")
    assert result.returncode == 2 and "gatekeeper.reused_log" in result.stderr
    path.write_text(text.replace(str(unreadable), str(tmp_path / "not-yet-written.log")))
    assert _command("--config", str(path), "check").returncode == 0
    path.write_text(text.replace(str(unreadable), str(tmp_path / "nowhere" / "reused.log")))
    assert _command("--config", str(path), "check").returncode == 2


def _edited(root: Path, old: str, new: str) -> Path:
    path = _write_config(root)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('listen = "127.0.0.1:8090"', "listen = 8090", "gatekeeper.listen must be"),
        ('listen = "127.0.0.1:8090"', 'listen = "127.0.0.1:99999"', "between 1 and 65535"),
        ('listen = "127.0.0.1:8090"', 'listen = "127.0.0.1:0"', "between 1 and 65535"),
        ('listen = "127.0.0.1:8090"', 'listen = "::1:8090"', "in brackets"),
        ("[portal]", "dicomweb_prefix = 5\n[portal]", "gatekeeper.dicomweb_prefix"),
        ("[portal]", 'dicomweb_prefix = "/"\n[portal]', "gatekeeper.dicomweb_prefix"),
        ("[portal]", "timout = 10\n[portal]", "unknown setting gatekeeper.timout"),
        ("[operators]", "[operator]", r"unknown table \[operator\]"),
        ("[gatekeeper]", 'listen2 = "x"\n[gatekeeper]', "outside a table"),
        ("[node]", 'issuer2 = "x"\n[node]', "unknown setting portal.issuer2"),
    ],
)
def test_check_says_what_is_wrong_without_a_traceback(tmp_path, old, new, message):
    path = _edited(tmp_path, old, new)
    with pytest.raises(node_config.ConfigError, match=message):
        node_config.load(path)
    result = _command("--config", str(path), "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("issuer", "message"),
    [
        ("https://portal.example.org/", "without a trailing slash"),
        ("http://portal.example.org", "https"),
    ],
)
def test_an_issuer_no_token_could_match_is_refused(tmp_path, issuer, message):
    with pytest.raises(node_config.ConfigError, match=message):
        node_config.load(_write_config(tmp_path, issuer=issuer))


def test_a_state_dir_the_gatekeeper_cannot_write_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # root writes anywhere: a file where a directory should be
    path = _edited(
        tmp_path, f'state_dir = "{tmp_path / "state"}"', f'state_dir = "{blocker}/state"'
    )
    with pytest.raises(node_config.ConfigError, match="state_dir"):
        node_config.load(path)
    path = _edited(tmp_path, f'state_dir = "{tmp_path / "state"}"', f'state_dir = "{blocker}"')
    with pytest.raises(node_config.ConfigError, match="state_dir"):
        node_config.load(path)
    assert not (tmp_path / "state").exists()
    node_config.load(_write_config(tmp_path))  # a directory still to be made: nothing is made
    assert not (tmp_path / "state").exists()


def test_the_gatekeeper_listens_on_ipv6_loopback(tmp_path):
    from types import SimpleNamespace

    from access.node.gatekeeper import make_server

    config = node_config.load(_edited(tmp_path, '"127.0.0.1:8090"', '"[::1]:8090"'))
    assert config.listen == ("::1", 8090)
    server = make_server(SimpleNamespace(config=dataclasses.replace(config, listen=("::1", 0))))
    try:
        assert server.server_address[0] == "::1"
    finally:
        server.server_close()
