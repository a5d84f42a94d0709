"""A minimal verifier with the interface of ``access.node.verifier`` (design page of issue 9),
for the node tests until the real verifier lands; the node tests use the real one as soon as it
can be imported (``harness.gatekeeper_command``).

It checks what the gatekeeper relies on, in the verifier's order: signature (allowed
algorithms, the portal's JWKS), ``typ`` and ``iss``, ``aud``, ``exp``/``nbf`` with leeway, the
status list entry (cached for the list's ``ttl``); then the study against the token's datasets.
"""

import json
import threading
import time
import urllib.request
from dataclasses import dataclass, replace

from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from access.node.claims import ALGORITHMS, TOKEN_TYPE, AccessClaims, InvalidClaims
from access.node.reasons import Reason
from access.node.statuslist import INVALID, LIST_TYPE, SUSPENDED, StatusList
from access.node.studies import StudyMap


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: Reason | None
    claims: AccessClaims | None
    cache_for: float


def _refuse(reason, claims=None):
    return Decision(False, reason, claims, 0)


class StandInVerifier:
    def __init__(self, *, issuer, audience, jwks_url, leeway=30, jwks_refresh_floor=60, **_):
        self.issuer, self.audience, self.jwks_url, self.leeway = issuer, audience, jwks_url, leeway
        self.floor = jwks_refresh_floor
        self._keys, self._keys_at = None, float("-inf")
        self._lists: dict[str, tuple[StatusList, float]] = {}
        self._verified: dict[str, tuple[Decision, float]] = {}  # token -> (decision, until)
        self._lock = threading.Lock()

    def _fetch(self, url):
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (loopback)
            return answer.read()

    def _keyset(self, refresh=False):
        with self._lock:
            stale = time.time() - self._keys_at >= self.floor
            if self._keys is None or (refresh and stale):
                self._keys = KeySet.import_key_set(json.loads(self._fetch(self.jwks_url)))
                self._keys_at = time.time()
            return self._keys

    def _decode(self, token, typ):
        try:
            return jwt.decode(token, self._keyset(), algorithms=list(ALGORITHMS))
        except InvalidKeyIdError:
            return jwt.decode(token, self._keyset(refresh=True), algorithms=list(ALGORITHMS))

    def _status(self, uri, idx):
        now = time.time()
        cached = self._lists.get(uri)
        if cached is None or now >= cached[1]:
            decoded = self._decode(self._fetch(uri).decode().strip(), LIST_TYPE)
            if decoded.header.get("typ") != LIST_TYPE or decoded.claims.get("sub") != uri:
                raise ValueError("not the status list")
            ttl = decoded.claims.get("ttl", 60)
            cached = (StatusList.decode(decoded.claims["status_list"]), now + ttl)
            self._lists[uri] = cached
        return cached[0].get(idx)

    def verify(self, token: str) -> Decision:
        """Verify ``token``; a token that passed is served from a cache until its ``exp`` or
        the expiry of the status list it was checked against, whichever comes first."""
        cached = self._verified.get(token)
        if cached is not None and time.time() < cached[1]:
            return cached[0]
        decision = self._verify(token)
        if decision.allowed and decision.claims is not None:
            list_until = self._lists[decision.claims.status_uri][1]
            until = min(decision.claims.exp, list_until)
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[token] = (decision, until)
        return decision

    def _verify(self, token: str) -> Decision:
        if not token or token.count(".") != 2:
            return _refuse(Reason.MALFORMED)
        try:
            decoded = self._decode(token, TOKEN_TYPE)
        except InvalidKeyIdError:
            return _refuse(Reason.UNKNOWN_KEY)
        except BadSignatureError:
            return _refuse(Reason.BAD_SIGNATURE)
        except JoseError:
            return _refuse(Reason.BAD_ALGORITHM)
        except ValueError:
            return _refuse(Reason.MALFORMED)
        if decoded.header.get("typ") != TOKEN_TYPE:
            return _refuse(Reason.BAD_TYPE)
        try:
            claims = AccessClaims.from_claims(decoded.claims)
        except InvalidClaims:
            return _refuse(Reason.BAD_CLAIMS)
        if claims.iss != self.issuer:
            return _refuse(Reason.BAD_ISSUER)
        if claims.aud != self.audience:
            return _refuse(Reason.WRONG_AUDIENCE)
        now = time.time()
        if now > claims.exp + self.leeway:
            return _refuse(Reason.EXPIRED, claims)
        if now < claims.nbf - self.leeway:
            return _refuse(Reason.NOT_YET_VALID, claims)
        try:
            status = self._status(claims.status_uri, claims.status_idx)
        except (OSError, ValueError, IndexError, JoseError):
            return _refuse(Reason.STATUS_UNAVAILABLE, claims)
        if status == INVALID:
            return _refuse(Reason.REVOKED, claims)
        if status == SUSPENDED:
            return _refuse(Reason.SUSPENDED, claims)
        return Decision(True, None, claims, max(0.0, claims.exp - now))

    def allows_study(self, decision: Decision, study_uid: str, study_map: StudyMap) -> Decision:
        if not decision.allowed or decision.claims is None:
            return decision
        if study_map.dataset_of(study_uid) not in decision.claims.datasets:
            return replace(decision, allowed=False, reason=Reason.STUDY_NOT_PERMITTED, cache_for=0)
        return decision
