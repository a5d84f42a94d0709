"""Ingest: walking folders, gating headers, indexing studies/series/instances, the command."""

import os
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalogue.ingest import IngestPathError, collect_files, ingest_paths
from catalogue.models import Dataset, Instance, Series, Study
from portal.models import AuditEvent
from tests.catalogue.dicom_factory import deidentified, uid, write, write_tree

pytestmark = pytest.mark.django_db


def _index(dataset):
    """The dataset's index as comparable tuples."""
    return sorted(
        Instance.objects.filter(series__study__dataset=dataset).values_list(
            "series__study__study_instance_uid",
            "series__study__subject",
            "series__series_instance_uid",
            "series__modality",
            "series__body_part",
            "series__instance_count",
            "sop_instance_uid",
        )
    )


def _bad_files(folder):
    """One identifying, one truncated, one text and one empty file in ``folder``."""
    identifying = write(
        deidentified(patient_id="SUBJ-0001", PatientAddress="1 Main Street"),
        folder / "identifying.dcm",
    )
    whole = write(deidentified(), folder / "whole.tmp").read_bytes()
    (folder / "whole.tmp").unlink()
    truncated = folder / "truncated.dcm"
    truncated.write_bytes(whole[: len(whole) // 2])
    text = folder / "README.txt"
    text.write_text("Exported from the PACS\n")
    empty = folder / "empty.dcm"
    empty.write_bytes(b"")
    return identifying, truncated, text, empty


def test_it_indexes_a_deidentified_folder_and_counts_the_dataset(tmp_path, ingest_dataset):
    paths = write_tree(tmp_path, subjects=3, series_per_study=2, instances_per_series=4)
    report = ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)

    assert report.files == 24 and len(report.accepted) == 24
    assert sorted(report.accepted) == sorted(str(p) for p in paths)
    assert (report.refused, report.unreadable, report.already_indexed) == ([], [], 0)
    assert (report.new_studies, report.new_series, report.new_instances) == (3, 6, 24)
    dataset = Dataset.objects.get(pk=ingest_dataset.pk)
    assert dataset.number_of_subjects == 3
    assert dataset.number_of_studies == 3
    assert dataset.number_of_series == 6
    assert dataset.number_of_instances == 24
    assert dataset.modalities == ["CT", "MR"]
    assert dataset.body_parts == ["CHEST"]
    assert set(dataset.terms.filter(facet="modality").values_list("value", flat=True)) == {
        "CT",
        "MR",
    }
    assert set(Series.objects.values_list("instance_count", flat=True)) == {4}
    assert set(Study.objects.values_list("subject", flat=True)) == {
        "SUBJ-0001",
        "SUBJ-0002",
        "SUBJ-0003",
    }


def test_the_report_carries_the_dataset_as_the_ingest_left_it(tmp_path, ingest_dataset):
    write_tree(tmp_path, subjects=2, series_per_study=2, instances_per_series=3)

    report = ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)

    ingested = report.dataset
    assert ingested.pk == ingest_dataset.pk
    counts = ("number_of_subjects", "number_of_studies", "number_of_series", "number_of_instances")
    assert [getattr(ingested, name) for name in counts] == [2, 2, 4, 12]
    assert (ingested.modalities, ingested.body_parts) == (["CT", "MR"], ["CHEST"])
    stored = Dataset.objects.get(pk=ingest_dataset.pk)
    assert [getattr(stored, name) for name in counts] == [2, 2, 4, 12]
    assert ingested.node.name == stored.node.name


def test_running_twice_adds_nothing(tmp_path, ingest_dataset):
    write_tree(tmp_path, subjects=2)
    ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)
    before = _index(ingest_dataset)

    again = ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)

    assert again.accepted == [] and again.already_indexed == 12
    assert (again.new_studies, again.new_series, again.new_instances) == (0, 0, 0)
    assert _index(ingest_dataset) == before
    assert Study.objects.count() == 2 and Series.objects.count() == 4


def test_it_adds_new_instances_to_known_series(tmp_path, ingest_dataset):
    study, series = uid(), uid()
    first = write(deidentified(study_uid=study, series_uid=series), tmp_path / "a" / "1.dcm")
    ingest_paths(dataset=ingest_dataset, paths=[first], workers=1)
    write(deidentified(study_uid=study, series_uid=series), tmp_path / "b" / "2.dcm")

    report = ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)

    assert (report.new_studies, report.new_series, report.new_instances) == (0, 0, 1)
    assert report.already_indexed == 1
    assert Series.objects.get().instance_count == 2


