"""The node operator's journey through the real nginx: operators upload studies of any size
through the public door (POST /instances, STOW-RS), and the site as shipped
(``nginx-site.conf``, over TLS) sends HTTP Strict Transport Security on every answer, the
node's 401 and 403 included.

The processes start once for the module (``harness.start_node``).
"""

import datetime
import http.client as http_client
import io
import os
import ssl
import subprocess
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydicom import dcmread

from access.node.portal_link import basic_credentials
from tests.catalogue.dicom_factory import deidentified, uid, write
from tests.node.harness import CONF, NGINX, Nginx, free_port, http, start_node

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


def self_signed(root) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert, private = root / "node.pem", root / "node.key"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert), str(private)


@pytest.fixture(scope="module")
def site(node, tmp_path_factory):
    """A second nginx in front of the same node, with the site exactly as shipped but for its
    ports, certificate and the snippet's path."""
    root = tmp_path_factory.mktemp("site")
    nginx = Nginx(root, orthanc_port=node.orthanc.http_port, gatekeeper_port=node.gatekeeper.port)
    cert, key = self_signed(root)
    https, plain = free_port(), free_port()
    text = (CONF / "nginx-site.conf").read_text()
    for old, new in (
        ("listen 80;", f"listen 127.0.0.1:{plain};"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("/etc/ssl/certs/node.example.org.pem", cert),
        ("/etc/ssl/private/node.example.org.key", key),
        ("/etc/nginx/snippets/ecii-node-locations.conf", str(root / "ecii-node-locations.conf")),
    ):
        assert old in text
        text = text.replace(old, new)
    (root / "site.conf").write_text(text)
    config = nginx.config.read_text()
    start = config.index("    server {")
    config = config[:start] + f"    include {root / 'site.conf'};\n}}\n"
    nginx.config.write_text(config)
    tested = subprocess.run(
        [str(NGINX), "-t", "-p", str(root), "-c", str(nginx.config), "-e", str(root / "t.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stderr
    nginx.port = https
    nginx.start()
    yield https
    nginx.process.stop()


def https_get(port, path, headers=None):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http_client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": "node.example.org", **(headers or {})})
        answer = connection.getresponse()
        answer.read()
        return answer.status, answer.headers
    finally:
        connection.close()


def test_every_answer_of_the_site_carries_hsts_the_refusals_included(node, site):
    hsts = "max-age=63072000"
    study = node.permitted[0].uid
    status, headers = https_get(site, f"/dicom-web/studies/{study}/metadata")
    assert status == 401 and headers["Strict-Transport-Security"] == hsts
    token = node.portal.token(datasets=[node.permitted_dataset])
    bearer = {"Authorization": f"Bearer {token}"}
    status, headers = https_get(site, f"/dicom-web/studies/{node.other[0].uid}/metadata", bearer)
    assert status == 403 and headers["Strict-Transport-Security"] == hsts
    assert headers["WWW-Authenticate"].startswith("Bearer")
    status, headers = https_get(site, f"/dicom-web/studies/{study}/metadata", bearer)
    assert status == 200 and headers.get_all("Strict-Transport-Security") == [hsts]
    status, headers = https_get(site, "/system", operator(node))
    assert status == 200 and headers["Strict-Transport-Security"] == hsts


def test_plain_http_answers_carry_no_hsts(node):
    status, headers, _body = http("GET", node.nginx.url + "/system")
    assert status == 401 and "Strict-Transport-Security" not in headers
