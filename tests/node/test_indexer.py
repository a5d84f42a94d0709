"""The node-side indexer (``python3 -m access.node.indexer``) against the live portal: from a
folder of generated files, and from a real Orthanc over its REST API (with an operator's
credentials). Only the header index of files that pass the node's gate reaches the portal;
a run again sends nothing; new files are picked up."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from access import services
from catalogue.models import Instance, Series, Study
from catalogue.services import dataset_create, node_create
from portal.models import AuditEvent
from tests.catalogue.dicom_factory import deidentified, uid, write, write_tree
from tests.conftest import dataset_fields
from tests.node.harness import ORTHANC, Orthanc, Process, http, require_node_binaries, wait_until

REPOSITORY = Path(__file__).resolve().parents[2]
AUDIENCE = "urn:ecii:node:indexer"


@pytest.fixture
def portal(live_server, tmp_path):
    node = node_create(
        actor=None,
        name="Indexing node",
        slug="indexing",
        organisation="University Hospital",
        country="NO",
        contact_email="node@example.org",
        dicomweb_base_url="https://node.example.org/dicom-web",
        audience=AUDIENCE,
    )
    dataset = dataset_create(node=node, actor=None, **dataset_fields(title="Chest CT"))
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(services.node_secret_issue(node=node))
    secret_file.chmod(0o600)
    arguments = ["--portal", live_server.url, "--node", AUDIENCE]
    arguments += ["--client-secret-file", str(secret_file), "--dataset", str(dataset.pk)]
    arguments += ["--state", str(tmp_path / "index.state")]
    return dataset, arguments


def _index(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "access.node.indexer", *arguments],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
        timeout=300,
        check=False,
    )


def _counts(dataset):
    return (
        Study.objects.filter(dataset=dataset).count(),
        Series.objects.filter(study__dataset=dataset).count(),
        Instance.objects.filter(series__study__dataset=dataset).count(),
    )


def test_it_indexes_a_folder_and_a_run_again_sends_nothing(portal, tmp_path):
    dataset, arguments = portal
    folder = tmp_path / "dicom"
    write_tree(folder, subjects=2, series_per_study=2, instances_per_series=3)  # 12 files
    write(deidentified(OperatorsName="Riesmeier^Jörg"), folder / "named.dcm")
    write(deidentified(PatientIdentityRemoved="NO"), folder / "identified.dcm")
    (folder / "notes.txt").write_text("not an image")
    write(deidentified(patient_id="SUBJ-T", Manufacturer="Tab\tMedical"), folder / "tab.dcm")

    first = _index(*arguments, "--workers", "2", "--batch", "5", str(folder))
    assert first.returncode == 0, first.stderr
    assert "sent: 13 in 3 batch(es); new at the portal: 13" in first.stdout
    assert "Refused by the gate: 2" in first.stdout
    assert "named.dcm: (0008,1070) OperatorsName holds a person's name" in first.stdout
    assert "identified.dcm: (0012,0062) PatientIdentityRemoved is 'NO'" in first.stdout
    assert "Unreadable: 1" in first.stdout and "notes.txt: not a DICOM file" in first.stdout
    assert "16/16 files" in first.stderr  # the progress bar, as plain lines when not a TTY
    assert _counts(dataset) == (3, 5, 13)
    dataset.refresh_from_db()
    assert dataset.number_of_subjects == 3 and dataset.number_of_instances == 13
    made_by = Series.objects.filter(study__dataset=dataset, manufacturer="Example Medical")
    assert made_by.count() == 4
    # a control character in a descriptive value is sent as a space, not a refused batch
    assert Series.objects.filter(study__dataset=dataset, manufacturer="Tab Medical").exists()
    events = AuditEvent.objects.filter(action="catalogue.dataset.ingested")
    assert events.count() == 3
    assert sum(event.details["refused"] for event in events) == 2

    audit_events = AuditEvent.objects.count()
    again = _index(*arguments, str(folder))
    assert again.returncode == 0, again.stderr
    assert "Files: 16 (13 indexed by an earlier run); sent: 0 in 0 batch(es)" in again.stdout
    assert AuditEvent.objects.count() == audit_events
    assert _counts(dataset) == (3, 5, 13)

    write_tree(folder / "later", subjects=1, series_per_study=1, instances_per_series=2)
    later = _index(*arguments, str(folder))
    assert later.returncode == 0, later.stderr
    assert "sent: 2 in 1 batch(es); new at the portal: 2" in later.stdout
    assert _counts(dataset) == (4, 6, 15)


def test_another_nodes_dataset_stops_the_run(portal, tmp_path):
    """Run with the gatekeeper's configuration file, as docs/node.md shows."""
    _ours, arguments = portal
    elsewhere = node_create(
        actor=None,
        name="Another node",
        slug="another",
        organisation="Another Hospital",
        country="ES",
        contact_email="another@example.org",
        dicomweb_base_url="https://another.example.org/dicom-web",
        audience="urn:ecii:node:another",
    )
    theirs = dataset_create(node=elsewhere, actor=None, **dataset_fields(title="Theirs"))
    folder = tmp_path / "dicom"
    write_tree(folder, subjects=1, series_per_study=1, instances_per_series=1)
    # The portal, the node's id and its secret, from the gatekeeper's configuration file.
    secret_file = arguments[arguments.index("--client-secret-file") + 1]
    config = tmp_path / "gatekeeper.toml"
    config.write_text(
        f'[portal]\nissuer = "{arguments[1]}"\n\n'
        f'[node]\naudience = "{AUDIENCE}"\nclient_secret_file = "{secret_file}"\n'
    )
    state = str(tmp_path / "theirs.state")
    result = _index(
        "--config", str(config), "--dataset", str(theirs.pk), "--state", state, str(folder)
    )
    assert result.returncode == 1
    assert f"the portal has no dataset {theirs.pk} of this node (404)" in result.stderr
    assert not Study.objects.filter(dataset=theirs).exists()