def test_it_reports_exactly_the_identifying_file(tmp_path, ingest_dataset):
    write_tree(tmp_path / "good", subjects=1)
    bad = write(
        deidentified(patient_id="SUBJ-0009", PatientAddress="1 Main Street"),
        tmp_path / "good" / "zz.dcm",
    )

    report = ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)

    assert len(report.accepted) == 6
    assert report.refused == [
        (str(bad), "(0010,1040) PatientAddress still has a value (PS3.15 basic profile: X)")
    ]
    assert not Study.objects.filter(subject="SUBJ-0009").exists()


def test_nothing_is_indexed_for_refused_files(tmp_path, ingest_dataset):
    write(deidentified(PatientIdentityRemoved="NO"), tmp_path / "a.dcm")
    write(deidentified(StudyDate="20200101"), tmp_path / "b.dcm")

    report = ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)

    assert [reason.split(" ")[0] for _, reason in report.refused] == ["(0012,0062)", "(0008,0020)"]
    assert not Study.objects.exists() and not Instance.objects.exists()
    assert Dataset.objects.get(pk=ingest_dataset.pk).number_of_instances == 0


def test_bad_files_are_reported_and_never_stop_the_ingest(tmp_path, ingest_dataset):
    write_tree(tmp_path, subjects=1)
    identifying, truncated, text, empty = _bad_files(tmp_path)

    report = ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)

    assert len(report.accepted) == 6
    assert [path for path, _ in report.refused] == [str(identifying)]
    unreadable = dict(report.unreadable)
    assert set(unreadable) == {str(truncated), str(text), str(empty)}
    assert unreadable[str(truncated)].startswith("truncated")
    assert unreadable[str(text)].startswith("not a DICOM file")
    assert unreadable[str(empty)] == "empty file"


def test_a_study_keeps_one_subject(tmp_path, ingest_dataset):
    study = uid()
    write(deidentified(patient_id="SUBJ-A", study_uid=study), tmp_path / "1.dcm")
    other = write(deidentified(patient_id="SUBJ-B", study_uid=study), tmp_path / "2.dcm")

    report = ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)

    assert len(report.accepted) == 1
    assert report.refused == [
        (
            str(other),
            f"PatientID 'SUBJ-B' differs from 'SUBJ-A', the subject already indexed for study "
            f"{study} in this dataset",
        )
    ]
    # Also against what an earlier ingest indexed.
    late = write(deidentified(patient_id="SUBJ-C", study_uid=study), tmp_path / "later" / "3.dcm")
    again = ingest_paths(dataset=ingest_dataset, paths=[late], workers=1)
    assert again.accepted == [] and "differs from 'SUBJ-A'" in again.refused[0][1]
    assert list(Study.objects.values_list("subject", flat=True)) == ["SUBJ-A"]


def test_a_series_stays_in_its_study(tmp_path, ingest_dataset):
    series = uid()
    write(deidentified(study_uid=uid(), series_uid=series), tmp_path / "1.dcm")
    moved = write(deidentified(study_uid=uid(), series_uid=series), tmp_path / "2.dcm")

    report = ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)

    assert report.refused[0][0] == str(moved)
    assert "is already indexed in study" in report.refused[0][1]


def test_the_same_instance_twice_in_one_run_is_indexed_once(tmp_path, ingest_dataset):
    ds = deidentified()
    write(ds, tmp_path / "a.dcm")
    write(ds, tmp_path / "b.dcm")

    report = ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)

    assert len(report.accepted) == 1 and report.already_indexed == 1
    assert Instance.objects.count() == 1 and Series.objects.get().instance_count == 1


def test_studies_are_indexed_per_dataset(tmp_path, ingest_dataset, make_ingest_dataset):
    write_tree(tmp_path, subjects=1)
    ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)
    first = _index(ingest_dataset)
    second = make_ingest_dataset(title="Second collection")

    report = ingest_paths(dataset=second, paths=[tmp_path], workers=1)

    assert len(report.accepted) == 6 and report.new_studies == 1
    assert _index(ingest_dataset) == first  # nothing moved
    assert _index(second) == first
    assert Study.objects.count() == 2


def test_two_workers_give_the_same_result_as_one(tmp_path, ingest_dataset, make_ingest_dataset):
    write_tree(tmp_path, subjects=3, instances_per_series=5)
    _bad_files(tmp_path)
    one = ingest_paths(dataset=ingest_dataset, paths=[tmp_path], workers=1)
    other = make_ingest_dataset(title="Parallel")

    two = ingest_paths(dataset=other, paths=[tmp_path], workers=2)

    assert two.counts() == one.counts()
    assert (two.accepted, two.refused, two.unreadable) == (
        one.accepted,
        one.refused,
        one.unreadable,
    )
    assert _index(other) == _index(ingest_dataset)


