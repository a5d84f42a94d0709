"""The access body's figures over a long audit chain.

A chain of 150,000 events: 25,000 applications over two years, each submitted, decided by a
committee and concluded (most with a permit), with three committee votes each: events the
figures skip. Prints the time of the figures for the two years (``access_body_figures``,
as the page computes them) and of the same period's events read plainly from the chain (the
floor any computation from the chain pays), with wall and CPU times and their ratio.
"""

import hashlib
import random
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from access import figures
from portal.models import AuditEvent

APPLICATIONS = 25_000
NOISE_PER_APPLICATION = 3  # votes: events the figures skip
RUNS = 5


def _populate() -> int:
    rng = random.Random(11)
    start = datetime(2025, 1, 1, 9, tzinfo=UTC)
    rows: list[AuditEvent] = []

    def add(action: str, at: datetime, object_id: int, **details: object) -> None:
        seq = len(rows) + 1
        digest = hashlib.sha256(str(seq).encode()).hexdigest()
        rows.append(
            AuditEvent(seq=seq, created_at=at, actor_label="bench", action=action,
                       object_type="access.application", object_id=str(object_id),
                       details=details, prev_hash="0" * 64, hash=digest)
        )  # fmt: skip

    purposes = ["research", "research_ai", "public_health", "statistics"]
    for n in range(APPLICATIONS):
        submitted = start + timedelta(minutes=n * 25)
        due = submitted + timedelta(days=91)
        decided = submitted + timedelta(days=rng.randint(5, 120))
        purpose = rng.choice(purposes)
        add("access.application.submitted", submitted, n, purpose=purpose, datasets=[n % 300],
            decision_due=due.isoformat())  # fmt: skip
        for _noise in range(NOISE_PER_APPLICATION):
            add("access.review.voted", submitted + timedelta(days=1), n, choice="approve")
        if rng.random() < 0.2:
            add("access.review.rejected", decided, n, committee=1, ground="safeguards")
            add("access.application.rejected", decided, n, purpose=purpose, datasets=[])
        else:
            add("access.application.approved", decided, n, purpose=purpose, datasets=[n % 300])
            add("access.permit.issued", decided, n, purpose=purpose, datasets=[n % 300])
    rows.sort(key=lambda r: r.created_at)
    for seq, row in enumerate(rows, start=1):
        row.seq = seq
    AuditEvent.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def _timed(run) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(RUNS):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return sorted(walls)[RUNS // 2], sorted(cpus)[RUNS // 2]


@pytest.mark.benchmark
@pytest.mark.django_db
def test_figures_over_a_long_chain(settings):
    settings.HDAB_COUNTRY = "NO"
    began = time.perf_counter()
    events = _populate()
    print(f"\npopulated {events:,} events in {time.perf_counter() - began:.1f} s")
    period = {"start": date(2025, 1, 1), "end": date(2026, 12, 31)}
    head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

    result = figures.access_body_figures(**period)
    assert result.received == APPLICATIONS
    assert result.decided + result.lapsed + result.withdrawn == APPLICATIONS

    def plain() -> None:
        for _event in figures.chain_events(head):
            pass

    fig_wall, fig_cpu = _timed(lambda: figures.access_body_figures(**period))
    base_wall, base_cpu = _timed(plain)
    print(f"figures (access_body_figures): wall {fig_wall * 1000:,.0f} ms, "
          f"CPU {fig_cpu * 1000:,.0f} ms")  # fmt: skip
    print(f"plain read of the same events: wall {base_wall * 1000:,.0f} ms, "
          f"CPU {base_cpu * 1000:,.0f} ms")  # fmt: skip
    print(f"ratio: wall {fig_wall / base_wall:.2f}, CPU {fig_cpu / base_cpu:.2f}")
