"""What the node gatekeeper decides: nginx's question about each request (:meth:`Gatekeeper.
authorise`) and study-level search (:meth:`Gatekeeper.search`), independent of HTTP
(``gatekeeper.py`` serves them).

- **Researchers reach DICOMweb only, for their studies.** A request with a Bearer access token
  is checked by the verifier (signature, ``typ``, ``iss``, ``aud``, times, status list), must
  carry the ``dicomweb.read`` scope and be a GET or HEAD. Below ``/studies/{StudyInstanceUID}``
  (WADO-RS and QIDO-RS at every level: study, series, instance, frames, metadata, rendered,
  bulk data) the study in the normalised path must belong, by the portal's signed study map, to
  one of the token's datasets; a study the map does not know is refused, and so is a query that
  names another StudyInstanceUID. Anything else (the image server's own REST API, top-level
  series or instance search, STOW-RS, WADO-URI) is refused to tokens.
- **Search lists only permitted studies.** ``GET {prefix}/studies?...`` is answered here: the
  gatekeeper asks the image server over loopback and returns only the studies the token covers.
  Paging: ``limit`` and ``offset`` count permitted studies only. When the token covers at most
  ``search_uid_list_max`` studies, the server is sent the same query restricted to that UID list
  (QIDO-RS list matching) with the client's ``limit`` and ``offset``, so the server pages;
  otherwise it is asked without them and the gatekeeper filters and takes the page itself.
  Either way the answer is filtered again, so no page ever holds a study the token does not
  cover, and page *n* + 1 starts where page *n* ended.
- **Consent is enforced.** A study whose subject (by the study map) is on the portal's signed
  consent exclusion list for the token's permit is refused (``subject_excluded``) and left out
  of search results; without a fresh list no study is served (``exclusions_unavailable``), and
  a token whose permit the list does not know, even fetched again, is refused
  (``permit_not_in_exclusions``). See :mod:`.exclusion_store`.
- **Node operators** use their own credentials (HTTP Basic, checked against scrypt hashes in the
  configuration, constant-time compare); they reach everything, the native REST API included.
- **Every decision on a DICOMweb request is reported** to the portal (the token's ``jti`` when
  the token is the portal's, else null; the study, null for a search; time; decision; reason),
  in signed batches. Operators' requests are logged here only.
- **An allow may be reused, never beyond what it rests on.** When nginx can report reuses
  (``reused_log``), an allowed study read answers with ``X-Accel-Expires``: the whole seconds
  until the first of the token's ``exp``, the end of its status list's ``ttl`` and the study
  map's next sync (:meth:`Gatekeeper.decision_valid_until`). nginx then answers the same token,
  method and study without asking (``nginx-locations.conf``) and logs each such request to that
  file, from which :meth:`Gatekeeper.record_reused` reports it like any other (:mod:`.reused`).
  Refusals are never reused.
"""

import base64
import binascii
import functools
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

from . import config as node_config
from . import reports
from .claims import SCOPE_READ, AccessClaims
from .exclusion_store import ExclusionStore
from .portal_link import AccessReporter, PortalError, StudyMapStore, http_request
from .reasons import Reason, http_answer, www_authenticate
from .studies import StudyMap

log = logging.getLogger("ecii.gatekeeper")

UID = re.compile(r"[0-9]+(?:\.[0-9]+)*")
SEGMENT = re.compile(r"[A-Za-z0-9._,-]+")
UNSAFE = re.compile(r"[\x00-\x20\x7f]")  # control characters and spaces in a decoded path
READ_METHODS = frozenset({"GET", "HEAD"})
STUDY_UID_KEYS = frozenset({"studyinstanceuid", "0020000d"})
DICOM_JSON = "application/dicom+json"
OPERATOR_REALM = "ECII node operators"


class DecisionLike(Protocol):
    """What the verifier decides about a token (``access.node.verifier.Decision``)."""

    @property
    def allowed(self) -> bool: ...
    @property
    def cache_for(self) -> float: ...
    @property
    def reason(self) -> Reason | None: ...
    @property
    def claims(self) -> AccessClaims | None: ...


