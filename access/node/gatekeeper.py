"""The node gatekeeper: a small loopback HTTP service that nginx asks about every request
(``auth_request``), and that answers study-level DICOMweb searches itself, filtered. The rules
are in :mod:`.decisions`; this module serves them, keeps the study map in sync and sends the
access reports.

nginx is the node's only public door and the image server (Orthanc, or any DICOMweb server)
listens on loopback only; image bytes go from the image server through nginx to the client, never
through this process. nginx passes the normalised path (``$uri``), the method and the query
string in ``X-Original-URI``, ``X-Original-Method`` and ``X-Original-Args`` to ``/auth``; the
answer is 200, or 401/403 with the RFC 6750 ``WWW-Authenticate`` header and the reason code in
``X-ECII-Reason`` (``access/node/conf/nginx-locations.conf`` passes both to the client).

Run it with ``python3 -m access.node.gatekeeper --config /etc/ecii-gatekeeper/gatekeeper.toml``
(see docs/node.md); ``new-key`` and ``new-operator`` make the node's report-signing key and an
operator's credentials.
"""

import argparse
import json
import logging
import re
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from . import config as node_config
from .decisions import READ_METHODS, Answer, Gatekeeper, bad_request
from .exclusion_store import ExclusionStore
from .fetch import HttpFetcher
from .portal_link import (
    AccessReporter,
    PortalError,
    StudyMapStore,
    basic_credentials,
    check_signing_key,
)
from .reused import ReusedLog
from .verifier import Verifier

__all__ = ["Gatekeeper", "build", "main", "make_server", "serve"]

log = logging.getLogger("ecii.gatekeeper")


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive (nginx keeps its connections to the gatekeeper open)."""

    protocol_version = "HTTP/1.1"
    server_version = "ecii-gatekeeper"
    sys_version = ""
    gatekeeper: Gatekeeper  # set on the subclass make_server() creates

    def _single(self, name: str) -> str | None:
        """A header that may appear at most once: a repeated one is refused (headers split off
        a path by CR LF would otherwise stand beside the real ones)."""
        values = self.headers.get_all(name) or []
        if len(values) > 1:
            raise ValueError(f"{name} appears more than once")
        return values[0] if values else None

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        if not any(name == "X-Accel-Expires" for name, _value in answer.headers):
            self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD" and answer.body:
            self.wfile.write(answer.body)

    def _answer(self) -> Answer:
        path, _, query = self.path.partition("?")
        gatekeeper = self.gatekeeper
        if path == "/auth":
            return gatekeeper.authorise(
                method=(self._single("X-Original-Method") or "").upper(),
                uri=self._single("X-Original-URI") or "",
                args=self._single("X-Original-Args") or "",
                authorization=self._single("Authorization"),
            )
        if path == gatekeeper.config.dicomweb_prefix + "/studies":
            if self.command not in READ_METHODS:
                return Answer(405, (("Allow", "GET, HEAD"),))
            return gatekeeper.search(
                query=query,
                authorization=self._single("Authorization"),
                accept=self.headers.get("Accept"),
                forwarded=self._single("Forwarded"),
            )
        if path == "/healthz":
            state = {"study_map": gatekeeper.study_maps.current() is not None}
            if gatekeeper.config.reused_log is not None:
                state["reused_log"] = gatekeeper.reuses_reported
            return Answer(200, (("Content-Type", "application/json"),), json.dumps(state).encode())
        return Answer(404)

    def _handle(self) -> None:
        try:
            answer = self._answer()
        except ValueError as error:
            answer = bad_request(str(error))
        except Exception:  # a fault refuses, never allows
            log.exception("error while deciding on %s %s", self.command, unquote(self.path))
            answer = Answer(500)
        self._send(answer)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s " + format, self.address_string(), *args)


class IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def make_server(gatekeeper: Gatekeeper) -> ThreadingHTTPServer:
    handler = type("GatekeeperHandler", (Handler,), {"gatekeeper": gatekeeper})
    host = gatekeeper.config.listen[0]
    kind = IPv6Server if ":" in host else ThreadingHTTPServer
    server = kind(gatekeeper.config.listen, handler)
    server.daemon_threads = True
    return server


def build(config: node_config.Config) -> Gatekeeper:
    """The gatekeeper for ``config``: its verifier, study map store, consent exclusion list
    and access reporter."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    authorization = basic_credentials(config.audience, config.client_secret)
    verifier = Verifier(
        issuer=config.issuer,
        audience=config.audience,
        jwks_url=config.jwks_url,
        fetcher=HttpFetcher(timeout=config.timeout),
        leeway=config.leeway,
        jwks_refresh_floor=config.jwks_refresh_floor,
    )
    study_maps = StudyMapStore(
        url=config.study_map_url,
        audience=config.audience,
        authorization=authorization,
        reader=verifier,
        refresh=config.study_map_refresh,
        leeway=config.leeway,
        timeout=config.timeout,
    )
    exclusions = ExclusionStore(
        url=config.exclusions_url,
        audience=config.audience,
        authorization=authorization,
        reader=verifier,
        refresh_floor=config.exclusions_refresh_floor,
        timeout=config.timeout,
    )
    reporter = AccessReporter(
        url=config.reports_url,
        node=config.audience,
        authorization=authorization,
        signing_key=config.signing_key,
        spool=config.state_dir / "reports",
        batch_max=config.report_batch_max,
        timeout=config.timeout,
    )
    return Gatekeeper(
        config,
        verifier=verifier,
        study_maps=study_maps,
        exclusions=exclusions,
        reporter=reporter,
    )


