"""The node-side indexer as an operator pays for it: the command end to end, its start-up
included, at 10,000 files, against a plain ``pydicom.dcmread(stop_before_pixels=True)`` loop
over the same files run as its own process (its start-up included too).

Both read the same de-identified files, generated once. The indexer reads and gates each
header (the node's strict profile) and sends the header index in batches of 1,000 to a
stand-in portal on loopback (a small HTTP server in this process that checks the node's
credentials and answers as the portal does; the portal's own writes are in the ingest
benchmark). Each round runs the loop, then the indexer with one and two workers, each with a
fresh state file so that it does the whole work; the best of the rounds counts. Printed: wall
time, the CPU time of the process and its children, and the ratio of the loop's time to each
(higher is faster). Targets: at least 0.75 with one worker, at least 1.6 with two.
"""

import json
import os
import resource
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from access.node.portal_link import basic_credentials
from tests.catalogue.dicom_factory import write_tree

FILES = 10_000  # 100 subjects × 1 study × 4 series × 25 instances
ROUNDS = 3
TARGETS = {1: 0.75, 2: 1.6}
REPOSITORY = Path(__file__).resolve().parents[2]
AUDIENCE, SECRET, DATASET = "urn:ecii:node:bench", "bench-secret", 7

LOOP = """
import os, sys
from pydicom import dcmread
for root, folders, names in os.walk(sys.argv[1]):
    folders.sort()
    for name in sorted(names):
        dcmread(os.path.join(root, name), stop_before_pixels=True)
"""


class StandInPortal:
    """Answers the index endpoint for one dataset, as the portal does, storing nothing."""

    def __init__(self):
        expected = basic_credentials(AUDIENCE, SECRET)
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _allowed(self):
                if self.headers.get("Authorization") != expected:
                    self._answer(401, {"error": "invalid_client"})
                    return False
                return self.path == f"/access/nodes/datasets/{DATASET}/index"

            def do_GET(self):
                if self._allowed():
                    info = {"dataset": DATASET, "gate_profile": "strict", "max_instances": 1000}
                    self._answer(200, info)

            def do_POST(self):
                if self._allowed():
                    batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                    received.append(len(batch["instances"]))
                    answer = {"new_instances": len(batch["instances"]), "already_indexed": 0}
                    self._answer(200, {**answer, "refused": []})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _timed(command, **kwargs):
    """(wall seconds, CPU seconds of the child and its own children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert result.returncode == 0, result.stderr[-2000:]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result


@pytest.mark.benchmark
def test_indexer_against_a_plain_pydicom_loop(tmp_path):
    folder = tmp_path / "dicom"
    write_tree(folder, subjects=100, series_per_study=4, instances_per_series=25)
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    portal = StandInPortal()
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    runs = {"loop": [sys.executable, "-c", LOOP, str(folder)]}
    for workers in TARGETS:
        runs[f"indexer, {workers} worker(s)"] = [
            sys.executable, "-m", "access.node.indexer",
            "--portal", portal.url, "--node", AUDIENCE, "--client-secret-file", str(secret),
            "--dataset", str(DATASET), "--workers", str(workers), str(folder),
        ]  # fmt: skip
    wall = dict.fromkeys(runs, float("inf"))
    cpu = dict.fromkeys(runs, float("inf"))
    try:
        _timed(runs["loop"], env=env)  # page cache and byte-code caches warm
        for round_number in range(ROUNDS):
            for label, command in runs.items():
                if label != "loop":
                    state = tmp_path / f"state-{round_number}-{label[9]}"
                    command = [*command[:-1], "--state", str(state), command[-1]]
                seconds, cpu_seconds, result = _timed(command, env=env, cwd=tmp_path)
                if label != "loop":
                    assert f"sent: {FILES} in 10 batch(es)" in result.stdout, result.stdout
                wall[label] = min(wall[label], seconds)
                cpu[label] = min(cpu[label], cpu_seconds)
    finally:
        portal.stop()
    assert sum(portal.received) == FILES * ROUNDS * len(TARGETS)

    print()
    print(f"Node-side indexer, {FILES} files, {os.cpu_count()} CPUs, best of {ROUNDS} rounds, "
          "each command's start-up included")  # fmt: skip
    print(f"  {'':<22} {'wall s':>7} {'CPU s':>7}  {'ratio':>5}  (CPU-time ratio)")
    for label in runs:
        print(
            f"  {label:<22} {wall[label]:7.2f} {cpu[label]:7.2f}  "
            f"{wall['loop'] / wall[label]:5.2f}  ({cpu['loop'] / cpu[label]:.2f})"
        )
    for workers, target in TARGETS.items():
        label = f"indexer, {workers} worker(s)"
        print(f"  {label}: ratio {wall['loop'] / wall[label]:.2f}, target >= {target}")