class VerifierLike(Protocol):
    """The verifier's interface (``access.node.verifier.Verifier``)."""

    def verify(self, token: str) -> Any: ...
    def allows_study(self, decision: Any, study_uid: str, study_map: StudyMap) -> Any: ...
    def read_signed(
        self, document: bytes | str, *, typ: str, max_bytes: int = ...
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Answer:
    """An HTTP answer of the gatekeeper."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @property
    def reason(self) -> str:
        return dict(self.headers).get("X-ECII-Reason", "")


OK = Answer(200)


def refusal(reason: Reason) -> Answer:
    """The RFC 6750 answer to a refused token: status, challenge and the reason code."""
    status, _error = http_answer(reason)
    return Answer(
        status,
        (("WWW-Authenticate", www_authenticate(reason)), ("X-ECII-Reason", reason.value)),
    )


def operator_challenge(reason: str = "operator_credentials") -> Answer:
    return Answer(
        401,
        (
            ("WWW-Authenticate", f'Basic realm="{OPERATOR_REALM}", charset="UTF-8"'),
            ("X-ECII-Reason", reason),
        ),
    )


def bad_request(message: str) -> Answer:
    body = json.dumps({"error": message}).encode("utf-8")
    return Answer(400, (("Content-Type", "application/json"),), body)


def dicom_json(studies: list[Any]) -> Answer:
    return Answer(200, (("Content-Type", DICOM_JSON),), json.dumps(studies).encode("utf-8"))


@dataclass(frozen=True)
class Target:
    """What a normalised path asks for: a study search, a study's resources, or other."""

    kind: str  # "search", "study" or "other"
    study: str = ""


def classify(uri: str, prefix: str) -> Target:
    """The target of a normalised path. Only ``{prefix}/studies`` and
    ``{prefix}/studies/{uid}[/segment...]`` with plain segments are DICOMweb for tokens."""
    if uri == prefix + "/studies":
        return Target("search")
    head = prefix + "/studies/"
    if not uri.startswith(head):
        return Target("other")
    parts = uri[len(head) :].split("/")
    study, rest = parts[0], parts[1:]
    if rest and rest[-1] == "":
        rest = rest[:-1]  # a trailing slash
    if len(study) > 64 or not UID.fullmatch(study):
        return Target("other")
    if any(s in {".", ".."} or not SEGMENT.fullmatch(s) for s in rest):
        return Target("other")
    return Target("study", study)


def study_uids_in(query: Iterable[tuple[str, str]]) -> list[str] | None:
    """The StudyInstanceUIDs a QIDO query names (by keyword or tag, in any case, any number of
    times, as a list), or ``None`` when it names none."""
    found: list[str] | None = None
    for key, value in query:
        if key.strip().lower() in STUDY_UID_KEYS:
            found = (found or []) + [v.strip() for v in re.split(r"[,\\]", value) if v.strip()]
    return found


def accepts_dicom_json(accept: str | None) -> bool:
    if not accept:
        return True
    for item in accept.split(","):
        media = item.split(";")[0].strip().lower()
        if media in {DICOM_JSON, "application/json", "application/*", "*/*"}:
            return True
    return False


def _study_uid(study: Any) -> str | None:
    """The StudyInstanceUID (0020000D) of a DICOM JSON study object."""
    if not isinstance(study, dict):
        return None
    element = study.get("0020000D")
    values = element.get("Value") if isinstance(element, dict) else None
    return values[0] if isinstance(values, list) and values and isinstance(values[0], str) else None


@dataclass
class OperatorCache:
    """Recently checked operator credentials (by a hash of the header), so that a browser on
    Orthanc's pages does not pay for scrypt on every request."""

    seconds: float
    entries: dict[bytes, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, header: str, now: float) -> bool:
        key = hashlib.sha256(header.encode("utf-8")).digest()
        with self.lock:
            expires = self.entries.get(key)
            return expires is not None and now < expires

    def add(self, header: str, now: float) -> None:
        key = hashlib.sha256(header.encode("utf-8")).digest()
        with self.lock:
            if len(self.entries) > 1000:
                self.entries.clear()
            self.entries[key] = now + self.seconds


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random secret, checked when the operator name is unknown, so that unknown
    and known names take the same time."""
    return node_config.hash_secret(node_config.new_operator_secret())


class Gatekeeper:
    """The decisions: :meth:`authorise` for nginx's subrequests and :meth:`search` for
    study-level QIDO-RS."""

    def __init__(
        self,
        config: node_config.Config,
        *,
        verifier: VerifierLike,
        study_maps: StudyMapStore,
        exclusions: ExclusionStore,
        reporter: AccessReporter | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config, self.verifier, self.study_maps = config, verifier, study_maps
        self.exclusions = exclusions
        self.reporter, self.clock = reporter, clock
        self.operators = OperatorCache(config.operator_cache_seconds)
        # Whether the requests nginx allows by reusing an allow reach the reports: false while
        # its log of them cannot be read (gatekeeper.py follows it), and no allow is reusable.
        self.reuses_reported = config.reused_log is not None

    # Credentials

    def is_operator(self, authorization: str) -> bool:
        """Whether a ``Basic`` header names a configured operator with the right secret."""
        now = self.clock()
        if self.operators.hit(authorization, now):
            return True
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        name, colon, secret = decoded.partition(":")
        if not colon:
            return False
        stored = self.config.operators.get(name)
        matches = node_config.verify_secret(secret, stored or _dummy_hash())
        if matches and stored is not None:
            self.operators.add(authorization, now)
            log.info("operator %s authenticated", name)
            return True
        log.warning("operator credentials refused for %r", name[:64])
        return False

    def _token_decision(self, authorization: str | None) -> tuple[Any, Answer | None]:
        """The verifier's decision on a Bearer header, and the refusal when there is no token,
        it does not pass, or it lacks the read scope."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, refusal(Reason.MISSING_TOKEN if not authorization else Reason.MALFORMED)
        decision = self.verifier.verify(token.strip())
        if not decision.allowed:
            return decision, refusal(decision.reason or Reason.VERIFIER_ERROR)
        if decision.claims is None or SCOPE_READ not in decision.claims.scopes:
            return decision, refusal(Reason.INSUFFICIENT_SCOPE)
        return decision, None

    def _report(self, decision: Any, study: str | None, answer: Answer) -> Answer:
        """Record the decision on a DICOMweb request for the access reports; ``answer``
        passes through."""
        if self.reporter is not None:
            claims = decision.claims if decision is not None else None
            refused = answer.status != 200
            self.reporter.record(
                reports.AccessEvent.recorded(
                    jti=claims.jti if claims is not None else None,
                    study=study,
                    time=self.clock(),
                    reason=Reason(answer.reason) if refused else None,
                )
            )
        return answer

    # nginx's subrequest

    def authorise(self, *, method: str, uri: str, args: str, authorization: str | None) -> Answer:
        """Allow (200) or refuse (401/403) one request nginx is about to pass to the server."""
        if not uri.startswith("/") or UNSAFE.search(uri):
            return bad_request("the path holds control characters or spaces")
        prefix = self.config.dicomweb_prefix
        if authorization is not None and authorization[:6].lower() == "basic ":
            return OK if self.is_operator(authorization) else operator_challenge()
        dicomweb = uri.startswith(prefix + "/")
        if authorization is None and not dicomweb:
            return operator_challenge("missing_credentials")  # a browser on Orthanc's pages
        target = classify(uri, prefix)
        study = target.study or None
        decision, refused = self._token_decision(authorization)
        if refused is not None:
            log.info("refused %s %s: %s", method, uri, refused.reason)
            return self._report(decision, study, refused)
        if method not in READ_METHODS or target.kind == "other":
            log.info("refused %s %s to a token: not a DICOMweb read", method, uri)
            return self._report(decision, study, refusal(Reason.INSUFFICIENT_SCOPE))
        if target.kind == "search":
            return OK  # search() answers it, filtered, and reports it
        named = study_uids_in(parse_qsl(args, keep_blank_values=True))
        if named is not None and any(uid != target.study for uid in named):
            return self._report(decision, study, refusal(Reason.STUDY_NOT_PERMITTED))
        study_map = self.study_maps.current()
        if study_map is None:
            return self._report(decision, study, refusal(Reason.STUDY_MAP_UNAVAILABLE))
        decision = self.verifier.allows_study(decision, target.study, study_map)
        if not decision.allowed:
            reason = decision.reason or Reason.STUDY_NOT_PERMITTED
            return self._report(decision, study, refusal(reason))
        excluded = self._excluded(decision.claims, study_map, target.study)
        if excluded is not None:
            log.info("refused %s %s: %s", method, uri, excluded.value)
            return self._report(decision, study, refusal(excluded))
        return self._report(decision, study, self._allowed(decision))

    def decision_valid_until(self, decision: DecisionLike) -> float:
        """Until when an allowing decision on a study read stands: the first of the token's
        ``exp`` and its status list's ``ttl`` (``cache_for``), the study map's next sync and
        the end of the consent exclusion list's ttl. Every list an allow rests on tightens it
        here."""
        return min(
            self.clock() + decision.cache_for,
            self.study_maps.valid_until(),
            self.exclusions.valid_until(),
        )

    def _excluded(self, claims: AccessClaims, study_map: StudyMap, study: str) -> Reason | None:
        """Why the consent exclusion list refuses ``study`` to the token of ``claims``, or None.
        A study in several of the token's datasets is served when one of them allows it."""
        first: Reason | None = None
        for entry in study_map.granted(study, claims.datasets):
            refused = self.exclusions.refusal(claims, entry)
            if refused is None:
                return None
            first = first or refused
        return first

    def _allowed(self, decision: DecisionLike) -> Answer:
        """The 200 for an allowed study read: reusable by nginx for the whole seconds it stands,
        with the token's ``jti`` for the reports, when nginx can report the reuses."""
        claims = decision.claims
        if not self.reuses_reported or claims is None:
            return OK
        seconds = int(self.decision_valid_until(decision) - self.clock())  # rounded down
        if seconds < 1:
            return OK
        return Answer(200, (("X-Accel-Expires", str(seconds)), ("X-ECII-Jti", claims.jti)))

    def record_reused(self, jti: str, study: str, at: float) -> None:
        """Report a request nginx allowed by reusing an allow of this gatekeeper."""
        if self.reporter is not None:
            event = reports.AccessEvent.recorded(jti=jti, study=study, time=at, reason=None)
            self.reporter.record(event)

    # Study-level search

    def search(
        self, *, query: str, authorization: str | None, accept: str | None, forwarded: str | None
    ) -> Answer:
        """Answer ``GET {prefix}/studies?query`` with the studies the caller may see."""
        headers = {"Accept": DICOM_JSON}
        if forwarded:
            headers["Forwarded"] = forwarded
        if authorization is not None and authorization[:6].lower() == "basic ":
            if not self.is_operator(authorization):
                return operator_challenge()
            if not accepts_dicom_json(accept):
                return Answer(406, body=b"search results are application/dicom+json only")
            return self._ask_server(query, headers, permitted=None)
        decision, refused = self._token_decision(authorization)
        if refused is not None:
            return self._report(decision, None, refused)
        answer = self._search_for_token(decision.claims, query, headers, accept)
        return self._report(decision, None, answer) if answer.status in {200, 401, 403} else answer

    def _search_for_token(
        self, claims: AccessClaims, query: str, headers: dict[str, str], accept: str | None
    ) -> Answer:
        if not accepts_dicom_json(accept):
            return Answer(406, body=b"search results are application/dicom+json only")
        try:
            pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=200)
        except ValueError:
            return bad_request("too many query parameters")
        paging: dict[str, int] = {}
        others: list[tuple[str, str]] = []
        for key, value in pairs:
            if key in {"limit", "offset"}:
                if not value.isdigit() or key in paging:
                    return bad_request(f"{key} must be given once, as a non-negative integer")
                paging[key] = int(value)
            elif key.strip().lower() not in STUDY_UID_KEYS:
                others.append((key, value))
        study_map = self.study_maps.current()
        if study_map is None:
            return refusal(Reason.STUDY_MAP_UNAVAILABLE)
        exclusions = self.exclusions.for_permit(claims.permit)
        if exclusions is None:
            return refusal(Reason.EXCLUSIONS_UNAVAILABLE)
        if not exclusions.knows(claims.permit):
            return refusal(Reason.PERMIT_NOT_IN_EXCLUSIONS)
        datasets = set(claims.datasets)
        named = study_uids_in(pairs)
        candidates = study_map.studies.keys() if named is None else set(named)
        # Studies in the token's datasets, but not those of subjects whose consent does not
        # allow the permit's use (a study in several datasets: one that allows it is enough).
        permitted = {
            uid
            for uid in candidates
            if any(
                exclusions.refusal(
                    permit=claims.permit,
                    permit_iat=claims.permit_iat,
                    dataset=entry.dataset,
                    subject=entry.subject,
                )
                is None
                for entry in study_map.granted(uid, datasets)
            )
        }
        if not permitted:
            return dicom_json([])
        if len(permitted) <= self.config.search_uid_list_max:
            # The server pages: the same query, restricted to the permitted UIDs.
            restricted = [*others, ("StudyInstanceUID", ",".join(sorted(permitted)))]
            restricted += [(k, str(v)) for k, v in paging.items()]
            return self._ask_server(urlencode(restricted), headers, permitted=permitted)
        answer = self._ask_server(urlencode(others), headers, permitted=permitted)
        if answer.status != 200:
            return answer
        offset = paging.get("offset", 0)
        end = offset + paging["limit"] if "limit" in paging else None
        return dicom_json(json.loads(answer.body)[offset:end])

    def _ask_server(
        self, query: str, headers: dict[str, str], *, permitted: set[str] | None
    ) -> Answer:
        """Run a study-level QIDO-RS on the image server; with ``permitted``, keep only those."""
        url = f"{self.config.orthanc_dicomweb_url}/studies" + (f"?{query}" if query else "")
        try:
            status, answer_headers, body = http_request(
                url, headers=headers, timeout=self.config.timeout
            )
        except PortalError as error:
            log.error("search: the DICOMweb server did not answer: %s", error)
            return Answer(502, body=b"the image server did not answer")
        if status == 204 or (status == 200 and not body.strip()):
            return dicom_json([])
        if status != 200:
            kind = answer_headers.get("Content-Type", "text/plain")
            return Answer(status if 400 <= status < 500 else 502, (("Content-Type", kind),), body)
        try:
            studies = json.loads(body)
        except ValueError:
            return Answer(502, body=b"the image server's search answer is not JSON")
        if not isinstance(studies, list):
            return Answer(502, body=b"the image server's search answer is not a list")
        if permitted is not None:
            studies = [s for s in studies if _study_uid(s) in permitted]
        return dicom_json(studies)
