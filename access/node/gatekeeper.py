"""The node gatekeeper: a small loopback HTTP service that nginx asks about every request
(``auth_request``), and that answers study-level DICOMweb searches itself, filtered.

nginx is the node's only public door; the image server (Orthanc, or any DICOMweb server) listens
on loopback. Image bytes go from the image server through nginx to the client, never through
this process. The rules it enforces:

- **Researchers reach DICOMweb only, for their studies.** A request with a Bearer access token
  is checked by the verifier (signature, ``typ``, ``iss``, ``aud``, times, status list), must
  carry the ``dicomweb.read`` scope and be a GET or HEAD. Below ``/studies/{StudyInstanceUID}``
  (WADO-RS and QIDO-RS at every level: study, series, instance, frames, metadata, rendered,
  bulk data) the study in the normalised path must belong, by the portal's signed study map, to
  one of the token's datasets; a study the map does not know is refused. Anything else (the
  image server's own REST API, top-level series or instance search, STOW) is refused to tokens.
- **Search lists only permitted studies.** ``GET {prefix}/studies?...`` is answered here: the
  gatekeeper asks the image server over loopback and returns only the studies the token covers.
  Paging: ``limit`` and ``offset`` count permitted studies only. When the token covers at most
  ``search_uid_list_max`` studies, the gatekeeper sends the server the same query restricted to
  that UID list (QIDO list matching) with the client's ``limit``/``offset``, so the server pages;
  otherwise it asks without them, filters, and takes the page itself. Either way the results are
  filtered again, and page *n* of a search never shows a study the token does not cover.
- **Node operators** use their own credentials (HTTP Basic, checked against scrypt hashes in the
  configuration, constant-time compare); they reach everything, the native REST API included.
- **Every decision on a study by a verified token is reported** to the portal (token ``jti``,
  study, time, decision, reason) in signed batches. Refusals of tokens that did not verify are
  logged here only: their claims cannot be trusted.

nginx passes the normalised path (``$uri``), the method and the query string in ``X-Original-URI``,
``X-Original-Method`` and ``X-Original-Args``; the answer is 200, or 401/403 with the RFC 6750
``WWW-Authenticate`` header and the reason code in ``X-ECII-Reason``.

Run it with ``python3 -m access.node.gatekeeper --config /etc/ecii-gatekeeper/gatekeeper.toml``.
"""

import argparse
import base64
import binascii
import functools
import hashlib
import json
import logging
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlencode

from . import config as node_config
from .claims import SCOPE_READ, AccessClaims
from .portal_link import (
    AccessEvent,
    AccessReporter,
    PortalError,
    PortalKeys,
    StudyMapStore,
    basic_credentials,
    http_request,
)
from .reasons import Reason, http_answer, www_authenticate
from .studies import StudyMap

log = logging.getLogger("ecii.gatekeeper")

UID = re.compile(r"[0-9]+(?:\.[0-9]+)*")
SEGMENT = re.compile(r"[A-Za-z0-9._,-]+")
READ_METHODS = frozenset({"GET", "HEAD"})
STUDY_UID_KEYS = frozenset({"studyinstanceuid", "0020000d"})
DICOM_JSON = "application/dicom+json"
OPERATOR_REALM = "ECII node operators"
MAX_SEARCH_BYTES = 64 * 1024 * 1024


class DecisionLike(Protocol):
    """What the verifier decides about a token (``access.node.verifier.Decision``)."""

    @property
    def allowed(self) -> bool: ...
    @property
    def reason(self) -> Reason | None: ...
    @property
    def claims(self) -> AccessClaims | None: ...


class VerifierLike(Protocol):
    """The verifier's interface (``access.node.verifier.Verifier``)."""

    def verify(self, token: str) -> Any: ...
    def allows_study(self, decision: Any, study_uid: str, study_map: StudyMap) -> Any: ...