def test_it_records_one_audit_event_with_the_counts(tmp_path, ingest_dataset, personas):
    write_tree(tmp_path, subjects=1)
    _bad_files(tmp_path)

    ingest_paths(
        dataset=ingest_dataset, paths=[tmp_path], workers=1, actor=personas["node_operator"]
    )

    event = AuditEvent.objects.get(action="catalogue.dataset.ingested")
    assert event.object_id == str(ingest_dataset.pk)
    assert event.actor == personas["node_operator"]
    assert event.details == {
        "gate_profile": "strict",
        "files": 10,
        "accepted": 6,
        "already_indexed": 0,
        "refused": 1,
        "unreadable": 3,
        "new_studies": 1,
        "new_series": 2,
        "new_instances": 6,
        "subjects": 1,
        "studies": 1,
        "series": 2,
        "instances": 6,
    }
    assert str(tmp_path) not in str(event.details)


def test_it_walks_folders_and_follows_links_to_files(tmp_path):
    (tmp_path / "b" / "c").mkdir(parents=True)
    (tmp_path / "b" / "c" / "2.dcm").write_bytes(b"x")
    (tmp_path / "a.dcm").write_bytes(b"x")
    (tmp_path / ".hidden").write_bytes(b"x")
    os.symlink(tmp_path / "a.dcm", tmp_path / "b" / "link.dcm")
    os.symlink(tmp_path / "b", tmp_path / "loop")  # a link to a folder is not followed
    os.symlink(tmp_path / "gone", tmp_path / "broken")
    os.mkfifo(tmp_path / "pipe")

    files = collect_files([tmp_path, tmp_path / "a.dcm"])

    assert [os.path.relpath(f, tmp_path) for f in files] == [
        ".hidden",
        "a.dcm",
        "b/link.dcm",
        "b/c/2.dcm",
    ]
    with pytest.raises(IngestPathError, match="does not exist"):
        collect_files([tmp_path / "nowhere"])


def test_it_reports_progress(tmp_path, ingest_dataset):
    write_tree(tmp_path, subjects=1)
    calls = []

    ingest_paths(
        dataset=ingest_dataset, paths=[tmp_path], workers=1, progress=lambda *a: calls.append(a)
    )

    assert calls[0] == (0, 6) and calls[-1] == (6, 6) and len(calls) == 7


def test_the_command_prints_the_report_and_the_progress(tmp_path, ingest_dataset, capsys):
    write_tree(tmp_path, subjects=2)
    identifying, truncated, text, empty = _bad_files(tmp_path)

    call_command("ingest_dicom", "--dataset", str(ingest_dataset.pk), "--workers", "1", tmp_path)

    out, err = capsys.readouterr()
    assert re.search(r"\r\[#{30}\] 16/16 files", err)
    assert err.endswith("\n")
    assert (
        f'Ingest into dataset {ingest_dataset.pk} "Ingest test collection": 16 files, '
        "strict de-identification gate"
    ) in out
    assert "Accepted: 12 (new instances 12, new studies 2, new series 4)" in out
    assert "Already indexed: 0" in out
    assert "Refused: 1" in out
    assert f"  {identifying}: (0010,1040) PatientAddress still has a value" in out
    assert "Unreadable: 3" in out
    assert f"  {empty}: empty file" in out
    assert f"  {text}: not a DICOM file" in out
    assert f"  {truncated}: truncated" in out
    assert "Dataset now: 2 subjects, 2 studies, 4 series, 12 instances; modalities: CT, MR" in out

    call_command("ingest_dicom", "--dataset", str(ingest_dataset.pk), str(tmp_path))
    out, _ = capsys.readouterr()
    assert "Accepted: 0 (new instances 0, new studies 0, new series 0)" in out
    assert "Already indexed: 12" in out


@pytest.mark.parametrize("value", ["999999", "abc"])
def test_the_command_refuses_an_unknown_dataset(tmp_path, value):
    with pytest.raises(CommandError, match="No dataset with id"):
        call_command("ingest_dicom", "--dataset", value, str(tmp_path))


def test_the_command_refuses_a_missing_path(tmp_path, ingest_dataset):
    with pytest.raises(CommandError, match=r"No such file or folder: .*nowhere"):
        call_command("ingest_dicom", "--dataset", str(ingest_dataset.pk), str(tmp_path / "nowhere"))
    assert not AuditEvent.objects.filter(action="catalogue.dataset.ingested").exists()
