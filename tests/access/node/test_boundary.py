"""The node package runs at hospitals on Debian stable's python3, without Django or the
portal: only the standard library, joserfc and cryptography, and relative imports."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

NODE = Path(__file__).resolve().parents[3] / "access" / "node"
REPOSITORY = NODE.parents[1]
ALLOWED_THIRD_PARTY = {"joserfc", "cryptography"}
DEBIAN_PYTHON = Path("/usr/bin/python3")


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
            offences.append(f"{path.relative_to(REPOSITORY)}:{line} imports {module}")
    assert offences == []


BLOCKED = ["django", "rest_framework", "portal", "catalogue", "consent", "guardian"]
PROBE = """
import importlib, pkgutil, sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("the node package may not import " + name)

sys.meta_path.insert(0, Blocked())
sys.path.insert(0, {repository!r})
import access.node
for info in pkgutil.walk_packages(access.node.__path__, "access.node."):
    importlib.import_module(info.name)
assert sys.version_info[:2] == (3, 11), sys.version
print("imported", sorted(m for m in sys.modules if m.startswith("access.node")))
"""


def test_it_imports_under_debians_python_without_django():
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
    result = subprocess.run(
        [DEBIAN_PYTHON, "-I", "-c", PROBE.format(blocked=BLOCKED, repository=str(REPOSITORY))],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "access.node.statuslist" in result.stdout
