"""``python3 -m access.node.indexer``: index a folder of DICOM files, or an Orthanc's instances,
into one of the node's datasets at the portal.

It reads each file's header (never its pixel data), applies the de-identification gate the
node has chosen at the portal (with the retain options each file declares), and sends only the
header index of the files that pass, in batches, as the node (its client id and secret, HTTP
Basic, as the gatekeeper's access reports). Files refused or unreadable are listed with the
attribute and the reason. A state file records what the portal has: a run again reads only new
or changed files, and sends nothing when there is nothing new. See docs/node.md.
"""

import argparse
import json
import multiprocessing
import os
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..config import ConfigError, _loopback_http, _portal_url, read_secret_file
from ..deid import PROFILES, HeaderResult, Status
from ..headers import MAX_INSTANCES, IndexBatch, IndexedInstance
from ..portal_link import PortalError, basic_credentials, http_request
from .sources import FolderReader, Item, Orthanc, OrthancReader, folder_items
from .state import State

CHUNK = 256  # at most, items a worker reads per task


class RunStopped(Exception):
    """The run cannot go on: the portal refused a batch, or has no such dataset."""


class Progress:
    """``[#####.....] 120/1000 files`` on stderr: redrawn in place on a terminal (at most ten
    times a second), else a plain line every ten per cent or every ten seconds."""

    WIDTH = 30

    def __init__(self, total: int, out: TextIO):
        self.total = total
        self.out = out
        self.tty = out.isatty()
        self.last = 0.0
        self.last_tenth = -1

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        total = self.total
        if self.tty:
            if done < total and now - self.last < 0.1:
                return
            end = ""
            prefix = "\r"
        else:
            tenth = 10 * done // total if total else 10
            if done < total and tenth == self.last_tenth and now - self.last < 10:
                return
            self.last_tenth = tenth
            end, prefix = "\n", ""
        self.last = now
        filled = self.WIDTH * done // total if total else self.WIDTH
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.out.write(f"{prefix}[{bar}] {done}/{total} files{end}")
        self.out.flush()

    def finish(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()


@dataclass
class Portal:
    """The portal's index endpoint for one dataset, as the node."""

    base: str
    client_id: str
    secret: str
    dataset: int
    timeout: float = 120.0

    @property
    def url(self) -> str:
        return f"{self.base.rstrip('/')}/access/nodes/datasets/{self.dataset}/index"

    def _call(self, method: str, body: bytes | None = None) -> dict[str, Any]:
        headers = {"Authorization": basic_credentials(self.client_id, self.secret)}
        if body is not None:
            headers["Content-Type"] = "application/json"
        status, _headers, answer = http_request(
            self.url, method=method, headers=headers, body=body, timeout=self.timeout
        )
        if status == 404:
            raise RunStopped(f"the portal has no dataset {self.dataset} of this node (404)")
        if status != 200:
            try:
                reason = json.loads(answer).get("error_description", "")
            except (ValueError, AttributeError):
                reason = ""
            raise RunStopped(f"the portal answered {status}: {reason or answer[:200]!r}")
        result = json.loads(answer)
        if not isinstance(result, dict):
            raise RunStopped("the portal's answer is not a JSON object")
        return result

    def info(self) -> dict[str, Any]:
        return self._call("GET")

    def send(self, batch: IndexBatch) -> dict[str, Any]:
        return self._call("POST", json.dumps(batch.to_json()).encode())


@dataclass
class Summary:
    files: int = 0
    skipped: int = 0  # in the state file already
    sent: int = 0
    new_instances: int = 0
    already_indexed: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    batches: int = 0


def _chunks(items: list[Item], size: int) -> Iterator[list[Item]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _results(
    reader: Callable[[Item], tuple[Item, HeaderResult]], items: list[Item], workers: int
) -> Iterator[tuple[Item, HeaderResult]]:
    """Each item's header, in order; ``workers`` processes read them (1: this process)."""
    if workers <= 1 or len(items) < 2:
        for item in items:
            yield reader(item)
        return
    methods = multiprocessing.get_all_start_methods()
    # fork: the workers start with pydicom already imported (no second start-up)
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    size = max(1, min(CHUNK, len(items) // (workers * 4)))
    with context.Pool(workers) as pool:
        results = pool.imap(_ChunkReader(reader), _chunks(items, size))
        for chunk, headers in zip(_chunks(items, size), results, strict=True):
            yield from zip(chunk, headers, strict=True)


@dataclass(frozen=True)
class _ChunkReader:
    """Reads a chunk of items in a worker; only the results travel back."""

    reader: Callable[[Item], tuple[Item, HeaderResult]]

    def __call__(self, items: list[Item]) -> list[HeaderResult]:
        return [self.reader(item)[1] for item in items]


def run(
    *,
    portal: Portal,
    items: Iterable[Item],
    reader_for: Callable[[str], Callable[[Item], tuple[Item, HeaderResult]]],
    state: State,
    workers: int = 1,
    batch_size: int = MAX_INSTANCES,
    progress_out: TextIO = sys.stderr,
) -> Summary:
    """Read, gate and send; the summary says what happened."""
    info = portal.info()
    profile = str(info.get("gate_profile", ""))
    if profile not in PROFILES:  # fail closed: never a weaker gate than the node's
        raise RunStopped(f"the portal names no gate this indexer knows ({profile!r})")
    batch_size = max(1, min(batch_size, int(info.get("max_instances", MAX_INSTANCES))))
    summary = Summary()
    todo = []
    for item in items:
        summary.files += 1
        if item.key in state:
            summary.skipped += 1
        else:
            todo.append(item)
    progress = Progress(len(todo), progress_out)
    progress(0)
    sender = ThreadPoolExecutor(max_workers=1)  # one batch in flight while reading goes on
    in_flight: Future[None] | None = None
    pending: list[tuple[Item, IndexedInstance]] = []
    counts = {"refused": 0, "unreadable": 0}

    def send(entries: list[tuple[Item, IndexedInstance]], refused: int, unreadable: int) -> None:
        batch = IndexBatch(
            gate_profile=profile,
            instances=tuple(instance for _item, instance in entries),
            refused=refused,
            unreadable=unreadable,
        )
        answer = portal.send(batch)
        summary.batches += 1
        summary.sent += len(entries)
        summary.new_instances += int(answer.get("new_instances", 0))
        summary.already_indexed += int(answer.get("already_indexed", 0))
        for conflict in answer.get("refused", []):
            summary.conflicts.append((str(conflict.get("instance")), str(conflict.get("reason"))))
        state.add(item.key for item, _instance in entries)

    def flush() -> None:
        nonlocal in_flight, pending
        if in_flight is not None:
            in_flight.result()
        entries, pending = pending, []
        refused, unreadable = counts["refused"], counts["unreadable"]
        counts["refused"] = counts["unreadable"] = 0
        in_flight = sender.submit(send, entries, refused, unreadable) if entries else None

    try:
        for done, (item, result) in enumerate(_results(reader_for(profile), todo, workers), 1):
            if result.status == Status.ACCEPTED:
                pending.append((item, IndexedInstance.of(result)))
                if len(pending) >= batch_size:
                    flush()
            elif result.status == Status.REFUSED:
                summary.refused.append((item.name, result.reason))
                counts["refused"] += 1
            else:
                summary.unreadable.append((item.name, result.reason))
                counts["unreadable"] += 1
            progress(done)
        flush()
        if in_flight is not None:
            in_flight.result()
    finally:
        progress.finish()
        sender.shutdown(wait=True)
    return summary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m access.node.indexer",
        description=(
            "Index DICOM headers into one of this node's datasets at the portal: only the "
            "header index of files that pass the node's de-identification gate is sent, never "
            "pixel data."
        ),
    )
    parser.add_argument("--dataset", type=int, required=True, help="the dataset's id at the portal")
    parser.add_argument(
        "--config",
        help="the gatekeeper's configuration file: the portal (portal.issuer), the node's id "
        "(node.audience) and its secret (node.client_secret_file) are read from it",
    )
    parser.add_argument("--portal", help="the portal's address (instead of --config)")
    parser.add_argument("--node", help="the node's client id, its audience (instead of --config)")
    parser.add_argument(
        "--client-secret-file", help="the file holding the node's secret (instead of --config)"
    )
    parser.add_argument(
        "--orthanc", help="index an Orthanc's instances over its REST API (a loopback http:// URL)"
    )
    parser.add_argument("--orthanc-user", default="", help="an Orthanc user, if it asks for one")
    parser.add_argument(
        "--orthanc-password-file", help="the file holding that user's password (chmod 600)"
    )
    parser.add_argument(
        "--state",
        help="the state file (default: ecii-index-<dataset>.state in the current folder)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="processes reading headers (default 1)"
    )
    parser.add_argument(
        "--batch", type=int, default=MAX_INSTANCES, help="instances per batch sent to the portal"
    )
    parser.add_argument("folders", nargs="*", metavar="FOLDER", help="DICOM files or folders")
    return parser


def _credentials(args: argparse.Namespace) -> tuple[str, str, str]:
    if args.config:
        try:
            data = tomllib.loads(Path(args.config).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"cannot read {args.config}: {error}") from None
        portal, node = data.get("portal", {}), data.get("node", {})
        base, client, secret_file = (
            portal.get("issuer"),
            node.get("audience"),
            node.get("client_secret_file"),
        )
    else:
        base, client, secret_file = args.portal, args.node, args.client_secret_file
    if not (isinstance(base, str) and isinstance(client, str) and isinstance(secret_file, str)):
        raise ConfigError(
            "the portal, the node's id and its secret file are needed: --config, or --portal, "
            "--node and --client-secret-file"
        )
    secret = read_secret_file(Path(secret_file), "the node's client secret file")
    return _portal_url(base, "the portal's address"), client, secret


def _print_summary(summary: Summary, out: TextIO) -> None:
    out.write(
        f"Files: {summary.files} ({summary.skipped} indexed by an earlier run); "
        f"sent: {summary.sent} in {summary.batches} batch(es); new at the portal: "
        f"{summary.new_instances}, already there: {summary.already_indexed}\n"
    )
    for label, rows in (
        ("Refused by the gate", summary.refused),
        ("Unreadable", summary.unreadable),
        ("Refused by the portal", summary.conflicts),
    ):
        out.write(f"{label}: {len(rows)}\n")
        for name, reason in rows:
            out.write(f"  {name}: {reason}\n")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.workers < 1:
        print("--workers must be at least 1", file=sys.stderr)
        return 2
    if bool(args.orthanc) == bool(args.folders):
        print("give either FOLDER(s) or --orthanc", file=sys.stderr)
        return 2
    try:
        base, client, secret = _credentials(args)
        if args.orthanc:
            password = ""
            if args.orthanc_password_file:
                password = read_secret_file(
                    Path(args.orthanc_password_file), "the Orthanc password file"
                )
            orthanc = Orthanc.at(
                _loopback_http(args.orthanc, "--orthanc"), args.orthanc_user, password
            )
    except ConfigError as error:
        print(f"configuration: {error}", file=sys.stderr)
        return 2
    missing = [folder for folder in args.folders if not os.path.exists(folder)]
    if missing:
        print(f"no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    portal = Portal(base, client, secret, args.dataset)
    state = State(Path(args.state or f"ecii-index-{args.dataset}.state"))
    try:
        if args.orthanc:
            summary = run(
                portal=portal,
                items=orthanc.items(),
                reader_for=lambda profile: OrthancReader(orthanc, profile),
                state=state,
                workers=args.workers,
                batch_size=args.batch,
            )
        else:
            summary = run(
                portal=portal,
                items=folder_items(args.folders),
                reader_for=FolderReader,
                state=state,
                workers=args.workers,
                batch_size=args.batch,
            )
    except (RunStopped, PortalError) as error:
        print(f"stopped: {error}. What the portal accepted is in the state file; run again to "
              "go on.", file=sys.stderr)  # fmt: skip
        return 1
    _print_summary(summary, sys.stdout)
    return 0
