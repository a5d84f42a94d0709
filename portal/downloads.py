"""How the portal hands out files that people uploaded. Every route that serves a stored file
answers through ``stored_file_response``, so none can be rendered in the portal's origin.

An uploaded file may be hostile whatever checks it passed: an HTML page behind a ``%PDF-``
header, or a PNG that is also a page with script. Served with these headers, a browser saves it
(``Content-Disposition: attachment``), does not guess a type other than the one declared
(``X-Content-Type-Options: nosniff``), and, should it display the file anyway, runs it in a
sandbox of its own with no script, no plugin, no request to any origin and no access to the
portal's cookies or pages (``Content-Security-Policy: sandbox; default-src 'none'``).
"""

from django.http import FileResponse

# A unique, opaque origin (no allow-* tokens), nothing loaded, not framable, no form posts.
DOWNLOAD_CSP = (
    "sandbox; default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def stored_file_response(handle, *, filename: str, content_type: str) -> FileResponse:
    """A download of ``handle`` (an open stored file) as ``filename``: an attachment that is
    never sniffed, cached or rendered in the portal's origin."""
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
