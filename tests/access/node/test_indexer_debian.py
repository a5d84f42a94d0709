"""The indexer's reader on Debian 12's python3 with Debian 12's pydicom (2.3.1, as
python3-pydicom ships it): the same verdicts, word for word, as on the portal's Python and
pydicom, for every transfer syntax and for a file cut short."""

import fcntl
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from access.node.indexer import reader
from tests.catalogue.dicom_factory import deidentified, write

from .test_boundary import BLOCKED, BLOCKED_FINDER, NODE_PYTHONS, REPOSITORY, _debian_python

DEBIAN_PYDICOM = "2.3.1"  # python3-pydicom in Debian 12

READ = """
import json, sys
{blocked_finder}
sys.path.insert(0, {repository!r})
import pydicom
from access.node.indexer import reader
paths = json.loads(sys.argv[1])
print(json.dumps({{
    "pydicom": pydicom.__version__,
    "results": {{p: list(reader.read_header(p, "strict"))[:3] for p in paths}},
}}))
"""


def _debian_pydicom_python() -> Path:
    """Debian's python3 with pydicom at Debian 12's version, made once in ``var/``; skips
    (fails in CI) when PyPI cannot be reached."""
    debian = _debian_python()
    venv = NODE_PYTHONS / f"pydicom-{DEBIAN_PYDICOM}"
    python, ready = venv / "bin" / "python", venv / ".ready"
    if ready.exists():
        return python
    NODE_PYTHONS.mkdir(parents=True, exist_ok=True)
    with open(NODE_PYTHONS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        for step in (
            [debian, "-m", "venv", "--system-site-packages", venv],
            [python, "-m", "pip", "install", "--quiet", f"pydicom=={DEBIAN_PYDICOM}"],
        ):
            result = subprocess.run(step, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                pytest.skip(f"could not install pydicom for Debian's python3: {result.stderr}")
        ready.touch()
    return python


def test_debians_python_and_pydicom_reach_the_same_verdicts(tmp_path):
    python = _debian_pydicom_python()
    paths = []
    for syntax in (
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
        ExplicitVRBigEndian,
        DeflatedExplicitVRLittleEndian,
    ):
        good = deidentified(patient_id="Pseudo-Å", PatientName="Pseudo-Å")
        paths.append(write(good, tmp_path / f"good-{syntax}.dcm", syntax))
        bad = deidentified(OperatorsName="Riesmeier^Jörg", InstitutionName="General Hospital")
        paths.append(write(bad, tmp_path / f"bad-{syntax}.dcm", syntax))
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(paths[0].read_bytes()[:-40])
    paths.append(cut)
    script = READ.format(
        blocked_finder=BLOCKED_FINDER.format(blocked=BLOCKED), repository=str(REPOSITORY)
    )
    result = subprocess.run(
        [python, "-I", "-c", script, json.dumps([str(p) for p in paths])],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["pydicom"] == DEBIAN_PYDICOM
    here = {str(p): [str(v) for v in list(reader.read_header(p, "strict"))[:3]] for p in paths}
    assert answer["results"] == here
    assert [here[str(p)][1] for p in paths].count("accepted") == 4
    assert here[str(cut)][1] == "unreadable"