def test_it_fills_a_dataset_from_a_real_orthanc(portal, tmp_path):
    """The issue's "done when": the node-side indexer fills a dataset from a real Orthanc."""
    require_node_binaries()
    dataset, arguments = portal
    orthanc = Orthanc(tmp_path / "orthanc")
    settings = json.loads(orthanc.config.read_text())
    settings.update(AuthenticationEnabled=True, RegisteredUsers={"operator": "op-secret"})
    orthanc.config.write_text(json.dumps(settings))
    auth = {"Authorization": "Basic b3BlcmF0b3I6b3Atc2VjcmV0"}  # operator:op-secret
    orthanc.process = None
    try:
        orthanc.process = Process([str(ORTHANC), str(orthanc.config)], tmp_path / "orthanc.log")
        wait_until(
            lambda: http("GET", orthanc.url + "/system", headers=auth)[0] == 200, what="Orthanc"
        )
        studies = {}
        for subject in ("SUBJ-A", "SUBJ-B"):
            study, series = uid(), uid()
            studies[study] = subject
            for _ in range(3):
                ds = deidentified(patient_id=subject, study_uid=study, series_uid=series)
                path = write(ds, tmp_path / "files" / f"{uid()}.dcm")
                status, _h, body = http(
                    "POST",
                    orthanc.url + "/instances",
                    body=path.read_bytes(),
                    headers={**auth, "Content-Type": "application/dicom"},
                )
                assert status == 200, body
        refused = deidentified(patient_id="SUBJ-C", InstitutionName="General Hospital")
        path = write(refused, tmp_path / "files" / "refused.dcm")
        status, _h, _b = http("POST", orthanc.url + "/instances", body=path.read_bytes(),
                              headers={**auth, "Content-Type": "application/dicom"})  # fmt: skip
        assert status == 200

        password = tmp_path / "orthanc-password"
        password.write_text("op-secret")
        password.chmod(0o600)
        without = _index(*arguments, "--orthanc", orthanc.url)
        assert without.returncode == 1 and "answered 401" in without.stderr

        result = _index(
            *arguments,
            "--orthanc", orthanc.url,
            "--orthanc-user", "operator",
            "--orthanc-password-file", str(password),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "sent: 6 in 1 batch(es); new at the portal: 6" in result.stdout
        assert "(0008,0080) InstitutionName still has a value (strict profile" in result.stdout
        indexed = dict(
            Study.objects.filter(dataset=dataset).values_list("study_instance_uid", "subject")
        )
        assert indexed == studies
        assert _counts(dataset) == (2, 2, 6)

        again = _index(
            *arguments,
            "--orthanc", orthanc.url,
            "--orthanc-user", "operator",
            "--orthanc-password-file", str(password),
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert "(6 indexed by an earlier run); sent: 0" in again.stdout
    finally:
        if orthanc.process is not None:
            orthanc.process.stop()
