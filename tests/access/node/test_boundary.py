"""The node package runs at hospitals on Debian stable's python3, without Django or the
portal: only the standard library, joserfc and cryptography, and relative imports."""

import ast
import fcntl
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from access.node.statuslist import INVALID

from .stand_in import AUDIENCE, ED_KID, ES_KID, OTHER_NODE, Clock, b64, craft, portal_over_http

NODE = Path(__file__).resolve().parents[3] / "access" / "node"
REPOSITORY = NODE.parents[1]
ALLOWED_THIRD_PARTY = {"joserfc", "cryptography"}
# The indexer reads DICOM files with pydicom (Debian's python3-pydicom); nothing else may.
INDEXER = NODE / "indexer"
INDEXER_THIRD_PARTY = {"pydicom"}
DEBIAN_PYTHON = Path("/usr/bin/python3")
# Debian's python3 with joserfc, as a node has it (the repository's var/ is not versioned).
NODE_PYTHONS = REPOSITORY / "var" / "node-python"


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, node.module or "", node.level


def test_it_imports_only_the_standard_library_joserfc_and_cryptography():
    offences = []
    for path in sorted(NODE.rglob("*.py")):
        for line, module, level in _imports(path):
            top = module.split(".")[0]
            if level or top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY:
                continue
            if top in INDEXER_THIRD_PARTY and path.is_relative_to(INDEXER):
                continue
            offences.append(f"{path.relative_to(REPOSITORY)}:{line} imports {module}")
    assert offences == []


BLOCKED = ["django", "rest_framework", "portal", "catalogue", "consent", "guardian"]
BLOCKED_FINDER = """
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("the node package may not import " + name)

sys.meta_path.insert(0, Blocked())
"""
PROBE = (
    """
import importlib, pkgutil, sys
"""
    + BLOCKED_FINDER
    + """
sys.path.insert(0, {repository!r})
import access.node
try:
    import pydicom
except ImportError:  # the indexer needs python3-pydicom; the gatekeeper does not
    pydicom = None
for info in pkgutil.walk_packages(access.node.__path__, "access.node."):
    if pydicom is None and info.name.startswith("access.node.indexer"):
        continue
    importlib.import_module(info.name)
assert sys.version_info[:2] == (3, 11), sys.version
print("imported", sorted(m for m in sys.modules if m.startswith("access.node")))
"""
)


def _debian_python() -> Path:
    """Debian stable's python3 (3.11), or skip (fail in CI) when this machine has none."""
    if not DEBIAN_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's /usr/bin/python3 is needed to check the node package")
        pytest.skip("no Debian python3 at /usr/bin/python3")
    version = subprocess.run(
        [DEBIAN_PYTHON, "-c", "import sys; print(sys.version_info[:2] == (3, 11))"],
        capture_output=True,
        text=True,
        check=True,
    )
    if version.stdout.strip() != "True":
        pytest.skip("/usr/bin/python3 is not Debian stable's 3.11")
    return DEBIAN_PYTHON


def _node_python() -> Path:
    """Debian's python3 with joserfc installed the way a node installs it: a venv that sees
    Debian's own packages (python3-cryptography 38), and joserfc alone from PyPI, at the
    version the portal runs. Made once, in the repository's ignored ``var/``; fails in CI, and
    skips elsewhere, when PyPI cannot be reached."""
    debian = _debian_python()
    version = importlib.metadata.version("joserfc")
    venv = NODE_PYTHONS / f"joserfc-{version}"
    python, ready = venv / "bin" / "python", venv / ".ready"
    if ready.exists():
        return python
    NODE_PYTHONS.mkdir(parents=True, exist_ok=True)
    with open(NODE_PYTHONS / ".lock", "w") as lock:  # xdist workers make it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        steps = [
            [debian, "-m", "venv", "--system-site-packages", venv],
            [python, "-m", "pip", "install", "--quiet", "--no-deps", f"joserfc=={version}"],
        ]
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                message = f"could not install joserfc for Debian's python3: {result.stderr}"
                if os.environ.get("CI"):
                    pytest.fail(message)
                pytest.skip(message)
        ready.touch()
    return python


def _run(python: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "-I", "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_it_imports_under_debians_python_without_django():
    result = _run(_node_python(), PROBE.format(blocked=BLOCKED, repository=str(REPOSITORY)))
    assert result.returncode == 0, result.stderr
    assert "access.node.statuslist" in result.stdout
    assert "access.node.verifier" in result.stdout
    assert "access.node.deid.gate" in result.stdout  # the gate needs no pydicom


VERIFY = """
import json, sys
{blocked_finder}
sys.path.insert(0, {repository!r})
import cryptography, joserfc
from access.node.verifier import Verifier

args = json.loads(sys.argv[1])
verifier = Verifier(issuer=args["issuer"], audience=args["audience"], jwks_url=args["jwks_url"])
decisions = {{}}
for name, token in args["tokens"].items():
    decision = verifier.verify(token)
    decisions[name] = decision.reason.value if decision.reason else "allowed"
print(json.dumps({{
    "python": list(sys.version_info[:2]),
    "cryptography": cryptography.__version__,
    "cryptography_from": cryptography.__file__,
    "decisions": decisions,
    "fetches": verifier.stats.jwks_fetches + verifier.stats.status_fetches,
}}))
"""


def test_a_node_on_debians_python_verifies_the_portals_tokens():
    """Signed here (the portal's Python and cryptography), fetched over HTTP and verified
    under Debian's python3 with Debian's cryptography 38, as a node runs it."""
    python = _node_python()
    now = int(time.time())
    with portal_over_http(Clock(now)) as portal:
        genuine = portal.token()
        revoked = portal.token()
        portal.status.set(portal.idx_of(revoked), INVALID)
        head, payload, _signature = genuine.split(".")
        tokens = {
            "es256": genuine,
            "ed25519": portal.token(kid=ED_KID),
            "tampered": f"{head}.{payload}.{portal.token().split('.')[2]}",
            "revoked": revoked,
            "expired": portal.token(iat=now - 900, nbf=now - 900, exp=now - 300),
            "other_node": portal.token(aud=OTHER_NODE),
            "alg_none": f"{b64(json.dumps({'alg': 'none', 'typ': 'at+jwt'}))}.{payload}.",
            # Nested beyond the recursion limit of 3.11's JSON parser, and signed.
            "deep": craft(
                {"alg": "ES256", "kid": ES_KID, "typ": "at+jwt"}, "[" * 2500 + "]" * 2500
            ),
        }
        arguments = {
            "issuer": portal.issuer,
            "audience": AUDIENCE,
            "jwks_url": portal.jwks_url,
            "tokens": tokens,
        }
        script = VERIFY.format(
            blocked_finder=BLOCKED_FINDER.format(blocked=BLOCKED), repository=str(REPOSITORY)
        )
        result = _run(python, script, json.dumps(arguments))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["python"] == [3, 11]
    assert report["cryptography"].split(".")[0] == "38"
    assert report["cryptography_from"].startswith("/usr/lib/python3/dist-packages/")
    assert report["decisions"] == {
        "es256": "allowed",
        "ed25519": "allowed",
        "tampered": "bad_signature",
        "revoked": "revoked",
        "expired": "expired",
        "other_node": "wrong_audience",
        "alg_none": "bad_algorithm",
        "deep": "malformed",
    }
    assert report["fetches"] == 2  # the JWKS once, the status list once
