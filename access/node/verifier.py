"""The node's token verifier: may this access token be used here, now, and for this study?

:meth:`Verifier.verify` checks a token in the order of the issue, and the first failed check is
the refusal's :class:`~.reasons.Reason`:

1. the signature, with a key of the portal's JWKS, against the allow-list
   :data:`~.claims.ALGORITHMS` (joserfc reads the JWKS, ``cryptography`` checks signatures);
2. ``typ`` (``at+jwt``, RFC 9068, RFC 8725 explicit typing) and ``iss``;
3. ``aud`` is this node;
4. ``exp``, ``nbf`` and ``iat``, with a small leeway;
5. the token's entry in its Token Status List.

:meth:`Verifier.allows_study` then checks (6) that the requested study belongs to one of the
token's datasets. Every refusal carries a reason; nothing raises out of either.

What the verifier never does (RFC 8725 and the known JWT attacks):

- it reads no key from the token: ``jku``, ``x5u``, ``jwk``, ``x5c`` (and ``crit``, ``b64``
  and every header parameter but ``alg``, ``kid`` and ``typ``) are refused, and keys come only
  from the configured JWKS URL; ``kid`` is only a lookup in that set;
- it accepts no algorithm but ES256 and Ed25519 (so neither ``none`` nor HMAC keyed with the
  public key), and a key only with the algorithm its type implies (no substitution);
- it parses no claim before the signature has checked out: only the small header is read first;
- it reads no token over ``max_token_bytes``, refuses JSON with duplicate members, non-UTF-8
  text and anything but base64url without padding;
- it trusts a status list only from under the issuer, signed by the portal, and for no longer
  than its ``ttl`` (and never beyond its ``exp``); when the list cannot be fetched again, it
  refuses (fails closed).

A token whose signature checked out is kept (by its exact text, least recently used out) so that
a viewer fetching hundreds of frames with one token costs one signature check; checks 2 to 5 are
cheap and run again for every use, so a cached token is refused as soon as it expires or its
status list, fetched again after its ``ttl``, says it was revoked.
"""

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple, TypeGuard

from .claims import MAX_LIFETIME, SCOPE_READ, TOKEN_TYPE, AccessClaims, InvalidClaims
from .fetch import MAX_DOCUMENT_BYTES, Fetcher, FetchError, HttpFetcher, is_under
from .jws import (
    Key,
    Parsed,
    Refused,
    b64decode,
    is_media_type,
    json_object,
    load_jwks,
    parse_compact,
)
from .reasons import Reason
from .statuslist import (
    LIST_TYPE,
    MEDIA_TYPE,
    SUSPENDED,
    VALID,
    InvalidStatusList,
    StatusList,
)
from .studies import StudyMap

logger = logging.getLogger(__name__)

JWKS_MEDIA_TYPES = "application/jwk-set+json, application/json"
JWKS_MAX_AGE = 300.0  # seconds: keys are fetched again at least this often (retired keys go)
FETCH_RETRY = 1.0  # seconds before a failed fetch is tried again
MAX_STATUS_TTL = 86400  # a status list's ttl beyond a day is not believed
MAX_STATUS_LISTS = 256  # lists kept at once; the portal keeps a handful
MAX_TIME = 10**11  # seconds since the epoch (year 5138): a larger time is not a time
TOKEN_CACHE_SIZE = 4096


class Decision(NamedTuple):
    """What the verifier decided about a token (and, after :meth:`Verifier.allows_study`, a
    study).

    ``claims`` is set when the token is the portal's access token (signature, ``typ``, ``iss``
    and the claims' shape checked out), even when a later check refused it: the gatekeeper
    reports the ``jti`` of refused uses too. Only ``allowed`` grants anything. Immutable (a
    named tuple: one is made for every request, and a frozen dataclass costs more to make).
    """

    allowed: bool
    reason: Reason | None  # None when allowed
    claims: AccessClaims | None
    # Seconds this decision may be reused: min(exp - now, status list ttl left); 0 for refusals.
    cache_for: float


