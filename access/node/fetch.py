"""Fetching the portal's published documents (its JWKS, status lists, a node's study map) with
the standard library.

Rules every fetch follows: HTTPS, except plain HTTP to this machine's loopback address (a
portal or stand-in on the same host); no other scheme (``file:``, ``ftp:``); no redirects (a
document comes from the URL configured or signed, not from wherever that URL points); a timeout;
a size cap, read no further than one byte beyond it; any answer but 200 is a failure. A failure
raises :class:`FetchError`, which the verifier turns into a refusal: it never trusts a document
it could not fetch whole.
"""

import http.client
import ipaddress
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Protocol

DEFAULT_TIMEOUT = 5.0  # seconds, for connecting and for each read
DEFAULT_DEADLINE = 15.0  # seconds for the whole document (a portal dripping bytes is cut off)
# A status list of a million two-bit entries is 250 KB before compression; keys and study maps
# are smaller. Anything beyond this is refused unread.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


class FetchError(Exception):
    """A document could not be fetched whole from its URL."""


class Fetcher(Protocol):
    """What the verifier calls to fetch a document: the body's bytes, or :class:`FetchError`."""

    def __call__(self, url: str, *, accept: str) -> bytes: ...


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost`` or a loopback address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> None:
    """Refuse a URL the node may not fetch: only ``https:``, or ``http:`` to loopback, with a
    host and without credentials in it."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError as error:
        raise FetchError(f"not a URL: {error}") from None
    if not host:
        raise FetchError("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise FetchError("the URL may not carry credentials")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and is_loopback(host):
        return
    raise FetchError(f"only https (or http to loopback) may be fetched, not {parts.scheme}:")


def is_under(uri: str, base_url: str) -> bool:
    """Whether ``uri`` lies under ``base_url`` (a status list under the issuer): same scheme,
    host and port, a path below the base's, no credentials, query, fragment or dot segments
    (even percent-encoded), nothing but printable ASCII."""
    if not uri.isascii() or not uri.isprintable() or " " in uri:
        return False
    try:
        target, base = urllib.parse.urlsplit(uri), urllib.parse.urlsplit(base_url)
        target_port, base_port = target.port, base.port
    except ValueError:
        return False
    if target.scheme != base.scheme or target.scheme not in ("https", "http"):
        return False
    if target.hostname != base.hostname or target_port != base_port:
        return False
    if target.username is not None or target.password is not None:
        return False
    if target.query or target.fragment or "#" in uri or "?" in uri:
        return False
    segments = urllib.parse.unquote(target.path).split("/")
    if any(segment in (".", "..") for segment in segments) or "\\" in target.path:
        return False
    prefix = base.path.rstrip("/") + "/"
    return target.path.startswith(prefix) and len(target.path) > len(prefix)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        raise urllib.error.HTTPError(req.full_url, code, "redirects are not followed", headers, fp)


class HttpFetcher:
    """Fetch documents over HTTPS with a timeout (for connecting and each read), a deadline
    (for the whole document) and a size cap.

    ``headers`` are sent with every request (for example the node's ``Authorization`` for the
    study map); ``context`` is the TLS context (default: the system's trusted CAs, host name
    checked), for a portal whose certificate a hospital's own CA signed.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        max_bytes: int = MAX_DOCUMENT_BYTES,
        headers: Mapping[str, str] | None = None,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout = timeout
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.headers = dict(headers or {})
        self._opener = urllib.request.build_opener(
            _NoRedirects(),
            urllib.request.HTTPSHandler(context=context or ssl.create_default_context()),
        )

    def __call__(self, url: str, *, accept: str) -> bytes:
        """The body at ``url``; :class:`FetchError` unless it answers 200 within the limits."""
        check_url(url)
        deadline = time.monotonic() + self.deadline
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
            url, headers={**self.headers, "Accept": accept}
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                if response.status != 200:
                    raise FetchError(f"{url} answered {response.status}")
                length = response.headers.get("Content-Length")
                if length is not None and length.isdigit() and int(length) > self.max_bytes:
                    raise FetchError(f"{url} is larger than {self.max_bytes} bytes")
                body = self._read(url, response, deadline)
        except FetchError:
            raise
        except urllib.error.HTTPError as error:
            raise FetchError(f"{url} answered {error.code}") from None
        except (OSError, ValueError) as error:
            # URLError, timeouts, refused connections and TLS failures are all OSError.
            raise FetchError(f"{url} could not be fetched: {error}") from None
        except http.client.HTTPException as error:
            raise FetchError(f"{url} gave a broken answer: {error}") from None
        return body

    def _read(self, url: str, response: http.client.HTTPResponse, deadline: float) -> bytes:
        """The body, read as it arrives: no more than ``max_bytes``, no later than the
        deadline (the timeout bounds each read, not a trickle of them)."""
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read1(64 * 1024):
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"{url} is larger than {self.max_bytes} bytes")
            if time.monotonic() > deadline:
                raise FetchError(f"{url} took longer than {self.deadline} s")
            chunks.append(chunk)
        return b"".join(chunks)
