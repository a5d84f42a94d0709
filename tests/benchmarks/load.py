"""A small HTTP load generator for the benchmarks, with no Django in it: the load runs in
processes of its own (so that the clients do not share one GIL), which import only this.

Besides the rate, it says where the CPU time went: each client process measures its own over
the measured window, and ``meters`` (cumulative CPU seconds of other processes: the server's
workers, the database's backends; see :func:`cpu_seconds`) are read at the window's start and
end."""

import http.client
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

_TICKS = os.sysconf("SC_CLK_TCK")


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


@dataclass(frozen=True)
class Rate:
    """Answers ``expected`` per second, how many answers were not, and the CPU milliseconds
    each counted answer cost, by part (``clients`` and each meter)."""

    per_second: float
    other: int
    cpu_ms: dict[str, float] = field(default_factory=dict)


def cpu_seconds(pids: Iterable[int]) -> float:
    """The CPU time (user and system) the processes ``pids`` have used so far; a process that
    has gone counts nothing."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a server's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found


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


def _at(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def _client(job: Job) -> tuple[int, int, float]:
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
    _at(job.start)
    cpu = time.process_time()
    _at(job.stop)
    cpu = time.process_time() - cpu
    for thread in threads:
        thread.join()
    return counts["ok"], counts["other"], cpu


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
    meters: dict[str, Callable[[], float]] | None = None,
) -> Rate:
    """Answers ``expected`` per second over ``seconds`` (after ``warm_up``), from ``processes``
    client processes with ``threads`` requests in flight each; how many answers were not
    ``expected``; and the CPU each answer cost."""
    meters = meters or {}
    start = time.monotonic() + warm_up
    job = Job(port, method, path, headers, body, expected, start, start + seconds, threads)
    readings: dict[str, list[float]] = {name: [] for name in meters}

    def read_meters() -> None:
        for moment in (job.start, job.stop):
            _at(moment)
            for name, meter in meters.items():
                readings[name].append(meter())

    reader = threading.Thread(target=read_meters)
    reader.start()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map_async(_client, [job] * processes).get(timeout=warm_up + seconds + 120)
    reader.join()
    ok = sum(result[0] for result in results)
    per_answer = 1000 / max(ok, 1)
    cpu_ms = {"clients": sum(result[2] for result in results) * per_answer}
    for name, (before, after) in readings.items():
        cpu_ms[name] = (after - before) * per_answer
    return Rate(ok / seconds, sum(result[1] for result in results), cpu_ms)