@dataclass(frozen=True)
class Answer:
    """An HTTP answer of the gatekeeper."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


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
    """The StudyInstanceUIDs a QIDO query names (by keyword or tag, any case, any number of
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
    """The decisions, independent of HTTP: :meth:`authorise` for nginx's subrequests and
    :meth:`search` for study-level QIDO."""

    def __init__(
        self,
        config: node_config.Config,
        *,
        verifier: VerifierLike,
        study_maps: StudyMapStore,
        reporter: AccessReporter | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config, self.verifier, self.study_maps = config, verifier, study_maps
        self.reporter, self.clock = reporter, clock
        self.operators = OperatorCache(config.operator_cache_seconds)

    # --- credentials -------------------------------------------------------------------

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

    def _token_decision(self, token: str) -> tuple[Any, Answer | None]:
        """The verifier's decision on a token, and the refusal when it does not pass or does not
        carry the read scope."""
        decision = self.verifier.verify(token)
        if not decision.allowed:
            return decision, refusal(decision.reason or Reason.MALFORMED)
        if decision.claims is None or SCOPE_READ not in decision.claims.scopes:
            return decision, refusal(Reason.INSUFFICIENT_SCOPE)
        return decision, None

    def _report(self, claims: AccessClaims | None, study: str, reason: Reason | None) -> None:
        if self.reporter is None or claims is None:
            return
        self.reporter.record(
            AccessEvent(
                jti=claims.jti,
                study=study,
                time=int(self.clock()),
                decision="refused" if reason else "allowed",
                reason=reason.value if reason else "",
            )
        )

    # --- nginx's subrequest ---------------------------------------------------------------

    def authorise(self, *, method: str, uri: str, args: str, authorization: str | None) -> Answer:
        """Allow (200) or refuse (401/403) one request nginx is about to pass to the server."""
        if not uri.startswith("/") or any(ord(c) < 0x21 or ord(c) == 0x7F for c in uri):
            return bad_request("the path holds control characters or spaces")
        target = classify(uri, self.config.dicomweb_prefix)
        dicomweb = uri.startswith(self.config.dicomweb_prefix + "/")
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() == "basic":
            return OK if self.is_operator(authorization or "") else operator_challenge()
        if scheme.lower() != "bearer" or not credentials.strip():
            if not dicomweb:
                return operator_challenge("missing_credentials")
            return refusal(Reason.MISSING_TOKEN if not authorization else Reason.MALFORMED)
        decision, refused = self._token_decision(credentials.strip())
        claims = decision.claims if decision is not None else None
        if refused is not None:
            if target.kind == "study":
                self._report(claims, target.study, decision.reason or Reason.INSUFFICIENT_SCOPE)
            log.info("refused %s %s: %s", method, uri, dict(refused.headers)["X-ECII-Reason"])
            return refused
        if method not in READ_METHODS or target.kind == "other":
            log.info("refused %s %s to a token: not a DICOMweb read", method, uri)
            if target.kind == "study":
                self._report(claims, target.study, Reason.INSUFFICIENT_SCOPE)
            return refusal(Reason.INSUFFICIENT_SCOPE)
        if target.kind == "search":
            return OK  # answered by search(), which filters
        named = study_uids_in(parse_qsl(args, keep_blank_values=True))
        if named is not None and any(uid != target.study for uid in named):
            self._report(claims, target.study, Reason.STUDY_NOT_PERMITTED)
            return refusal(Reason.STUDY_NOT_PERMITTED)
        study_map = self.study_maps.current()
        if study_map is None:
            self._report(claims, target.study, Reason.STUDY_MAP_UNAVAILABLE)
            return refusal(Reason.STUDY_MAP_UNAVAILABLE)
        decision = self.verifier.allows_study(decision, target.study, study_map)
        if not decision.allowed:
            reason = decision.reason or Reason.STUDY_NOT_PERMITTED
            self._report(claims, target.study, reason)
            return refusal(reason)
        self._report(claims, target.study, None)
        return OK

    # --- study-level search -----------------------------------------------------------------

    def search(
        self, *, query: str, authorization: str | None, accept: str | None, forwarded: str | None
    ) -> Answer:
        """Answer ``GET {prefix}/studies?query`` with the studies the caller may see."""
        scheme, _, credentials = (authorization or "").partition(" ")
        operator = scheme.lower() == "basic" and self.is_operator(authorization or "")
        claims: AccessClaims | None = None
        if not operator:
            if scheme.lower() != "bearer" or not credentials.strip():
                return refusal(Reason.MISSING_TOKEN if not authorization else Reason.MALFORMED)
            decision, refused = self._token_decision(credentials.strip())
            if refused is not None:
                return refused
            claims = decision.claims
        if not accepts_dicom_json(accept):
            return Answer(406, body=b"search results are application/dicom+json only")
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=200)
        headers = {"Accept": DICOM_JSON}
        if forwarded:
            headers["Forwarded"] = forwarded
        if operator:
            return self._ask_server(query, headers, permitted=None)
        assert claims is not None
        paging: dict[str, int] = {}
        others: list[tuple[str, str]] = []
        for key, value in pairs:
            if key in {"limit", "offset"}:
                if not value.isdigit():
                    return bad_request(f"{key} must be a non-negative integer")
                paging[key] = int(value)
            elif key.strip().lower() not in STUDY_UID_KEYS:
                others.append((key, value))
        study_map = self.study_maps.current()
        if study_map is None:
            return refusal(Reason.STUDY_MAP_UNAVAILABLE)
        datasets = set(claims.datasets)
        permitted = {uid for uid, e in study_map.studies.items() if e.dataset in datasets}
        named = study_uids_in(pairs)
        if named is not None:
            permitted &= set(named)
        if not permitted:
            return Answer(200, (("Content-Type", DICOM_JSON),), b"[]")
        if len(permitted) <= self.config.search_uid_list_max:
            restricted = [*others, ("StudyInstanceUID", ",".join(sorted(permitted)))]
            restricted += [(k, str(v)) for k, v in paging.items()]
            answer = self._ask_server(urlencode(restricted), headers, permitted=permitted)
            page = None
        else:
            answer = self._ask_server(urlencode(others), headers, permitted=permitted)
            offset = paging.get("offset", 0)
            page = slice(offset, offset + paging["limit"] if "limit" in paging else None)
        if answer.status != 200:
            return answer
        studies = json.loads(answer.body)
        if page is not None:
            studies = studies[page]
        for study in studies:
            self._report(claims, _study_uid(study) or "", None)
        return Answer(200, (("Content-Type", DICOM_JSON),), json.dumps(studies).encode("utf-8"))

    def _ask_server(
        self, query: str, headers: dict[str, str], *, permitted: set[str] | None
    ) -> Answer:
        """Run a study-level QIDO on the image server; with ``permitted``, keep only those."""
        url = f"{self.config.orthanc_dicomweb_url}/studies" + (f"?{query}" if query else "")
        try:
            status, answer_headers, body = http_request(
                url, headers=headers, timeout=self.config.timeout, max_bytes=MAX_SEARCH_BYTES
            )
        except PortalError as error:
            log.error("search: the DICOMweb server did not answer: %s", error)
            return Answer(502, body=b"the image server did not answer")
        if status == 204 or (status == 200 and not body.strip()):
            return Answer(200, (("Content-Type", DICOM_JSON),), b"[]")
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
        return Answer(200, (("Content-Type", DICOM_JSON),), json.dumps(studies).encode("utf-8"))


def _study_uid(study: Any) -> str | None:
    """The StudyInstanceUID (0020000D) of a DICOM JSON study object."""
    if not isinstance(study, dict):
        return None
    values = (study.get("0020000D") or {}).get("Value") or []
    return values[0] if values and isinstance(values[0], str) else None


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive (nginx keeps connections to the gatekeeper open)."""

    protocol_version = "HTTP/1.1"
    server_version = "ecii-gatekeeper"
    sys_version = ""
    gatekeeper: Gatekeeper  # set on the subclass made by make_server()

    def _single(self, name: str) -> str | None:
        """A header that may appear at most once; a repeated one is refused (headers split off a
        path by CR LF would otherwise override the real ones)."""
        values = self.headers.get_all(name) or []
        if len(values) > 1:
            raise ValueError(f"{name} appears more than once")
        return values[0] if values else None

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD" and answer.body:
            self.wfile.write(answer.body)

    def _handle(self) -> None:
        path, _, query = self.path.partition("?")
        try:
            if path == "/auth":
                answer = self.gatekeeper.authorise(
                    method=(self._single("X-Original-Method") or "").upper(),
                    uri=self._single("X-Original-URI") or "",
                    args=self._single("X-Original-Args") or "",
                    authorization=self._single("Authorization"),
                )
            elif path == self.gatekeeper.config.dicomweb_prefix + "/studies":
                if self.command not in READ_METHODS:
                    answer = Answer(405, (("Allow", "GET, HEAD"),))
                else:
                    answer = self.gatekeeper.search(
                        query=query,
                        authorization=self._single("Authorization"),
                        accept=self.headers.get("Accept"),
                        forwarded=self._single("Forwarded"),
                    )
            elif path == "/healthz":
                study_map = self.gatekeeper.study_maps.current()
                state = {"study_map": study_map is not None}
                answer = Answer(
                    200, (("Content-Type", "application/json"),), json.dumps(state).encode()
                )
            else:
                answer = Answer(404)
        except ValueError as error:
            answer = bad_request(str(error))
        except Exception:  # a bug must refuse, never allow
            log.exception("error while deciding on %s %s", self.command, unquote(path))
            answer = Answer(500)
        self._send(answer)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def make_server(gatekeeper: Gatekeeper) -> ThreadingHTTPServer:
    handler = type("GatekeeperHandler", (Handler,), {"gatekeeper": gatekeeper})
    server = ThreadingHTTPServer(gatekeeper.config.listen, handler)
    server.daemon_threads = True
    return server


def build_verifier(config: node_config.Config) -> VerifierLike:
    """The token verifier for this node (``access.node.verifier``)."""
    from .verifier import Verifier  # type: ignore[import-not-found,unused-ignore]

    return Verifier(
        issuer=config.issuer,
        audience=config.audience,
        jwks_url=config.jwks_url,
        leeway=config.leeway,
        jwks_refresh_floor=config.jwks_refresh_floor,
    )


def build(
    config: node_config.Config,
    *,
    make_verifier: Callable[[node_config.Config], VerifierLike] = build_verifier,
) -> Gatekeeper:
    """The gatekeeper for ``config``: its verifier, study map store and access reporter."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    authorization = basic_credentials(config.audience, config.client_secret)
    keys = PortalKeys(
        config.jwks_url, timeout=config.timeout, refresh_floor=config.jwks_refresh_floor
    )
    study_maps = StudyMapStore(
        url=config.study_map_url,
        issuer=config.issuer,
        audience=config.audience,
        authorization=authorization,
        keys=keys,
        state_dir=config.state_dir,
        refresh=config.study_map_refresh,
        leeway=config.leeway,
        timeout=config.timeout,
    )
    reporter = AccessReporter(
        url=config.reports_url,
        node=config.audience,
        portal=config.issuer,
        authorization=authorization,
        signing_key=config.signing_key,
        spool=config.state_dir / "reports",
        batch_max=config.report_batch_max,
        timeout=config.timeout,
    )
    return Gatekeeper(
        config, verifier=make_verifier(config), study_maps=study_maps, reporter=reporter
    )


def _sync_study_map(gatekeeper: Gatekeeper, stop: threading.Event) -> None:
    store = gatekeeper.study_maps
    while not stop.is_set():
        try:
            study_map = store.sync()
            log.info("study map synced: %d studies", len(study_map.studies))
        except PortalError as error:
            log.error("study map not synced (the last good one serves until it expires): %s", error)
        stop.wait(store.next_sync_in())


def _send_reports(gatekeeper: Gatekeeper, stop: threading.Event) -> None:
    reporter = gatekeeper.reporter
    assert reporter is not None
    while not stop.is_set():
        reporter.full.wait(gatekeeper.config.report_interval)
        try:
            reporter.flush()
        except Exception:
            log.exception("access reports not sent")


def serve(gatekeeper: Gatekeeper) -> None:
    """Serve until SIGTERM or SIGINT; then seal and try to send the pending access reports."""
    gatekeeper.study_maps.load_cached()
    stop = threading.Event()
    workers = [
        threading.Thread(target=_sync_study_map, args=(gatekeeper, stop), daemon=True),
        threading.Thread(target=_send_reports, args=(gatekeeper, stop), daemon=True),
    ]
    server = make_server(gatekeeper)

    def shut_down(_signum: int, _frame: Any) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    for worker in workers:
        worker.start()
    host, port = server.server_address[:2]
    log.info("gatekeeper listening on %s:%s for node %s", host, port, gatekeeper.config.audience)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        if gatekeeper.reporter is not None:
            gatekeeper.reporter.flush()
        log.info("gatekeeper stopped")


def _new_key(path: Path, algorithm: str) -> None:
    from joserfc.jwk import ECKey, OKPKey

    parameters: Any = {"use": "sig", "alg": algorithm}
    if algorithm == "ES256":
        key: Any = ECKey.generate_key("P-256", parameters, private=True, auto_kid=True)
    else:
        key = OKPKey.generate_key("Ed25519", parameters, private=True, auto_kid=True)
    node_config.write_secret_file(path, json.dumps(key.as_dict(private=True)))
    print(json.dumps(key.as_dict(private=False), indent=2))


def main(
    argv: list[str] | None = None,
    *,
    make_verifier: Callable[[node_config.Config], VerifierLike] = build_verifier,
) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m access.node.gatekeeper", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--config", type=Path, help="the gatekeeper's TOML configuration")
    parser.add_argument("--log-level", default="INFO")
    commands = parser.add_subparsers(dest="command")
    new_key = commands.add_parser("new-key", help="create the node's report-signing key")
    new_key.add_argument("path", type=Path, help="where to write the private JWK (mode 600)")
    new_key.add_argument("--algorithm", choices=["ES256", "Ed25519"], default="ES256")
    new_operator = commands.add_parser("new-operator", help="create an operator's credentials")
    new_operator.add_argument("name")
    commands.add_parser("check", help="check the configuration and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")
    if args.command == "new-key":
        _new_key(args.path, args.algorithm)
        print(
            f"Private key written to {args.path}. Register the public key above at the portal.",
            file=sys.stderr,
        )
        return 0
    if args.command == "new-operator":
        secret = node_config.new_operator_secret()
        print(f"Secret for {args.name} (shown once): {secret}", file=sys.stderr)
        print(f'{args.name} = "{node_config.hash_secret(secret)}"')
        return 0
    if args.config is None:
        parser.error("--config is required")
    try:
        config = node_config.load(args.config)
    except node_config.ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    if args.command == "check":
        print("configuration OK")
        return 0
    serve(build(config, make_verifier=make_verifier))
    return 0


if __name__ == "__main__":
    sys.exit(main())
