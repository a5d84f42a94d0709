"""Imports point down only (docs/layers.md): access, then consent, then catalogue, then portal,
and access.node under them all, importing only the standard library, joserfc and cryptography.
import-linter checks the contract in pyproject.toml; these tests run it as `make lint` and CI
do, and show that it refuses an upward import and a Django import in the node package."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("portal", "catalogue", "consent", "access")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT_IMPORTS, "--no-logo", "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_code_base_keeps_the_layers_contract():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def _copy_of_the_code_base(tmp_path: Path) -> Path:
    for app in APPS:
        shutil.copytree(
            ROOT / app, tmp_path / app, ignore=shutil.ignore_patterns("__pycache__", "static")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")


def test_the_contract_refuses_an_app_imported_by_portal(tmp_path):
    copy = _copy_of_the_code_base(tmp_path)
    _append(copy / "portal" / "views.py", "from catalogue.selectors import operated_nodes")
    result = _lint_imports(copy)
    assert result.returncode == 1
    assert "portal is not allowed to import catalogue" in result.stdout
    assert "portal.views -> catalogue.selectors" in result.stdout


def test_the_contract_refuses_access_imported_by_the_catalogue_or_consent(tmp_path):
    copy = _copy_of_the_code_base(tmp_path)
    _append(copy / "catalogue" / "facets.py", "from access import permissions")
    _append(copy / "consent" / "models.py", "import access.selectors")
    result = _lint_imports(copy)
    assert result.returncode == 1
    assert "catalogue is not allowed to import access" in result.stdout
    assert "consent is not allowed to import access" in result.stdout


def test_every_app_may_use_the_node_wire_formats(tmp_path):
    copy = _copy_of_the_code_base(tmp_path)
    _append(copy / "portal" / "ids.py", "from access.node import claims")
    _append(copy / "consent" / "models.py", "import access.node.exclusions")
    result = _lint_imports(copy)
    assert result.returncode == 0, result.stdout


def test_the_node_package_may_not_import_django_the_portal_or_the_rest_of_access(tmp_path):
    copy = _copy_of_the_code_base(tmp_path)
    claims = copy / "access" / "node" / "claims.py"
    _append(claims, "import django")
    _append(claims, "from portal import env")
    _append(claims, "from access import permissions")
    result = _lint_imports(copy)
    assert result.returncode == 1
    for forbidden in ("django", "portal", "access.permissions"):
        assert f"access.node is not allowed to import {forbidden}:" in result.stdout
