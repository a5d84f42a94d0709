"""The consent decision is pure Python: it imports the standard library, the catalogue's DUO
terms and the consent terms, nothing else (no Django, no database, no FHIR library), so it runs
wherever a decision is needed. The EHDS purposes it repeats are the catalogue's."""

import ast
import subprocess
import sys
from pathlib import Path

from catalogue import duo
from catalogue.purposes import METHODS_PURPOSES, RESEARCH_PURPOSES, Purpose
from consent import fhir, terms

ROOT = Path(__file__).resolve().parents[2]
PURE = [ROOT / "consent" / name for name in ("policy.py", "provisions.py", "terms.py")]
ALLOWED = {"catalogue.duo", "consent.provisions", "consent.terms", "__future__"}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [f"{module}.{a.name}" for a in node.names]
            yield node.lineno, module if module in ALLOWED else names[0]


def test_it_imports_only_the_standard_library_and_the_duo_terms():
    offences = []
    for path in PURE:
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or module in ALLOWED:
                continue
            offences.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offences == []


PROBE = """
import sys
from datetime import datetime, timezone

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"django", "fhir", "pydantic", "portal", "access", "psycopg"}:
            raise ImportError("the consent decision may not import " + name)

sys.meta_path.insert(0, Blocked())
sys.path.insert(0, %r)
from consent.policy import decide
verdict = decide([], purpose="research", duo_codes=frozenset(), dataset="d", node="n",
                 at=datetime.now(timezone.utc), permit_approved_at=None, default_permit=False)
assert not verdict.permit and verdict.provision == "default"
print("decided without", sorted(m for m in sys.modules if m.startswith(("django", "fhir"))))
"""


def test_it_decides_with_django_and_the_fhir_library_blocked():
    result = subprocess.run(
        [sys.executable, "-c", PROBE % str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "decided without []" in result.stdout


def test_the_purposes_it_repeats_are_the_catalogue_s():
    assert set(Purpose.values) == terms.EHDS_PURPOSES
    assert set(RESEARCH_PURPOSES) == terms.RESEARCH_PURPOSES
    assert {Purpose.RESEARCH: frozenset(METHODS_PURPOSES)} == terms.NARROWER_PURPOSES


def test_donors_choose_from_the_catalogue_s_duo_terms():
    assert set(duo.BY_CODE) >= fhir.DONOR_DUO
    assert all(duo.is_permission(c) for c in fhir.DONOR_PERMISSIONS)
    assert all(duo.is_modifier(c) for c in fhir.DONOR_CONDITIONS + tuple(fhir.DONOR_PROHIBITIONS))
