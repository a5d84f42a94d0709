"""Uploading DICOM files through the dataset page and the API."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.catalogue.dicom_factory import deidentified, write, write_tree


def _uploads(tmp_path, *, identifying=False):
    files = sorted((tmp_path / "ok").rglob("*.dcm")) or write_tree(
        tmp_path / "ok", subjects=2, series_per_study=1, instances_per_series=2
    )
    uploads = [SimpleUploadedFile(f"image-{n}.dcm", p.read_bytes()) for n, p in enumerate(files)]
    if identifying:
        bad = write(deidentified(PatientAddress="1 Main Street"), tmp_path / "bad.dcm")
        uploads.append(SimpleUploadedFile("from-ward-3.dcm", bad.read_bytes()))
    uploads.append(SimpleUploadedFile("notes.txt", b"not a DICOM file"))
    return uploads


def test_it_indexes_an_upload_and_reports_refused_files_by_name(catalogue, client_for, tmp_path):
    client = client_for("node_operator")
    url = reverse("catalogue:dataset_ingest", args=[catalogue.published.pk])
    response = client.post(url, {"files": _uploads(tmp_path, identifying=True)})
    assert response.status_code == 200
    report = response.context["report"]
    assert len(report.accepted) == 4
    page = response.content.decode()
    assert "from-ward-3.dcm" in page and "PatientAddress" in page
    assert "notes.txt" in page
    catalogue.published.refresh_from_db()
    assert (catalogue.published.number_of_subjects, catalogue.published.number_of_studies) == (2, 2)
    assert catalogue.published.number_of_instances == 4


def test_the_page_shows_the_dataset_as_the_ingest_left_it(catalogue, client_for, tmp_path):
    client = client_for("node_operator")
    url = reverse("catalogue:dataset_ingest", args=[catalogue.published.pk])

    response = client.post(url, {"files": _uploads(tmp_path)})

    assert response.context["dataset"].number_of_instances == 4
    assert "The dataset now has 2 subjects, 2 studies and 2 series." in response.content.decode()


def test_it_needs_files(catalogue, client_for):
    client = client_for("node_operator")
    url = reverse("catalogue:dataset_ingest", args=[catalogue.published.pk])
    response = client.post(url, {})
    assert response.status_code == 200 and "This field is required" in response.content.decode()


def test_it_indexes_an_upload_through_the_api_twice_without_adding(catalogue, client_for, tmp_path):
    client = client_for("node_operator")
    url = reverse("catalogue_api:dataset_ingest", args=[catalogue.published.pk])
    first = client.post(url, {"files": _uploads(tmp_path)}).json()
    assert first["accepted"] == 4 and first["dataset"]["number_of_instances"] == 4
    assert first["unreadable"][0]["file"] == "notes.txt"
    again = client.post(url, {"files": _uploads(tmp_path)}).json()
    assert again["dataset"]["number_of_instances"] == 4


def test_it_refuses_uploads_to_another_nodes_dataset(catalogue, client_for, tmp_path):
    client = client_for("node_operator")
    url = reverse("catalogue_api:dataset_ingest", args=[catalogue.other_published.pk])
    assert client.post(url, {"files": _uploads(tmp_path)}).status_code == 404
    catalogue.other_published.refresh_from_db()
    assert catalogue.other_published.number_of_instances == 0
