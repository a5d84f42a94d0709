"""The node's side of its conversation with the portal: it fetches the signed study map and sends
back signed access reports, authenticated as the node.

- The node authenticates with its client id (its audience) and secret, HTTP Basic as
  ``client_secret_basic`` (RFC 6749 section 2.3.1: both form-urlencoded before Base64).
- The study map (``studymap+jwt``) is verified against the portal's JWKS: signature with an
  allowed algorithm, ``typ``, ``iss`` = the portal, ``aud`` = this node, ``exp``. The last good
  map and the keys that verified it are kept in the state directory, so a restart during a
  portal outage keeps serving until the map's ``exp``; after ``exp`` nothing is served.
- Access reports (``accessreport+jwt``) are signed with the node's own key. Each batch is
  signed once, written to the spool directory, and posted until the portal accepts it; the
  portal is idempotent on the batch ``jti``, so a retry never counts twice.

Only the standard library here; joserfc is imported where a signature is made or checked.
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
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .claims import ALGORITHMS
from .studies import MAP_TYPE, InvalidStudyMap, StudyMap

log = logging.getLogger("ecii.gatekeeper")

REPORT_TYPE = "accessreport+jwt"
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # a study map of a large node; JWKS are far smaller
MAX_SPOOLED_BATCHES = 100_000


class PortalError(Exception):
    """The portal could not be reached, or answered with something the node cannot use."""


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
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP exchange with a timeout and a size cap on the answer; never follows a redirect
    to another scheme. Raises :class:`PortalError` on a network failure or an oversized answer;
    an HTTP error status is returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310 (config URLs: https, or loopback)
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


class PortalKeys:
    """The portal's public keys (its JWKS), fetched on demand and again when a document names
    a key the node does not know, but no more often than ``refresh_floor`` seconds."""

    def __init__(
        self,
        jwks_url: str,
        *,
        timeout: float = 10.0,
        refresh_floor: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jwks_url = jwks_url
        self.timeout = timeout
        self.refresh_floor = refresh_floor
        self.clock = clock
        self.document: dict[str, Any] | None = None
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def refresh(self) -> dict[str, Any]:
        """Fetch the JWKS now, unless it was fetched less than the floor ago."""
        with self._lock:
            if self.document is not None and self.clock() - self._fetched_at < self.refresh_floor:
                return self.document
            status, _headers, body = http_request(self.jwks_url, timeout=self.timeout)
            if status != 200:
                raise PortalError(f"JWKS {self.jwks_url}: HTTP {status}")
            try:
                document = json.loads(body)
            except ValueError:
                raise PortalError(f"JWKS {self.jwks_url} is not JSON") from None
            if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
                raise PortalError(f"JWKS {self.jwks_url} has no keys")
            self.document, self._fetched_at = document, self.clock()
            return document

    def verify(self, token: str, *, typ: str) -> dict[str, Any]:
        """The header-checked claims of a document signed by the portal: the signature with an
        allowed algorithm and a key of its JWKS (refreshed once for an unknown ``kid``), and
        the explicit ``typ`` (RFC 8725 section 3.11)."""
        document = self.document or self.refresh()
        try:
            return verify_with(document, token, typ=typ)
        except UnknownKey:
            return verify_with(self.refresh(), token, typ=typ)


class UnknownKey(PortalError):
    """The document names a key the JWKS does not hold."""


def verify_with(jwks: dict[str, Any], token: str, *, typ: str) -> dict[str, Any]:
    """Verify ``token`` against the key set ``jwks``; its claims, or :class:`PortalError`."""
    from joserfc import jwt
    from joserfc.errors import InvalidKeyIdError, JoseError
    from joserfc.jwk import KeySet

    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise PortalError(f"the portal's JWKS cannot be read: {error}") from None
    try:
        decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS))
    except InvalidKeyIdError as error:
        raise UnknownKey(f"signed {typ}: {error}") from None
    except JoseError as error:
        raise PortalError(f"signed {typ} refused: {error}") from None
    except (ValueError, TypeError) as error:
        raise PortalError(f"signed {typ} is malformed: {error}") from None
    if decoded.header.get("typ") != typ:
        raise PortalError(f"expected a {typ}, got typ {decoded.header.get('typ')!r}")
    return dict(decoded.claims)


@dataclass(frozen=True)
class LoadedMap:
    study_map: StudyMap
    expires: int
    fetched_at: float


class StudyMapStore:
    """The current study map of this node, synced from the portal on a schedule.

    ``current()`` is the map while it has not expired, else ``None`` (the gatekeeper then
    refuses every study: fail closed). A failed sync keeps the previous map until its ``exp``.
    """

    def __init__(
        self,
        *,
        url: str,
        issuer: str,
        audience: str,
        authorization: str,
        keys: PortalKeys,
        state_dir: Path,
        refresh: float = 300.0,
        leeway: int = 30,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url, self.issuer, self.audience = url, issuer, audience
        self.authorization, self.keys = authorization, keys
        self.cache = state_dir / "study-map.jwt"
        self.jwks_cache = state_dir / "study-map-jwks.json"
        self.refresh_every, self.leeway, self.timeout, self.clock = refresh, leeway, timeout, clock
        self.loaded: LoadedMap | None = None
        self.ttl: float | None = None

    def current(self) -> StudyMap | None:
        loaded = self.loaded
        if loaded is None or self.clock() >= loaded.expires + self.leeway:
            return None
        return loaded.study_map

    def _read(self, token: str, jwks: dict[str, Any] | None) -> tuple[LoadedMap, float | None]:
        claims = verify_with(jwks, token, typ=MAP_TYPE) if jwks else None
        if claims is None:
            claims = self.keys.verify(token, typ=MAP_TYPE)
        if claims.get("iss") != self.issuer:
            raise PortalError(f"the study map's issuer is {claims.get('iss')!r}, not the portal")
        if claims.get("aud") != self.audience:
            raise PortalError(f"the study map is for {claims.get('aud')!r}, not this node")
        exp, ttl = claims.get("exp"), claims.get("ttl")
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise PortalError("the study map has no exp")
        if self.clock() >= exp + self.leeway:
            raise PortalError("the study map has expired")
        try:
            study_map = StudyMap.from_claims(claims)
        except InvalidStudyMap as error:
            raise PortalError(f"the study map cannot be read: {error}") from None
        good_ttl = float(ttl) if isinstance(ttl, int) and not isinstance(ttl, bool) else None
        return LoadedMap(study_map, exp, self.clock()), good_ttl

    def load_cached(self) -> bool:
        """Use the last good map from the state directory while it has not expired."""
        try:
            token = self.cache.read_text(encoding="ascii").strip()
            jwks = json.loads(self.jwks_cache.read_text(encoding="utf-8"))
            self.loaded, self.ttl = self._read(token, jwks)
        except (OSError, ValueError, PortalError) as error:
            log.info("no usable cached study map (%s)", error)
            return False
        log.info("cached study map loaded: %d studies", len(self.loaded.study_map.studies))
        return True

    def sync(self) -> StudyMap:
        """Fetch, verify and install the portal's current map; raises :class:`PortalError`."""
        status, _headers, body = http_request(
            self.url,
            headers={"Authorization": self.authorization, "Accept": "application/jwt"},
            timeout=self.timeout,
        )
        if status != 200:
            raise PortalError(f"study map {self.url}: HTTP {status}")
        token = body.decode("ascii", errors="replace").strip()
        self.loaded, self.ttl = self._read(token, None)
        _write_atomically(self.cache, token.encode("ascii"))
        if self.keys.document is not None:
            _write_atomically(self.jwks_cache, json.dumps(self.keys.document).encode("utf-8"))
        return self.loaded.study_map

    def next_sync_in(self) -> float:
        """Seconds until the next sync: the configured period, or the map's ttl if shorter."""
        if self.loaded is None:
            return min(self.refresh_every, 10.0)
        return min(self.refresh_every, self.ttl or self.refresh_every)