def _sync_study_map(gatekeeper: Gatekeeper, stop: threading.Event) -> None:
    store = gatekeeper.study_maps
    while not stop.is_set():
        try:
            study_map = store.sync()
            log.info("study map synced: %d studies", len(study_map.studies))
        except PortalError as error:
            log.error("study map not synced (a previous one serves until it expires): %s", error)
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


REUSED_READ_EVERY = 0.2  # seconds between reads of nginx's log of reused allows


def read_reused(gatekeeper: Gatekeeper, reused: ReusedLog) -> None:
    """Report the requests nginx allowed by reusing an allow since the last read. While its log
    cannot be read (its permissions, a file logrotate recreated for another group), no allow is
    reusable, so that nginx asks about every request and each is reported; said once in the
    journal, and again once it can be read."""
    try:
        reused.read()
    except Exception as error:
        if gatekeeper.reuses_reported:
            gatekeeper.reuses_reported = False
            log.error(
                "cannot read nginx's log of reused allows %s (%s): no allow is reused, nginx asks "
                "about every request, until it can be read",
                reused.path,
                error,
                exc_info=not isinstance(error, OSError),
            )
        return
    if not gatekeeper.reuses_reported:
        gatekeeper.reuses_reported = True
        log.warning("nginx's log of reused allows %s is read again: allows are reused", reused.path)


def _follow_reused(gatekeeper: Gatekeeper, reused: ReusedLog, stop: threading.Event) -> None:
    while not stop.wait(REUSED_READ_EVERY):
        read_reused(gatekeeper, reused)


def stop_reporting(gatekeeper: Gatekeeper, reused: ReusedLog | None) -> None:
    """At the end: read the last reuses, then seal the pending access reports and try to send
    them. The reports are sealed whatever happened to the log."""
    try:
        if reused is not None:
            read_reused(gatekeeper, reused)
            reused.close()
    finally:
        if gatekeeper.reporter is not None:
            gatekeeper.reporter.flush()


