"""A small HTTP load generator for the benchmarks, with no Django in it: the load runs in
processes of its own (so that the clients do not share one GIL), which import only this."""

import http.client
import multiprocessing
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    """What every client sends: one request, again and again, until ``stop``; answers after
    ``start`` are counted."""

    port: int
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    expected: int
    start: float
    stop: float
    threads: int


def request(port: int, method: str, path: str, headers: dict, body: bytes | None) -> int:
    """One request on a new connection (gunicorn's sync workers close each one); its status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def _client(job: Job) -> tuple[int, int]:
    counts = {"ok": 0, "other": 0}
    lock = threading.Lock()

    def loop() -> None:
        while (now := time.monotonic()) < job.stop:
            status = request(job.port, job.method, job.path, job.headers, job.body)
            if now >= job.start:
                with lock:
                    counts["ok" if status == job.expected else "other"] += 1

    threads = [threading.Thread(target=loop) for _ in range(job.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts["ok"], counts["other"]


def rate(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str],
    body: bytes | None = None,
    expected: int = 200,
    processes: int = 2,
    threads: int = 3,
    warm_up: float = 1.0,
    seconds: float = 6.0,
) -> tuple[float, int]:
    """Answers ``expected`` per second over ``seconds`` (after ``warm_up``), from ``processes``
    client processes with ``threads`` requests in flight each; and how many answers were not
    ``expected``."""
    start = time.monotonic() + warm_up
    job = Job(port, method, path, headers, body, expected, start, start + seconds, threads)
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map_async(_client, [job] * processes).get(timeout=warm_up + seconds + 120)
    return sum(ok for ok, _ in results) / seconds, sum(other for _, other in results)