@dataclass
class VerifierStats:
    """Counters an operator can read (and the tests use to see the caches work)."""

    signature_checks: int = 0  # of tokens (not counting the signed documents)
    cache_hits: int = 0
    jwks_fetches: int = 0
    status_fetches: int = 0


@dataclass(slots=True)
class _Verified:
    """A token whose signature checked out, with what does not change over time."""

    kid: str
    claims: AccessClaims
    # The first of checks 2 and 3 (and the claims' shape) that failed, if one did.
    refusal: Reason | None
    status_trusted: bool


@dataclass
class _List:
    """A status list in hand (None after a failed fetch) and when it may be used. A clock set
    back before ``fetched_at`` makes it stale at once: it is never used beyond its ttl."""

    status_list: StatusList | None
    iat: int
    fetched_at: float
    fresh_until: float
    retry_at: float  # no fetch before this after a failure

    def fresh(self, now: float) -> StatusList | None:
        """The list, if it may still be used now."""
        return self.status_list if self.fetched_at <= now < self.fresh_until else None

    def may_fetch(self, now: float) -> bool:
        return not self.fetched_at <= now < self.retry_at


# Tokens point at a handful of status lists: the URI check runs once for each.
_is_under = lru_cache(maxsize=1024)(is_under)


@dataclass
class _FetchedList(_List):
    status_list: StatusList


def _refuse(reason: Reason, claims: AccessClaims | None = None) -> Decision:
    return Decision(allowed=False, reason=reason, claims=claims, cache_for=0.0)


