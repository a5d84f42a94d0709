"""The node's copy of its consent exclusion list (:mod:`.exclusions`), fetched from the portal
and cached like a token status list.

- **Fetched when needed, kept for its ttl.** The gatekeeper asks for the list when it decides
  on a study; a copy is used for the list's ``ttl`` after it was fetched (never beyond its
  ``exp``), then fetched again. When it cannot be fetched again, no study is served
  (:data:`~.reasons.Reason.EXCLUSIONS_UNAVAILABLE`): a withdrawal reaches the node within the
  ttl, or the node stops serving.
- **Incrementally.** Holding version *v*, the node asks ``?since=v`` with ``If-None-Match``: the
  portal answers 304 (nothing changed: the copy is fresh for another ttl, within its signed
  ``exp``), a signed delta from *v* (applied to the copy), or the whole list (when the delta
  would be too old). A delta that does not start from the copy's version makes the node fetch
  the whole list.
- **Permits it does not know.** A token whose permit the list does not name makes the node fetch
  the list again (no sooner than ``refresh_floor`` after the last fetch); if the permit is still
  unknown, the token is refused (:data:`~.reasons.Reason.PERMIT_NOT_IN_EXCLUSIONS`).
- The list is verified like the study map: the portal's signature (the verifier's keys),
  ``typ`` ``exclusionlist+jwt``, ``iss``, ``exp``, and ``aud`` this node; the node authenticates
  as itself (HTTP Basic), as for the study map.
"""

import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .claims import AccessClaims
from .exclusions import LIST_TYPE, MEDIA_TYPE, ExclusionList, InvalidExclusionList
from .fetch import FetchError, HttpFetcher, check_url
from .reasons import Reason
from .studies import StudyEntry

log = logging.getLogger("ecii.gatekeeper")

# A list names a permit per active permit and a pair per excluded subject: some 60 bytes each.
MAX_EXCLUSION_BYTES = 64 * 1024 * 1024
EXCLUSION_DEADLINE = 60.0  # seconds for the whole list
MAX_TTL = 86400
FETCH_RETRY = 1.0  # seconds before a failed fetch is tried again


class SignedReader(Protocol):
    """Reads a document the portal signed (``access.node.verifier.Verifier.read_signed``)."""

    def read_signed(
        self, document: bytes | str, *, typ: str, max_bytes: int = ...
    ) -> dict[str, Any]: ...


class ExclusionsUnavailable(Exception):
    """The list could not be fetched, or what came is not a list the node can use."""