def serve(gatekeeper: Gatekeeper) -> None:
    """Serve until SIGTERM or SIGINT; then seal the pending access reports and try to send
    them (what cannot be sent waits in the spool for the next start)."""
    stop = threading.Event()
    server = make_server(gatekeeper)

    def shut_down(_signum: int, _frame: Any) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    for work in (_sync_study_map, _send_reports):
        threading.Thread(target=work, args=(gatekeeper, stop), daemon=True).start()
    reused = None
    if gatekeeper.config.reused_log is not None:
        gatekeeper.config.state_dir.mkdir(parents=True, exist_ok=True)
        position = gatekeeper.config.state_dir / "reused-log.position"
        reused = ReusedLog(gatekeeper.config.reused_log, position, gatekeeper.record_reused)
        read_reused(gatekeeper, reused)  # before the first allow: may it be reused?
        threading.Thread(
            target=_follow_reused, args=(gatekeeper, reused, stop), daemon=True
        ).start()
    host, port = server.server_address[:2]
    log.info("gatekeeper listening on %s:%s for node %s", host, port, gatekeeper.config.audience)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        stop_reporting(gatekeeper, reused)
        log.info("gatekeeper stopped")


def new_key(path: Path, algorithm: str = "ES256") -> dict[str, Any]:
    """Write a new private signing key (JWK, mode 600) to ``path``; its public JWK."""
    from joserfc.jwk import ECKey, OKPKey

    parameters: Any = {"use": "sig", "alg": algorithm}
    if algorithm == "ES256":
        key: Any = ECKey.generate_key("P-256", parameters, private=True, auto_kid=True)
    else:
        key = OKPKey.generate_key("Ed25519", parameters, private=True, auto_kid=True)
    node_config.write_secret_file(path, json.dumps(key.as_dict(private=True)))
    public: dict[str, Any] = key.as_dict(private=False)
    return public


def public_key(path: Path) -> dict[str, Any]:
    """The public JWK of the private signing key in ``path`` (what the portal registers)."""
    private = json.loads(node_config.read_secret_file(path, str(path)))
    if not isinstance(private, dict):
        raise ValueError(f"{path} is not a JSON Web Key")
    check_signing_key(private)
    return {name: value for name, value in private.items() if name != "d"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m access.node.gatekeeper",
        description="The ECII node gatekeeper (nginx auth_request service).",
    )
    parser.add_argument("--config", type=Path, help="the gatekeeper's TOML configuration")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO (default), WARNING")
    commands = parser.add_subparsers(dest="command")
    key_command = commands.add_parser("new-key", help="create the node's report-signing key")
    key_command.add_argument("path", type=Path, help="where to write the private JWK (mode 600)")
    key_command.add_argument("--algorithm", choices=["ES256", "Ed25519"], default="ES256")
    public_command = commands.add_parser(
        "public-key", help="print the public JWK of a report-signing key, to register it"
    )
    public_command.add_argument("path", type=Path, help="the private JWK (from new-key)")
    operator_command = commands.add_parser("new-operator", help="make an operator's credentials")
    operator_command.add_argument("name")
    commands.add_parser("check", help="check the configuration and its secret files, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")
    if args.command == "new-key":
        try:
            public = new_key(args.path, args.algorithm)
        except FileExistsError:
            print(f"{args.path} exists: a key is never overwritten", file=sys.stderr)
            return 1
        print(json.dumps(public, indent=2))
        print(
            f"Private key in {args.path}. The public key above is what the portal registers: "
            f"save it (new-key ... > report-key.pub.jwk), or print it again with: public-key "
            f"{args.path}",
            file=sys.stderr,
        )
        return 0
    if args.command == "public-key":
        try:
            print(json.dumps(public_key(args.path), indent=2))
        except node_config.ConfigError as error:
            print(error, file=sys.stderr)
            return 1
        except Exception as error:
            print(f"{args.path} is not a private key that can sign: {error}", file=sys.stderr)
            return 1
        return 0
    if args.command == "new-operator":
        if not re.fullmatch(r"[A-Za-z0-9_-]+", args.name):
            print("an operator name is A-Z, a-z, 0-9, _ and - (a TOML key)", file=sys.stderr)
            return 1
        secret = node_config.new_operator_secret()
        print(f"Secret for {args.name} (shown once; give it to them): {secret}", file=sys.stderr)
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
        try:
            if config.reused_log is not None:
                node_config.check_reused_log(config.reused_log)
        except node_config.ConfigError as error:
            print(f"configuration error: {error}", file=sys.stderr)
            return 2
        print("configuration OK")
        return 0
    serve(build(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