def _time(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TIME


class Verifier:
    """Verifies the portal's access tokens for one node (``audience``), with the keys at
    ``jwks_url`` and the status lists the tokens point at, both fetched by ``fetcher``
    (default :class:`~.fetch.HttpFetcher`) and cached. Safe to share between threads."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str,
        fetcher: Fetcher | None = None,
        clock: Callable[[], float] = time.time,
        leeway: int = 30,
        jwks_refresh_floor: float = 60,
        max_token_bytes: int = 8192,
        token_cache_size: int = TOKEN_CACHE_SIZE,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.leeway = leeway
        self.jwks_refresh_floor = jwks_refresh_floor
        self.max_token_bytes = max_token_bytes
        self.token_cache_size = token_cache_size
        self.stats = VerifierStats()
        self._fetcher: Fetcher = fetcher if fetcher is not None else HttpFetcher()
        self._clock = clock
        self._keys: dict[str, Key] = {}
        self._jwks_loaded_at: float | None = None  # when the keys in hand were fetched
        self._jwks_tried_at = float("-inf")  # the last attempt
        self._jwks_wait = 0.0  # seconds after the last attempt before the next one
        self._jwks_lock = threading.Lock()
        self._lists: dict[str, _List] = {}
        self._list_locks: dict[str, threading.Lock] = {}
        self._lists_lock = threading.Lock()
        self._headers: dict[str, tuple[dict[str, Any], str, str]] = {}
        self._tokens: OrderedDict[str, _Verified] = OrderedDict()
        self._tokens_lock = threading.Lock()

    # The decisions

    def verify(self, token: str) -> Decision:
        """Checks 1 to 5 on ``token`` (the text after ``Bearer``): an allowing decision, or a
        refusal with the reason of the first check that failed. Never raises."""
        try:
            return self._verify(token, self._clock())
        except Refused as refusal:
            return _refuse(refusal.reason)
        except Exception:
            logger.exception("the verifier failed on a token; refused")
            return _refuse(Reason.VERIFIER_ERROR)

    def allows_study(self, decision: Decision, study_uid: str, study_map: StudyMap) -> Decision:
        """Check 6: ``decision`` (from :meth:`verify`) still allows once the study is known
        only if the token may read images and the study belongs to one of its datasets at
        this node. A refusal is passed on unchanged."""
        claims = decision.claims
        if not decision.allowed:
            return decision
        if claims is None:
            return _refuse(Reason.VERIFIER_ERROR)  # an allowing decision always has claims
        if SCOPE_READ not in claims.scopes:
            return _refuse(Reason.INSUFFICIENT_SCOPE, claims)
        if study_map.node != self.audience:
            return _refuse(Reason.STUDY_NOT_PERMITTED, claims)
        if not study_map.granted(study_uid, claims.datasets):
            return _refuse(Reason.STUDY_NOT_PERMITTED, claims)
        return decision

    def read_signed(
        self, document: bytes | str, *, typ: str, max_bytes: int = MAX_DOCUMENT_BYTES
    ) -> dict[str, Any]:
        """The claims of another document the portal signs (a study map, an exclusion list),
        checked like a token: size (at most ``max_bytes``), header, signature with the portal's
        keys, ``typ`` (the media type ``application/<typ>``), ``iss`` when present, ``exp`` when
        present. Raises :class:`Refused`."""
        return self._read_signed(document, typ=typ, now=self._clock(), max_bytes=max_bytes)

    # Check 1: the signature

    def _verify(self, token: str, now: float) -> Decision:
        if not isinstance(token, str) or not token:
            raise Refused(Reason.MALFORMED, "no token text")
        if len(token) > self.max_token_bytes:
            # Before any parsing: a token's characters are ASCII, so this is its size.
            raise Refused(Reason.OVERSIZED)
        verified = self._cached(token, now)
        if verified is None:
            parsed = parse_compact(token, self._headers)
            self.stats.signature_checks += 1
            self._check_signature(parsed, now)
            verified = self._read_claims(parsed)
            self._remember(token, verified)
        else:
            self.stats.cache_hits += 1
        return self._decide(token, verified, now)

    def _check_signature(self, parsed: Parsed, now: float) -> None:
        key = self._key(parsed.kid, now)
        if key.alg != parsed.alg:
            # The key's type fixes its algorithm: an ES256 key never checks an Ed25519 token.
            raise Refused(Reason.BAD_ALGORITHM, f"key {parsed.kid!r} is for {key.alg}")
        if not key.verify(parsed.signing_input, parsed.signature):
            raise Refused(Reason.BAD_SIGNATURE)

    def _key(self, kid: str, now: float) -> Key:
        """The key named ``kid``. An unknown kid, or keys older than :data:`JWKS_MAX_AGE`,
        fetch the JWKS again, but no sooner than ``jwks_refresh_floor`` after the last fetch."""
        key = self._keys.get(kid)
        if key is not None and not self._keys_stale(now):
            return key
        if self._may_fetch_jwks(now):
            self._fetch_jwks(now)
            key = self._keys.get(kid)
        if key is not None:
            return key
        if self._jwks_loaded_at is None:
            raise Refused(Reason.KEYS_UNAVAILABLE)
        raise Refused(Reason.UNKNOWN_KEY, f"no key {kid!r} in the JWKS")

    def _keys_stale(self, now: float) -> bool:
        loaded_at = self._jwks_loaded_at
        return loaded_at is None or not 0 <= now - loaded_at < JWKS_MAX_AGE

    def _may_fetch_jwks(self, now: float) -> bool:
        """Not sooner than the wait after the last attempt (a clock set back allows one)."""
        return not 0 <= now - self._jwks_tried_at < self._jwks_wait

    def _fetch_jwks(self, now: float) -> None:
        with self._jwks_lock:
            if not self._may_fetch_jwks(now):
                return  # another thread has just fetched it
            self._jwks_tried_at = now
            self.stats.jwks_fetches += 1
            try:
                keys = load_jwks(self._fetcher(self.jwks_url, accept=JWKS_MEDIA_TYPES))
            except (FetchError, Refused) as error:
                # Keep the keys in hand. Without any, try again soon (but not on every
                # request); with some, after the floor, as for an unknown kid.
                logger.warning("could not fetch the JWKS at %s: %s", self.jwks_url, error)
                retry = self.jwks_refresh_floor if self._keys else FETCH_RETRY
                self._jwks_wait = min(retry, self.jwks_refresh_floor)
                return
            self._keys = keys
            self._jwks_loaded_at = now
            self._jwks_wait = self.jwks_refresh_floor

    # Checks 2 and 3 (and the claims' shape): what does not change over time

    def _read_claims(self, parsed: Parsed) -> _Verified:
        """Checks 2 and 3, and the claims' shape. A token whose claims are not an access
        token's is refused here and not kept; any other is kept with its first refusal."""
        payload = json_object(b64decode(parsed.payload))
        refusal: Reason | None = None
        if not is_media_type(parsed.header.get("typ"), TOKEN_TYPE):
            refusal = Reason.BAD_TYPE
        elif payload.get("iss") != self.issuer:
            refusal = Reason.BAD_ISSUER
        elif not self._for_this_node(payload.get("aud")):
            refusal = Reason.WRONG_AUDIENCE
        try:
            claims = AccessClaims.from_claims(payload)
        except InvalidClaims as error:
            raise Refused(refusal or Reason.BAD_CLAIMS, str(error)) from None
        # The claims' reading made iat, nbf and exp non-negative integers, none after exp.
        if refusal is None and claims.exp > MAX_TIME:
            refusal = Reason.BAD_CLAIMS
        if refusal is None and claims.exp - claims.iat > MAX_LIFETIME:
            refusal = Reason.BAD_CLAIMS  # the portal issues nothing longer-lived
        return _Verified(
            kid=parsed.kid,
            claims=claims,
            refusal=refusal,
            status_trusted=_is_under(claims.status_uri, self.issuer),
        )

    def _for_this_node(self, aud: object) -> bool:
        """RFC 7519 4.1.3 lets ``aud`` be a list; a portal token names exactly one node."""
        if isinstance(aud, list) and len(aud) == 1:
            aud = aud[0]
        return isinstance(aud, str) and aud == self.audience

    # Checks 4 and 5, on every use

    def _decide(self, token: str, verified: _Verified, now: float) -> Decision:
        claims = verified.claims
        expired = now >= claims.exp + self.leeway
        if expired:
            self._forget(token)  # no entry outlives its token
        if verified.refusal is not None:
            shown = None if verified.refusal in (Reason.BAD_TYPE, Reason.BAD_ISSUER) else claims
            return _refuse(verified.refusal, shown)
        if expired:
            return _refuse(Reason.EXPIRED, claims)
        if now + self.leeway < claims.nbf or now + self.leeway < claims.iat:
            return _refuse(Reason.NOT_YET_VALID, claims)
        if not verified.status_trusted:
            return _refuse(Reason.UNTRUSTED_STATUS_LIST, claims)
        try:
            status_list, fresh_until = self._status_list(claims.status_uri, now)
        except Refused as refusal:
            return _refuse(refusal.reason, claims)
        try:
            status = status_list.get(claims.status_idx)
        except IndexError:
            return _refuse(Reason.STATUS_OUT_OF_RANGE, claims)
        if status != VALID:
            return _refuse(Reason.SUSPENDED if status == SUSPENDED else Reason.REVOKED, claims)
        cache_for = max(0.0, min(claims.exp - now, fresh_until - now))
        return Decision(allowed=True, reason=None, claims=claims, cache_for=cache_for)

    # The verified-token cache

    def _cached(self, token: str, now: float) -> _Verified | None:
        with self._tokens_lock:
            verified = self._tokens.get(token)
            if verified is None:
                return None
            self._tokens.move_to_end(token)
        if self._keys_stale(now) and self._may_fetch_jwks(now):
            self._fetch_jwks(now)  # the keys are due to be fetched again
        if verified.kid not in self._keys:
            # Its key left the JWKS (retired for good, or withdrawn): check it afresh.
            self._forget(token)
            return None
        return verified

    def _remember(self, token: str, verified: _Verified) -> None:
        with self._tokens_lock:
            self._tokens[token] = verified
            self._tokens.move_to_end(token)
            while len(self._tokens) > self.token_cache_size:
                self._tokens.popitem(last=False)

    def _forget(self, token: str) -> None:
        with self._tokens_lock:
            self._tokens.pop(token, None)

    # Status lists

    def _status_list(self, uri: str, now: float) -> tuple[StatusList, float]:
        """The status list at ``uri`` and until when it may be used: the cached copy within its
        ttl, else a fresh one; :class:`Refused` ``STATUS_UNAVAILABLE`` when neither is to be
        had (a copy past its ttl is never used)."""
        cached = self._lists.get(uri)
        if cached is not None and (fresh := cached.fresh(now)) is not None:
            return fresh, cached.fresh_until
        with self._lists_lock:
            lock = self._list_locks.setdefault(uri, threading.Lock())
        with lock:
            cached = self._lists.get(uri)
            if cached is not None:
                if (fresh := cached.fresh(now)) is not None:
                    return fresh, cached.fresh_until
                if not cached.may_fetch(now):
                    raise Refused(Reason.STATUS_UNAVAILABLE, "waiting to fetch it again")
            self.stats.status_fetches += 1
            try:
                fetched = self._fetch_status_list(uri, now, cached)
            except (FetchError, Refused) as error:
                logger.warning("could not fetch the status list at %s: %s", uri, error)
                failed = _List(None, cached.iat if cached else 0, now, now, now + FETCH_RETRY)
                self._store_list(uri, failed)
                raise Refused(Reason.STATUS_UNAVAILABLE, str(error)) from None
            self._store_list(uri, fetched)
            return fetched.status_list, fetched.fresh_until

    def _store_list(self, uri: str, entry: _List) -> None:
        with self._lists_lock:
            self._lists[uri] = entry
            while len(self._lists) > MAX_STATUS_LISTS:
                oldest = next(iter(self._lists))
                del self._lists[oldest]
                self._list_locks.pop(oldest, None)

    def _fetch_status_list(self, uri: str, now: float, cached: _List | None) -> "_FetchedList":
        claims = self._read_signed(self._fetcher(uri, accept=MEDIA_TYPE), typ=LIST_TYPE, now=now)
        if claims.get("sub") != uri:
            raise Refused(Reason.STATUS_UNAVAILABLE, "the list's sub is not its URI")
        iat, exp, ttl = claims.get("iat"), claims.get("exp"), claims.get("ttl")
        if not _time(iat):
            raise Refused(Reason.STATUS_UNAVAILABLE, "the list has no iat")
        if cached is not None and iat < cached.iat:
            raise Refused(Reason.STATUS_UNAVAILABLE, "the list is older than the one we had")
        if not (isinstance(ttl, int) and not isinstance(ttl, bool) and 0 < ttl <= MAX_STATUS_TTL):
            raise Refused(Reason.STATUS_UNAVAILABLE, "the list's ttl is missing or out of range")
        fresh_until = now + ttl
        if exp is not None:
            fresh_until = min(fresh_until, exp)
        try:
            status_list = StatusList.decode(claims.get("status_list"))
        except InvalidStatusList as error:
            raise Refused(Reason.STATUS_UNAVAILABLE, str(error)) from None
        return _FetchedList(status_list, iat, now, fresh_until, now)

    # Signed documents

    def _read_signed(
        self, document: bytes | str, *, typ: str, now: float, max_bytes: int = MAX_DOCUMENT_BYTES
    ) -> dict[str, Any]:
        if isinstance(document, bytes):
            try:
                document = document.decode("ascii")
            except UnicodeDecodeError:
                raise Refused(Reason.MALFORMED, "not a compact JWS") from None
        document = document.strip()
        if len(document) > max_bytes:
            raise Refused(Reason.OVERSIZED)
        parsed = parse_compact(document, self._headers)
        self._check_signature(parsed, now)
        if not is_media_type(parsed.header.get("typ"), typ):
            raise Refused(Reason.BAD_TYPE, f"not a {typ}")
        claims = json_object(b64decode(parsed.payload))
        if "iss" in claims and claims["iss"] != self.issuer:
            raise Refused(Reason.BAD_ISSUER)
        exp = claims.get("exp")
        if exp is not None and (not _time(exp) or now >= exp + self.leeway):
            raise Refused(Reason.EXPIRED, f"the {typ} has expired")
        return claims