class _Fetcher(HttpFetcher):
    """:class:`~.fetch.HttpFetcher` that also takes a 304 Not Modified answer."""

    def conditional(self, url: str, *, accept: str, etag: str | None) -> tuple[int, str, bytes]:
        """``(200, etag, body)`` or ``(304, etag, b"")``; :class:`FetchError` otherwise."""
        check_url(url)
        deadline = time.monotonic() + self.deadline
        headers = {**self.headers, "Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 (checked above)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                if response.status != 200:
                    raise FetchError(f"{url} answered {response.status}")
                body = self._read(url, response, deadline)
                return 200, response.headers.get("ETag", ""), body
        except FetchError:
            raise
        except urllib.error.HTTPError as error:
            if error.code == 304:
                return 304, error.headers.get("ETag", "") or (etag or ""), b""
            raise FetchError(f"{url} answered {error.code}") from None
        except (OSError, ValueError) as error:
            raise FetchError(f"{url} could not be fetched: {error}") from None


@dataclass(frozen=True)
class _Held:
    """The list in hand, when it was fetched, until when it may be used, its ``exp``."""

    exclusions: ExclusionList
    etag: str
    fetched_at: float
    fresh_until: float
    exp: int


class ExclusionStore:
    """This node's consent exclusion list, fetched when needed and used within its ttl."""

    def __init__(
        self,
        *,
        url: str,
        audience: str,
        authorization: str,
        reader: SignedReader,
        refresh_floor: float = 10.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url, self.audience, self.reader = url, audience, reader
        self.refresh_floor, self.clock = refresh_floor, clock
        self.fetcher = _Fetcher(
            timeout=timeout,
            deadline=EXCLUSION_DEADLINE,
            max_bytes=MAX_EXCLUSION_BYTES,
            headers={"Authorization": authorization},
        )
        self.held: _Held | None = None
        self.fetches = 0  # counted for operators and tests
        self._tried_at = float("-inf")
        self._retry_at = float("-inf")
        self._lock = threading.Lock()

    # What the gatekeeper asks

    def current(self) -> ExclusionList | None:
        """The list if it may be used now (fetching it again when its ttl has passed), else
        None: then no study is served."""
        now = self.clock()
        held = self.held
        if held is not None and held.fetched_at <= now < held.fresh_until:
            return held.exclusions
        with self._lock:
            held = self.held
            if held is not None and held.fetched_at <= now < held.fresh_until:
                return held.exclusions
            if now < self._retry_at:
                return None
            try:
                return self._sync(now).exclusions
            except ExclusionsUnavailable as error:
                log.warning("exclusion list not fetched (no study is served): %s", error)
                self._retry_at = now + FETCH_RETRY
                return None

    def valid_until(self) -> float:
        """Until when the list in hand may be used: a decision that rests on it stands no
        longer (a withdrawal reaches the node within the list's ttl)."""
        held = self.held
        return float("-inf") if held is None else held.fresh_until

    def refusal(self, claims: AccessClaims, entry: StudyEntry) -> Reason | None:
        """Why a study of ``entry`` (dataset, subject) may not be served under the token of
        ``claims``, or None when it may."""
        exclusions = self.for_permit(claims.permit)
        if exclusions is None:
            return Reason.EXCLUSIONS_UNAVAILABLE
        return exclusions.refusal(
            permit=claims.permit,
            permit_iat=claims.permit_iat,
            dataset=entry.dataset,
            subject=entry.subject,
        )

    def for_permit(self, permit: str) -> ExclusionList | None:
        """The list, fetched again (no sooner than the floor) when it does not know
        ``permit``."""
        exclusions = self.current()
        if exclusions is None or exclusions.knows(permit):
            return exclusions
        now = self.clock()
        with self._lock:
            held = self.held
            if held is not None and held.exclusions.knows(permit):
                return held.exclusions
            if not 0 <= now - self._tried_at < self.refresh_floor:
                try:
                    self._sync(now)
                except ExclusionsUnavailable as error:
                    log.warning("exclusion list not fetched for permit %s: %s", permit, error)
            held = self.held
            return held.exclusions if held is not None else None

    # Fetching

    def sync(self) -> ExclusionList:
        """Fetch the list now (a delta or 304 when one is held); raises
        :class:`ExclusionsUnavailable` and keeps the copy in hand."""
        with self._lock:
            return self._sync(self.clock()).exclusions

    def _sync(self, now: float) -> _Held:
        self._tried_at = now
        held = self.held
        usable = held is not None and now < held.exp
        try:
            held = self._fetch(now, held if usable else None)
        except InvalidExclusionList as error:
            if not usable:
                raise ExclusionsUnavailable(str(error)) from None
            log.info("exclusion delta not applied (%s): fetching the whole list", error)
            held = self._fetch(now, None)
        self.held = held
        return held

    def _fetch(self, now: float, held: _Held | None) -> _Held:
        url, etag = self.url, None
        if held is not None:
            since = urllib.parse.urlencode({"since": held.exclusions.version})
            url, etag = f"{self.url}?{since}", held.etag or None
        self.fetches += 1
        accept = f"{MEDIA_TYPE}, application/jwt"
        try:
            status, new_etag, body = self.fetcher.conditional(url, accept=accept, etag=etag)
        except FetchError as error:
            raise ExclusionsUnavailable(str(error)) from None
        if status == 304:
            if held is None:
                raise ExclusionsUnavailable("the portal answered 304 to a request for the list")
            kept = held.fresh_until - held.fetched_at  # the ttl the copy came with
            fresh_until = min(now + kept, held.exp)
            return _Held(held.exclusions, new_etag or held.etag, now, fresh_until, held.exp)
        try:
            claims = self.reader.read_signed(body, typ=LIST_TYPE, max_bytes=MAX_EXCLUSION_BYTES)
        except Exception as error:  # the verifier's refusal names its reason
            raise ExclusionsUnavailable(f"the exclusion list is refused: {error}") from None
        if claims.get("aud") != self.audience:
            raise ExclusionsUnavailable(f"the list is for {claims.get('aud')!r}, not this node")
        exp, ttl = claims.get("exp"), claims.get("ttl")
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise ExclusionsUnavailable("the exclusion list has no exp")
        if not (isinstance(ttl, int) and not isinstance(ttl, bool) and 0 < ttl <= MAX_TTL):
            raise ExclusionsUnavailable("the exclusion list's ttl is missing or out of range")
        if "base" in claims:
            if held is None:
                raise ExclusionsUnavailable("the portal sent a delta to a request for the list")
            exclusions = held.exclusions.apply(claims)  # InvalidExclusionList: fetch it whole
        else:
            try:
                exclusions = ExclusionList.from_claims(claims)
            except InvalidExclusionList as error:
                raise ExclusionsUnavailable(f"the list cannot be read: {error}") from None
        if held is not None and exclusions.version < held.exclusions.version:
            raise ExclusionsUnavailable("the list is older than the one in hand")
        return _Held(exclusions, new_etag, now, min(now + ttl, exp), exp)
