"""Ethics approvals: one rule on the application page and the API (types by content, a size
limit, a generated stored name), hostile files refused at upload, and every download served so
that it can never render in the portal's origin."""

import re
import struct
import zlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from access.models import Application
from portal.models import AuditEvent
from tests.access.test_pages import COMPLETE

UPLOADER_NAME = "Dr Jane Roe - approval"
STORED_NAME = re.compile(r"^ethics/\d{4}/application-(\d+)-ethics-[0-9a-f]{16}\.(pdf|png|jpg|tif)$")


def _png(*chunks: tuple[bytes, bytes]) -> bytes:
    """A well-formed 1x1 PNG with extra ``(type, data)`` chunks before its image data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    body = b"".join(chunk(kind, data) for kind, data in chunks)
    pixels = chunk(b"IDAT", zlib.compress(b"\x00\x00"))
    return b"\x89PNG\r\n\x1a\n" + header + body + pixels + chunk(b"IEND", b"")


PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
TIFF = b"II*\x00\x08\x00\x00\x00" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
# An HTML page behind a PDF header: a browser that sniffs or renders it runs the script.
PDF_HTML = b"%PDF-1.7\n<html><body><script>fetch('/api/access/applications/')</script></body>"
# A valid PNG whose text chunk is a page: the classic image/HTML polyglot.
PNG_HTML = _png((b"tEXt", b"Comment\x00<svg onload=alert(document.domain)>"))
PNG_SCRIPT = _png((b"tEXt", b"Comment\x00<SCRIPT src=//evil.example/x.js></SCRIPT>"))


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _via_page(client, application, upload):
    response = client.post(
        reverse("access:application_edit", args=[application.pk]),
        {**COMPLETE, "title": application.title, "ethics_approval": upload},
    )
    if response.status_code == 302:
        return None
    assert response.status_code == 200
    return " ".join(response.context["form"].errors.get("ethics_approval", ["(no error)"]))


def _via_api(client, application, upload):
    url = reverse("access_api:application_ethics", kwargs={"pk": application.pk})
    response = client.post(url, {"file": upload})
    if response.status_code == 200:
        return None
    assert response.status_code == 400, response.content
    return " ".join(response.json()["errors"]["file"])


SURFACES = {"page": _via_page, "api": _via_api}


def _state(application, media):
    row = Application.objects.filter(pk=application.pk).values().get()
    files = sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())
    return row, files, AuditEvent.objects.filter(action__startswith="access.").count()


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize(
    ("content", "uploaded_as", "stored_as"),
    [
        (PDF, f"../../{UPLOADER_NAME}.pdf", "pdf"),
        (TIFF, f"{UPLOADER_NAME}.tiff", "tif"),
        (JPEG, f"{UPLOADER_NAME}.jpeg", "jpg"),
        (_png(), f"{UPLOADER_NAME}.pdf", "png"),  # the content decides, not the name
    ],
    ids=["pdf", "tiff", "jpeg", "png-named-pdf"],
)
def test_it_stores_an_approval_by_its_content_under_a_generated_name(
    access, client_for, surface, content, uploaded_as, stored_as
):
    upload = SimpleUploadedFile(uploaded_as, content, content_type="text/html")
    assert SURFACES[surface](client_for("researcher"), access.draft, upload) is None
    stored = Application.objects.get(pk=access.draft.pk).ethics_approval
    match = STORED_NAME.match(stored.name)
    assert match, stored.name
    assert match.groups() == (str(access.draft.pk), stored_as)
    assert "Roe" not in stored.name and "approval" not in stored.name
    assert stored.read() == content


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04 an office document", "PDF or an image (PNG, JPEG or TIFF)"),
        (b"<!DOCTYPE html><html><script>alert(1)</script>", "PDF or an image (PNG, JPEG or TIFF)"),
        (PDF_HTML, "web page markup"),
        (PNG_HTML, "web page markup"),
        (PNG_SCRIPT, "web page markup"),
        (b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024), "the limit is 10 MB"),
    ],
    ids=["office", "html", "pdf-html-polyglot", "png-svg-polyglot", "png-script", "too-big"],
)
def test_it_refuses_the_same_files_on_the_page_and_the_api(
    access, client_for, tmp_path, surface, content, message
):
    before = _state(access.draft, tmp_path)
    upload = SimpleUploadedFile("approval.pdf", content, content_type="application/pdf")
    error = SURFACES[surface](client_for("researcher"), access.draft, upload)
    assert error is not None and message in error
    assert _state(access.draft, tmp_path) == before


def test_it_finds_markup_split_across_two_chunks(access, client_for, tmp_path):
    # A file over 2.5 MB is kept on disk and read in 64 KiB chunks; the marker straddles the
    # boundary after the 48th chunk.
    boundary = 48 * 64 * 1024
    content = b"%PDF-1.7\n" + b"0" * (boundary - 12) + b"<script>alert(1)</script>"
    before = _state(access.draft, tmp_path)
    upload = SimpleUploadedFile("approval.pdf", content)
    assert "web page markup" in _via_api(client_for("researcher"), access.draft, upload)
    assert _state(access.draft, tmp_path) == before


# --- Downloads ------------------------------------------------------------------------------


def _store_as_before_the_rule(application, name, content):
    """A document stored under an earlier rule (any name, no markup check), as production
    databases hold them: the download must be safe for those too."""
    stored = default_storage.save(name, ContentFile(content))
    Application.objects.filter(pk=application.pk).update(ethics_approval=stored)


@pytest.mark.parametrize(
    ("name", "content", "content_type", "extension"),
    [
        ("ethics/2025/Jane Roe approval.pdf", PDF_HTML, "application/pdf", "pdf"),
        ("ethics/2025/scan.png", PNG_HTML, "image/png", "png"),
        ("ethics/2025/scan.TIFF", TIFF, "image/tiff", "tif"),
    ],
    ids=["pdf-html-polyglot", "png-html-polyglot", "tiff"],
)
def test_it_serves_a_stored_document_only_as_a_sandboxed_attachment(
    access, client_for, name, content, content_type, extension
):
    _store_as_before_the_rule(access.submitted, name, content)
    url = reverse("access:ethics_file", args=[access.submitted.pk])
    for persona in ["researcher", "committee_member"]:
        response = client_for(persona).get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == content
        assert response["Content-Type"] == content_type
        assert response["Content-Disposition"] == (
            f'attachment; filename="application-{access.submitted.pk}-ethics-approval.{extension}"'
        )
        assert response["X-Content-Type-Options"] == "nosniff"
        policy = [p.strip() for p in response["Content-Security-Policy"].split(";")]
        assert "sandbox" in policy and "default-src 'none'" in policy
        assert response["Cache-Control"] == "private, no-store"


def test_it_serves_a_newly_uploaded_document_the_same_way(access, client_for):
    researcher = client_for("researcher")
    assert _via_page(researcher, access.draft, SimpleUploadedFile("x.pdf", PDF)) is None
    response = researcher.get(reverse("access:ethics_file", args=[access.draft.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]