@dataclass(frozen=True)
class AccessEvent:
    """One request the node decided on, as reported to the portal."""

    jti: str  # the access token's jti
    study: str  # the StudyInstanceUID
    time: int  # seconds since the epoch
    decision: str  # "allowed" or "refused"
    reason: str  # the reason code of a refusal; "" when allowed

    def to_claim(self) -> dict[str, Any]:
        return {
            "jti": self.jti,
            "study": self.study,
            "time": self.time,
            "decision": self.decision,
            "reason": self.reason,
        }


def report_claims(*, node: str, portal: str, events: list[AccessEvent], iat: int) -> dict:
    """The claims of one access-report batch (``accessreport+jwt``): ``iss`` = the node,
    ``aud`` = the portal, ``iat``, a fresh ``jti`` (the portal is idempotent on it) and the
    ``events``."""
    return {
        "iss": node,
        "aud": portal,
        "iat": iat,
        "jti": str(uuid.uuid4()),
        "events": [event.to_claim() for event in events],
    }


def sign_report(claims: dict, key: dict[str, Any]) -> str:
    """The batch signed with the node's private JWK (ES256 or Ed25519, as the key says)."""
    from joserfc import jwt
    from joserfc.jwk import JWKRegistry

    private = JWKRegistry.import_key(key)
    alg = key.get("alg") or ("Ed25519" if key.get("kty") == "OKP" else "ES256")
    header = {"alg": alg, "typ": REPORT_TYPE, "kid": key["kid"]}
    return jwt.encode(header, claims, private, algorithms=[alg])


class AccessReporter:
    """Collects access events and sends them to the portal in signed batches."""

    def __init__(
        self,
        *,
        url: str,
        node: str,
        portal: str,
        authorization: str,
        signing_key: dict[str, Any],
        spool: Path,
        batch_max: int = 1000,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url, self.node, self.portal = url, node, portal
        self.authorization, self.signing_key = authorization, signing_key
        self.spool, self.batch_max, self.timeout, self.clock = spool, batch_max, timeout, clock
        self.spool.mkdir(parents=True, exist_ok=True)
        self._events: list[AccessEvent] = []
        self._lock = threading.Lock()
        self.full = threading.Event()  # set when a batch is ready before the interval

    def record(self, event: AccessEvent) -> None:
        with self._lock:
            self._events.append(event)
            if len(self._events) >= self.batch_max:
                self.full.set()

    def seal(self) -> int:
        """Sign what has been recorded into batches in the spool; how many batches."""
        with self._lock:
            events, self._events = self._events, []
            self.full.clear()
        sealed = 0
        for start in range(0, len(events), self.batch_max):
            batch = events[start : start + self.batch_max]
            now = self.clock()
            claims = report_claims(node=self.node, portal=self.portal, events=batch, iat=int(now))
            token = sign_report(claims, self.signing_key)
            name = f"{int(now * 1000):015d}-{claims['jti']}.jwt"
            _write_atomically(self.spool / name, token.encode("ascii"))
            sealed += 1
        return sealed

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
                    "Content-Type": "application/jwt",
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
            raise PortalError(f"reports {self.url}: HTTP {status}")
        return sent

    def flush(self) -> None:
        """Seal and send; a failure to send leaves the batches in the spool."""
        self.seal()
        try:
            self.send()
        except PortalError as error:
            log.warning("access reports wait in the spool: %s", error)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
