"""A real OpenID provider for the login tests: tests/oidc_provider/provider.mjs run by node.

The provider is started once per test session (once per xdist worker) on a free port of
127.0.0.1. Tests ask for ``oidc``, which points the portal's settings at it.
"""

import contextlib
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "oidc_provider"
CLIENT_ID = "ecii-portal-tests"
CLIENT_SECRET = "ecii-portal-tests-client-secret"
# The Django test client's host; the provider sends the browser back here.
REDIRECT_URI = "http://testserver/accounts/oidc/callback/"
PROVIDER_NAME = "Test ID"
STARTUP_TIMEOUT = 20


def _unavailable(why: str):
    if os.environ.get("CI"):
        pytest.fail(
            f"{why}. CI is set, so the OpenID Connect tests may not be skipped: "
            "run `npm ci` in tests/oidc_provider (make test does).",
            pytrace=False,
        )
    pytest.skip(f"{why}: run `make test`, which installs the test OpenID provider with npm ci")


def _stop(process: subprocess.Popen):
    """Closing stdin asks the provider to exit; SIGTERM, then SIGKILL, if it does not."""
    if process.stdin and not process.stdin.closed:
        with contextlib.suppress(OSError):
            process.stdin.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    """The issuer URL of a running test provider, e.g. ``http://127.0.0.1:41234``."""
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        _unavailable("the test OpenID provider's packages are not installed")

    log_path = tmp_path_factory.mktemp("oidc-provider") / "provider.log"
    env = {
        **os.environ,
        "OIDC_TEST_CLIENT_ID": CLIENT_ID,
        "OIDC_TEST_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_TEST_REDIRECT_URIS": REDIRECT_URI,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [node, "provider.mjs", "0"],
            cwd=PROVIDER_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
        )

    # Read stdout on a thread, for the whole run, so the pipe never fills and blocks node.
    lines: queue.Queue[str | None] = queue.Queue()

    def pump():
        for raw in process.stdout:
            lines.put(raw.decode("utf-8", "replace").strip())
        lines.put(None)

    threading.Thread(target=pump, name="oidc-provider-stdout", daemon=True).start()

    issuer = None
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        while issuer is None:
            remaining = deadline - time.monotonic()
            line = lines.get(timeout=remaining) if remaining > 0 else None
            if line is None:
                break
            if line.startswith("LISTENING "):
                issuer = line.split(" ", 1)[1]
    except queue.Empty:
        pass
    if issuer is None:
        _stop(process)
        pytest.fail(
            f"the test OpenID provider did not start within {STARTUP_TIMEOUT} s "
            f"(exit code {process.returncode}):\n{log_path.read_text(errors='replace')}",
            pytrace=False,
        )
    try:
        yield issuer
    finally:
        _stop(process)


@pytest.fixture
def oidc(oidc_provider, settings):
    """Point the portal at the test provider for one test; returns the issuer URL."""
    settings.OIDC_DISCOVERY_URL = f"{oidc_provider}/.well-known/openid-configuration"
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = PROVIDER_NAME
    settings.OIDC_SCOPES = "openid email profile"
    settings.OIDC_DEFAULT_ROLES = ["researcher"]
    return oidc_provider
