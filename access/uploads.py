"""The one rule for ethics approval documents, applied alike by the application page
(``access.forms.ApplicationForm``) and the API (``access.api.ApplicationEthicsApi``).

An ethics approval is a PDF or an image (PNG, JPEG or TIFF) of at most
``settings.ETHICS_FILE_MAX_BYTES``:

- its type is decided by what the file contains (its first bytes), never by the name or the
  ``Content-Type`` the uploader's computer gave it;
- a file carrying web markup anywhere (``<script``, ``<html``, ``<svg`` ...) is refused, so a PDF
  or PNG that is also an HTML page (a polyglot) is never stored;
- it is stored under a name the portal generates from the application and the detected type.
  The uploader's file name is dropped: it is neither a path nor kept as display text.

Stored documents are served only through
``access.views.applications.application_ethics_file``, with the download headers of
``portal.downloads``.
"""

import re
import secrets
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class DocumentType:
    """A kind of file an ethics approval may be, recognised by its leading bytes."""

    extension: str
    content_type: str
    signatures: tuple[bytes, ...]


ETHICS_TYPES = (
    DocumentType("pdf", "application/pdf", (b"%PDF-",)),
    DocumentType("png", "image/png", (b"\x89PNG\r\n\x1a\n",)),
    DocumentType("jpg", "image/jpeg", (b"\xff\xd8\xff",)),
    DocumentType("tif", "image/tiff", (b"II*\x00", b"MM\x00*")),
)
# Older stored documents kept the uploader's extension; these spell the same types.
_EXTENSION_ALIASES = {"jpeg": "jpg", "tiff": "tif"}
# For the file picker only: a hint, never trusted.
ETHICS_ACCEPT = ",".join(
    [f".{t.extension}" for t in ETHICS_TYPES]
    + [".jpeg", ".tiff"]
    + sorted({t.content_type for t in ETHICS_TYPES})
)

# Markup a browser would run or render as a page: the opening of an HTML, SVG or XML-stylesheet
# document, or an element that loads or runs something. None of these appears in the binary
# structure of a PDF, PNG, JPEG or TIFF, so finding one means the file is (also) a web page.
_MARKUP = re.compile(
    rb"<(?:!doctype\s+html|\?xml-stylesheet|html|head|body|script|iframe|frame|frameset|svg"
    rb"|object|embed|img|meta|link|base|form|style|math)[\s/>]",
    re.IGNORECASE,
)
_MARKUP_OVERLAP = 32  # longer than any marker, so one split across two chunks is still found


def max_megabytes() -> str:
    """The size limit as people read it ("10 MB")."""
    size = settings.ETHICS_FILE_MAX_BYTES / (1024 * 1024)
    return f"{size:g} MB"


def ethics_help_text() -> str:
    return _("A PDF or an image (PNG, JPEG or TIFF), at most %(limit)s.") % {
        "limit": max_megabytes()
    }


def document_type(upload) -> DocumentType | None:
    """The type of ``upload`` by its leading bytes, or None when it is none of ETHICS_TYPES."""
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for kind in ETHICS_TYPES:
        if head.startswith(kind.signatures):
            return kind
    return None


def stored_type(name: str) -> DocumentType | None:
    """The type of a stored document, from the extension the portal gave it."""
    extension = PurePath(name).suffix.lower().lstrip(".")
    extension = _EXTENSION_ALIASES.get(extension, extension)
    return next((kind for kind in ETHICS_TYPES if kind.extension == extension), None)


def contains_markup(upload) -> bool:
    """Whether any part of ``upload`` holds HTML, SVG or script markup (read in chunks)."""
    tail = b""
    for chunk in upload.chunks():
        window = tail + chunk
        if _MARKUP.search(window):
            upload.seek(0)
            return True
        tail = window[-_MARKUP_OVERLAP:]
    upload.seek(0)
    return False


def ethics_document(upload: UploadedFile, *, application) -> UploadedFile:
    """Check ``upload`` against the rule for ethics approvals and return it renamed for storage.

    Refuses (ValidationError, codes ``too_big``, ``type`` and ``markup``) a file larger than
    ETHICS_FILE_MAX_BYTES, one that does not start like a PDF, PNG, JPEG or TIFF whatever its
    name, and one that carries web markup. The returned upload is stored as
    ``application-<id>-ethics-<random>.<type>`` with the detected content type.
    """
    if upload.size > settings.ETHICS_FILE_MAX_BYTES:
        raise ValidationError(
            _("The file is %(size)s MB; the limit is %(limit)s."),
            params={"size": f"{upload.size / (1024 * 1024):.1f}", "limit": max_megabytes()},
            code="too_big",
        )
    kind = document_type(upload)
    if kind is None:
        raise ValidationError(
            _("Upload the approval as a PDF or an image (PNG, JPEG or TIFF)."), code="type"
        )
    if contains_markup(upload):
        raise ValidationError(
            _(
                "The file contains web page markup, which an approval document does not need. "
                "Save or scan the approval again as a plain PDF or image and upload that."
            ),
            code="markup",
        )
    upload.name = f"application-{application.pk}-ethics-{secrets.token_hex(8)}.{kind.extension}"
    upload.content_type = kind.content_type
    return upload


def download_name(application, stored_name: str) -> str:
    """The file name a downloaded approval gets: the portal's, never the uploader's."""
    kind = stored_type(stored_name)
    return f"application-{application.pk}-ethics-approval.{kind.extension if kind else 'bin'}"
