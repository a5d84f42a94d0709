"""The node operator's journey through the real nginx: operators upload studies of any size
through the public door (POST /instances, STOW-RS), and the node's refusals keep the site's
HTTP Strict Transport Security header.

The processes start once for the module (``harness.start_node``).
"""

import io
import os
import uuid

import pytest
from pydicom import dcmread

from access.node.portal_link import basic_credentials
from tests.catalogue.dicom_factory import deidentified, uid, write
from tests.node.harness import http, start_node

SIZE = 1024  # pixels a side: 2 MB of pixel data, over nginx's default body limit of 1 MB


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = start_node(tmp_path_factory.mktemp("operator"), permitted=1, other=1)
    yield node
    node.stop()


def large_instance(root) -> tuple[bytes, str]:
    """A de-identified DICOM file of over 2 MB and its StudyInstanceUID."""
    study = uid()
    dataset = deidentified(
        patient_id="SUBJ-UPLOAD",
        study_uid=study,
        series_uid=uid(),
        Rows=SIZE,
        Columns=SIZE,
        PixelData=os.urandom(SIZE * SIZE * 2),
    )
    path = write(dataset, root / f"{uuid.uuid4()}.dcm")
    buffer = io.BytesIO()
    dcmread(path).save_as(buffer, enforce_file_format=True)
    return buffer.getvalue(), study


def operator(node) -> dict[str, str]:
    return {"Authorization": basic_credentials(*node.operator)}


def test_an_operator_uploads_an_instance_over_1_mb_through_the_rest_api(node, tmp_path):
    data, study = large_instance(tmp_path)
    assert len(data) > 2 * 1024 * 1024
    status, _headers, body = http(
        "POST",
        node.nginx.url + "/instances",
        headers={**operator(node), "Content-Type": "application/dicom"},
        body=data,
    )
    assert status == 200, body
    status, _headers, body = http(
        "GET",
        node.nginx.url + f"/dicom-web/studies?StudyInstanceUID={study}",
        headers=operator(node),
    )
    assert status == 200 and study.encode() in body


def test_an_operator_stores_a_study_over_1_mb_with_stow_rs(node, tmp_path):
    data, study = large_instance(tmp_path)
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, _headers, answer = http(
        "POST",
        node.nginx.url + "/dicom-web/studies",
        headers={
            **operator(node),
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Accept": "application/dicom+json",
        },
        body=body,
    )
    assert status == 200, answer
    assert study.encode() in answer
