"""mypy with django-stubs checks the services, selectors, access rules and notifications, and
access.node ([tool.mypy] in pyproject.toml); access.node once more as Python 3.11 code, what it
runs on at hospitals. These tests run it as `make types` (in `make lint` and CI) does, and show
that it refuses a type error in a service, a model field misread through the stubs, an
unannotated selector, and standard library calls that Python 3.11 lacks in the node package."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("portal", "catalogue", "consent", "access")
MYPY = Path(sys.executable).parent / "mypy"
# The second run of `make types`.
AS_PYTHON_311 = ("--python-version", "3.11", "--no-warn-unused-configs", "-p", "access.node")


def _mypy(cwd: Path, cache: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MYPY, "--cache-dir", str(cache), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_code_base_type_checks(tmp_path):
    result = _mypy(ROOT, tmp_path / "cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_the_node_package_type_checks_as_python_3_11(tmp_path):
    result = _mypy(ROOT, tmp_path / "cache", *AS_PYTHON_311)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def _copy_of_the_code_base(tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    for app in APPS:
        shutil.copytree(
            ROOT / app, copy / app, ignore=shutil.ignore_patterns("__pycache__", "static")
        )
    # The django-stubs plugin reads the models through the test settings.
    (copy / "tests").mkdir()
    for name in ("__init__.py", "settings.py"):
        shutil.copy(ROOT / "tests" / name, copy / "tests" / name)
    shutil.copy(ROOT / "pyproject.toml", copy)
    return copy


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + "\n\n" + text)


def test_it_refuses_type_errors_in_services_and_selectors(tmp_path):
    copy = _copy_of_the_code_base(tmp_path)
    _append(
        copy / "catalogue" / "services.py",
        "def dataset_label(dataset: Dataset) -> str:\n"
        "    return dataset.number_of_subjects\n"
        "\n"
        "\n"
        "def dataset_size(dataset: Dataset) -> int:\n"
        "    return dataset.number_of_subject\n",
    )
    _append(
        copy / "access" / "selectors.py",
        "def applications_of(user):\n    return Application.objects.filter(applicant=user)\n",
    )
    result = _mypy(copy, tmp_path / "cache")
    assert result.returncode == 1
    errors = {
        (line.split(":")[0], line.rsplit("[", 1)[1].rstrip("]"))
        for line in result.stdout.splitlines()
        if ": error: " in line
    }
    assert errors == {
        ("catalogue/services.py", "return-value"),  # an int field read as a str
        ("catalogue/services.py", "attr-defined"),  # a field the model does not have
        ("catalogue/services.py", "no-any-return"),
        ("access/selectors.py", "no-untyped-def"),
    }
    assert 'Incompatible return value type (got "int", expected "str")' in result.stdout
    assert '"Dataset" has no attribute "number_of_subject"' in result.stdout


def test_it_refuses_what_python_3_11_lacks_in_the_node_package(tmp_path):
    copy = _copy_of_the_code_base(tmp_path)
    _append(
        copy / "access" / "node" / "studies.py",
        "import itertools\n"
        "\n"
        "\n"
        "def pairs(uids: list[str]) -> list[tuple[str, ...]]:\n"
        "    return list(itertools.batched(uids, 2))\n",
    )
    assert _mypy(copy, tmp_path / "cache-312").returncode == 0
    result = _mypy(copy, tmp_path / "cache-311", *AS_PYTHON_311)
    assert result.returncode == 1
    assert 'Module has no attribute "batched"' in result.stdout
