"""The node's side of its conversation with the portal: it syncs the signed study map and sends
back signed access reports, authenticated as the node.

- The node authenticates with its client id (its audience) and secret, HTTP Basic as
  ``client_secret_basic`` (RFC 6749 section 2.3.1: both form-urlencoded before Base64).
- The study map (``studymap+jwt``) is verified like a token, by the verifier with the portal's
  keys (signature against the allow-list, ``typ``, ``iss``, ``exp``), and its ``aud`` must be
  this node. A failed sync keeps the last good map until its ``exp``; after that no study is
  served (fail closed).
- Access reports (``accessreport+jwt``, the wire format of :mod:`.reports`) are signed with the
  node's own key. Each batch is signed once, written to the spool directory, and posted until
  the portal accepts it; the portal stores a batch once by its ``jti``, so a retry never counts
  twice, and batches wait in the spool while the portal is unreachable.
"""

import base64
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from . import reports
from .fetch import FetchError, HttpFetcher
from .studies import MAP_TYPE, InvalidStudyMap, StudyMap

log = logging.getLogger("ecii.gatekeeper")

MAX_ANSWER_BYTES = 64 * 1024 * 1024  # a study-level search answer of a large node
# The study map lists every study of the node: about 160 bytes each once signed (64-character
# UIDs), so 64 MiB holds some 400,000 studies; the documents the verifier reads otherwise (keys,
# status lists) stop at 4 MiB, which a node of 26,000 studies would already pass.
MAX_STUDY_MAP_BYTES = 64 * 1024 * 1024
STUDY_MAP_DEADLINE = 300.0  # seconds for the whole map: it is synced in the background
MAX_SPOOLED_BATCHES = 100_000
# The claims of one report batch: base64url makes 120 KB of it, under the 128,000 bytes joserfc
# (and so the portal) reads of a JWS payload by default. About 500 events.
MAX_BATCH_JSON_BYTES = 90_000


class PortalError(Exception):
    """The portal (or the image server) could not be reached, or answered with something the
    node cannot use."""


