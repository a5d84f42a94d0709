"""Token issuance through the API, served by gunicorn (2 sync workers) on PostgreSQL.

Prints tokens issued per second (``POST /api/access/permits/{id}/tokens/`` as a signed-in
researcher: session, CSRF, permit checks, a status-list entry, an ES256 signature, the token's
record and its audit event) against a trivial view measured in the same run, by the same
clients, on the same server: the authorization-server metadata (middleware and a small JSON
answer, no database), and a signed-in API read (one token's record: the session, the user and
the record). Target (issue 9, 7(c)): at least 500 tokens a second on 2 cores.

The load comes from separate processes (so the clients' own Python does not share one GIL),
each keeping several requests in flight; the figures include their cost, on the same two cores.
Where the time goes is printed too: the CPU milliseconds each answer cost in the server's
workers, in PostgreSQL's backends for this database, and in the clients (``BENCH_WORKERS``
sets the number of gunicorn workers, 2 by default).
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.test import Client

from access import services
from access.models import AccessToken, Permit
from tests.benchmarks import load

ROOT = Path(__file__).resolve().parents[2]
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
CLIENT_PROCESSES = 2
CLIENT_THREADS = 3  # requests in flight per client process
MEASURE = 6.0  # seconds
LOAD = {"processes": CLIENT_PROCESSES, "threads": CLIENT_THREADS, "seconds": MEASURE}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    settings = connection.settings_dict
    user = settings["USER"] or "postgres"
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    host = settings["HOST"] or "127.0.0.1"
    port = settings["PORT"] or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def _backends() -> Callable[[], float]:
    """A meter of the CPU time of PostgreSQL's backends serving this database (PostgreSQL on
    this machine; nothing counted otherwise)."""
    name = connection.settings_dict["NAME"]

    def meter() -> float:
        with psycopg.connect(_database_url(), autocommit=True) as own:
            rows = own.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            ).fetchall()
        return load.cpu_seconds(pid for (pid,) in rows)

    return meter


def _durable_commit_ms(count: int = 200) -> float:
    """The median time of a one-row insert committed to disk, on this database: every token's
    transaction ends with one, and the audit chain's appends (one per token) are serialised
    until theirs is done, so this bounds issuance from above whatever the cores."""
    with psycopg.connect(_database_url(), autocommit=True) as own:
        own.execute("CREATE TABLE bench_commit (id serial PRIMARY KEY, at timestamptz)")
        try:
            times = []
            for _ in range(count):
                start = time.perf_counter()
                own.execute("INSERT INTO bench_commit (at) VALUES (now())")
                times.append(time.perf_counter() - start)
        finally:
            own.execute("DROP TABLE bench_commit")
    return statistics.median(times) * 1000


def _serve(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": _database_url(),
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "portal.wsgi:application",
         "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    pytest.fail("gunicorn did not start")


@pytest.mark.benchmark
@pytest.mark.django_db(transaction=True)
def test_token_issuance_per_second(access, personas, catalogue):
    if connection.vendor != "postgresql":
        pytest.skip("the token benchmark needs PostgreSQL (DATABASE_URL)")
    researcher = personas["researcher"]
    application = access.new_application("Benchmark study", submit=True)
    for review in application.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    permit = Permit.objects.get(application=application, review__committee=access.oslo)
    services.token_issue(permit=permit, node=catalogue.own_node, actor=researcher)  # the keys

    browser = Client()
    browser.force_login(researcher)
    browser.get("/")
    csrf = browser.cookies["csrftoken"].value
    cookie = f"sessionid={browser.cookies['sessionid'].value}; csrftoken={csrf}"
    headers = {
        "Cookie": cookie,
        "X-CSRFToken": csrf,
        "Content-Type": "application/json",
        "Host": "127.0.0.1",
    }
    body = json.dumps({"node": catalogue.own_node.slug}).encode()
    path = f"/api/access/permits/{permit.pk}/tokens/"

    port = _free_port()
    server = _serve(port)
    try:
        assert load.request(port, "POST", path, headers, body) == 201
        meters = {
            "server": lambda: load.cpu_seconds(load.children(server.pid)),
            "postgresql": _backends(),
        }
        trivial = load.rate(
            port, "GET", "/.well-known/oauth-authorization-server",
            headers={"Host": "127.0.0.1"}, meters=meters, **LOAD,
        )  # fmt: skip
        one = AccessToken.objects.order_by("pk").first()
        read = load.rate(
            port, "GET", f"/api/access/tokens/{one.pk}/", headers=headers, meters=meters, **LOAD
        )
        before = AccessToken.objects.count()
        issued = load.rate(
            port, "POST", path, headers=headers, body=body, expected=201, meters=meters, **LOAD
        )
        stored = AccessToken.objects.count() - before
        commit_ms = _durable_commit_ms()
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert trivial.other == read.other == issued.other == 0
    assert stored >= issued.per_second * MEASURE  # every token counted was issued and recorded
    print(f"\ngunicorn, {WORKERS} sync workers, PostgreSQL, {os.cpu_count()} cores shared with "
          f"the {CLIENT_PROCESSES}×{CLIENT_THREADS} clients")  # fmt: skip
    print(f"{'':27}{'per s':>8}   CPU ms per answer: server  PostgreSQL  clients  total")
    for label, result in (
        ("trivial view (metadata)", trivial),
        ("signed-in API read", read),
        ("token issuance (API)", issued),
    ):
        cpu = result.cpu_ms
        print(
            f"{label:<27}{result.per_second:8.0f}   {cpu['server']:24.2f}  "
            f"{cpu['postgresql']:10.2f}  {cpu['clients']:7.2f}  {sum(cpu.values()):5.2f}"
        )
    print(
        f"a durable commit (one-row insert): {commit_ms:.2f} ms, so at most "
        f"{1000 / commit_ms:.0f} serialised audit appends (tokens) a second"
    )
    print(f"issuance / trivial view:   {issued.per_second / trivial.per_second:8.2f}")
    print(f"issuance / signed-in read: {issued.per_second / read.per_second:8.2f}")
    print(
        f"target: 500 tokens/s; measured {issued.per_second:.0f} "
        f"({issued.per_second / 500:.2f} of the target)"
    )
