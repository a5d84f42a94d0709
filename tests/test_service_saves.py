"""Every ``save()`` in a service says what it writes: a creation inserts
(``save(force_insert=True)`` or ``objects.create``), an update names its fields
(``save(update_fields=[...])``), so that two services changing different fields of one row
never overwrite each other's work with stale values."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("portal", "catalogue", "consent", "access")


def _service_modules() -> list[Path]:
    modules = []
    for app in APPS:
        modules += sorted((ROOT / app).glob("services.py"))
        modules += sorted((ROOT / app).glob("services/**/*.py"))
    return modules


def _says_what_it_writes(call: ast.Call) -> bool:
    for keyword in call.keywords:
        if keyword.arg == "update_fields":
            return True
        if keyword.arg == "force_insert":
            return isinstance(keyword.value, ast.Constant) and keyword.value.value is True
    return False


def bare_saves(source: str, filename: str = "<source>") -> list[str]:
    """``file:line`` of each ``.save(...)`` call that neither inserts nor names its fields."""
    return [
        f"{filename}:{node.lineno}"
        for node in ast.walk(ast.parse(source, filename=filename))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "save"
        and not _says_what_it_writes(node)
    ]


def test_every_save_in_a_service_inserts_or_names_its_fields():
    modules = _service_modules()
    assert {m.relative_to(ROOT).as_posix() for m in modules} >= {
        "portal/services.py",
        "catalogue/services.py",
        "access/services/applications.py",
    }
    offences = []
    for path in modules:
        offences += bare_saves(path.read_text(), str(path.relative_to(ROOT)))
    assert offences == []


def test_it_finds_a_save_that_writes_every_field():
    source = (
        "def dataset_rename(dataset, title):\n"
        "    dataset.title = title\n"
        "    dataset.save()\n"
        "    dataset.save(force_insert=False)\n"
        "    dataset.save(update_fields=['title'])\n"
        "    dataset.save(force_insert=True)\n"
    )
    assert bare_saves(source) == ["<source>:3", "<source>:4"]