def basic_credentials(client_id: str, secret: str) -> str:
    """The ``Authorization`` value of ``client_secret_basic`` (RFC 6749 section 2.3.1)."""
    pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def http_request(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
    max_bytes: int = MAX_ANSWER_BYTES,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP exchange with a timeout and a size cap on the answer (to the portal's report
    endpoint, or to the image server on loopback). Raises :class:`PortalError` on a network
    failure or an oversized answer; an HTTP error status is returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310 (URLs from the checked configuration)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            status, answer_headers = answer.status, dict(answer.headers.items())
            data = answer.read(max_bytes + 1)
    except urllib.error.HTTPError as error:
        status, answer_headers = error.code, dict(error.headers.items())
        data = error.read(max_bytes + 1)
    except (OSError, ValueError) as error:
        raise PortalError(f"{method} {url}: {error}") from None
    if len(data) > max_bytes:
        raise PortalError(f"{method} {url}: the answer is larger than {max_bytes} bytes")
    return status, answer_headers, data


class SignedReader(Protocol):
    """Reads a document the portal signed (``access.node.verifier.Verifier.read_signed``)."""

    def read_signed(
        self, document: bytes | str, *, typ: str, max_bytes: int = ...
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class LoadedMap:
    study_map: StudyMap
    expires: int
    ttl: float | None
    synced_at: float


class StudyMapStore:
    """The current study map of this node, synced from the portal on a schedule.

    ``current()`` is the map while it has not expired, else ``None`` (the gatekeeper then
    refuses every study).
    """

    def __init__(
        self,
        *,
        url: str,
        audience: str,
        authorization: str,
        reader: SignedReader,
        refresh: float = 300.0,
        leeway: int = 30,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url, self.audience, self.reader = url, audience, reader
        self.fetcher = HttpFetcher(
            timeout=timeout,
            deadline=STUDY_MAP_DEADLINE,
            max_bytes=MAX_STUDY_MAP_BYTES,
            headers={"Authorization": authorization},
        )
        self.refresh_every, self.leeway, self.clock = refresh, leeway, clock
        self.loaded: LoadedMap | None = None

    def current(self) -> StudyMap | None:
        loaded = self.loaded
        if loaded is None or self.clock() >= loaded.expires + self.leeway:
            return None
        return loaded.study_map

    def sync(self) -> StudyMap:
        """Fetch, verify and install the portal's current map; raises :class:`PortalError`
        (and keeps the previous map)."""
        try:
            document = self.fetcher(self.url, accept=f"application/{MAP_TYPE}, application/jwt")
            claims = self.reader.read_signed(document, typ=MAP_TYPE, max_bytes=MAX_STUDY_MAP_BYTES)
        except FetchError as error:
            raise PortalError(f"study map: {error}") from None
        except Exception as error:  # the verifier's refusal names its reason
            raise PortalError(f"study map refused: {error}") from None
        if claims.get("aud") != self.audience:
            raise PortalError(f"the study map is for {claims.get('aud')!r}, not this node")
        exp, ttl = claims.get("exp"), claims.get("ttl")
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise PortalError("the study map has no exp")
        try:
            study_map = StudyMap.from_claims(claims)
        except InvalidStudyMap as error:
            raise PortalError(f"the study map cannot be read: {error}") from None
        usable_ttl = ttl if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl > 0 else None
        self.loaded = LoadedMap(study_map, exp, usable_ttl, self.clock())
        return study_map

    def valid_until(self) -> float:
        """When what the current map says may have changed: its next sync, or its expiry."""
        loaded = self.loaded
        if loaded is None:
            return float("-inf")
        return min(loaded.synced_at + self.next_sync_in(), loaded.expires + self.leeway)

    def next_sync_in(self) -> float:
        """Seconds until the next sync: the configured period, or the map's ttl if shorter;
        soon again while there is no map."""
        if self.loaded is None:
            return min(self.refresh_every, 10.0)
        return min(self.refresh_every, self.loaded.ttl or self.refresh_every)


def check_signing_key(key: dict[str, Any]) -> None:
    """Raise if ``key`` cannot sign a report batch (a damaged or public key), by signing one."""
    sign_report({"iss": "check", "jti": "check", "events": []}, key)


def sign_report(claims: dict[str, Any], key: dict[str, Any]) -> str:
    """A batch's claims signed with the node's private JWK (ES256 or Ed25519, as the key
    says), typed ``accessreport+jwt``."""
    from joserfc import jwt
    from joserfc.jwk import JWKRegistry

    private = JWKRegistry.import_key(key)
    alg = key.get("alg") or ("Ed25519" if key.get("kty") == "OKP" else "ES256")
    header = {"alg": alg, "typ": reports.REPORT_TYPE, "kid": key["kid"]}
    return jwt.encode(header, claims, private, algorithms=[alg])


class AccessReporter:
    """Collects access events and sends them to the portal in signed batches."""

    def __init__(
        self,
        *,
        url: str,
        node: str,
        authorization: str,
        signing_key: dict[str, Any],
        spool: Path,
        batch_max: int = 1000,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url, self.node = url, node
        self.authorization, self.signing_key = authorization, signing_key
        self.spool, self.timeout, self.clock = spool, timeout, clock
        self.batch_max = max(1, min(batch_max, reports.MAX_EVENTS))
        self.spool.mkdir(parents=True, exist_ok=True)
        self._events: list[reports.AccessEvent] = []
        self._lock = threading.Lock()
        self.full = threading.Event()  # set when a batch is ready before the interval

    def record(self, event: reports.AccessEvent) -> None:
        with self._lock:
            self._events.append(event)
            if len(self._events) >= self.batch_max:
                self.full.set()

    def seal(self) -> int:
        """Sign what has been recorded into batches in the spool; how many batches. The access
        reports are the node's access log (EHDS Art 73): events that cannot be signed or
        written stay recorded, in order, and the error is raised."""
        with self._lock:
            events, self._events = self._events, []
            self.full.clear()
        sealed = done = 0
        try:
            for batch in _batches(events, self.batch_max):
                now = self.clock()
                claims = reports.batch_claims(node=self.node, events=batch, iat=int(now))
                token = sign_report(claims, self.signing_key)
                name = f"{int(now * 1000):015d}-{claims['jti']}.jwt"
                _write_atomically(self.spool / name, token.encode("ascii"))
                sealed, done = sealed + 1, done + len(batch)
        except BaseException:
            with self._lock:
                self._events[:0] = events[done:]  # before what was recorded meanwhile
            raise
        return sealed

    def pending(self) -> int:
        """How many recorded events are not sealed yet."""
        with self._lock:
            return len(self._events)

    def send(self) -> int:
        """Post the spooled batches in order, removing each one the portal accepted; how many
        were sent. Stops at the first failure (the rest wait for the next round)."""
        batches = sorted(self.spool.glob("*.jwt"))
        if len(batches) > MAX_SPOOLED_BATCHES:
            log.error("%d access-report batches wait for the portal", len(batches))
        sent = 0
        for path in batches:
            status, _headers, body = http_request(
                self.url,
                method="POST",
                headers={
                    "Authorization": self.authorization,
                    "Content-Type": reports.MEDIA_TYPE,
                },
                body=path.read_bytes(),
                timeout=self.timeout,
                max_bytes=64 * 1024,
            )
            if 200 <= status < 300:
                path.unlink()
                sent += 1
                continue
            if status in {400, 413, 422}:
                rejected = self.spool / "rejected"
                rejected.mkdir(exist_ok=True)
                path.rename(rejected / path.name)
                log.error(
                    "the portal refused report batch %s: HTTP %d %s",
                    path.name,
                    status,
                    body[:500].decode("utf-8", errors="replace"),
                )
                continue
            detail = body[:300].decode("utf-8", errors="replace")  # 409: which key, say
            raise PortalError(f"reports {self.url}: HTTP {status} {detail}".rstrip())
        return sent

    def flush(self) -> None:
        """Seal and send; a failure to send leaves the batches in the spool, a failure to seal
        leaves the events recorded (logged, and tried again at the next flush)."""
        try:
            self.seal()
        except Exception:
            log.exception("%d access events not sealed (kept, tried again)", self.pending())
        try:
            self.send()
        except PortalError as error:
            log.warning("access reports wait in the spool: %s", error)


def _batches(events: list[reports.AccessEvent], most: int) -> Iterator[list[reports.AccessEvent]]:
    """``events`` in order, in batches of at most ``most`` events and ``MAX_BATCH_JSON_BYTES``
    of claims, so that a signed batch stays within what JOSE libraries read by default."""
    batch: list[reports.AccessEvent] = []
    size = 0
    for event in events:
        event_size = len(json.dumps(event.to_claim())) + 2
        if batch and (len(batch) >= most or size + event_size > MAX_BATCH_JSON_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += event_size
    if batch:
        yield batch


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
