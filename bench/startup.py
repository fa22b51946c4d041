"""Start-up against history: ``agentloom up`` restarted over an empty store, then over one holding
``AGENTLOOM_BENCH_STARTUP_EVENTS`` events (200,000 by default; the issue's figure is 1,000,000)
that every consumer has finished.

The local broker keeps nothing across restarts, so each restart is a broker that lost its data:
the relays refill the topics from the store, from the point every consumer group has finished
(``services/infra/checkpoints.py``). Printed: the seconds to a green ``/health`` for both, and how
many events the relays published again after the second restart (0 when nothing was left to do).

The events are ``ActiveVersionSet`` on 100 graph streams nobody owns: the graphs log, read by the
projector alone, whose catch-up rate is printed too.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import httpx

from bench.harness import bench_settings, check, own_installation, report

BATCH = 5000
STREAMS = 100


def _seed(settings, events: int) -> int:
    from schemas.events.graphs import ActiveVersionSet
    from services.infra.eventstore import EventStore, make_datastore
    from services.infra.store_contract import NewEvent

    datastore = make_datastore(settings, pool_size=1)
    store = EventStore(datastore, "graphs")
    streams = [uuid.uuid4() for _ in range(STREAMS)]
    version, written = 0, 0
    try:
        while written < events:
            version += 1
            batch = [NewEvent(s, version, ActiveVersionSet(version=version), user_id="bench-startup") for s in streams]
            for i in range(0, len(batch), BATCH):
                store.append(batch[i:i + BATCH])
            written += len(batch)
    finally:
        datastore.close()
    return written


def _unfinished(settings) -> bool:
    """Whether the graphs log holds an event not yet published or not finished by some subscribed
    group: the relay's own refill rule (``checkpoints.refill_point``) short of the head."""
    from services.infra import db
    from services.infra.checkpoints import SUBSCRIBED_CHECKPOINTS, groups_of, refill_point

    with db.connect(settings, autocommit=True) as conn:
        head = conn.execute("SELECT coalesce(max(notification_id), 0) FROM graphs_events").fetchone()[0]
        position = conn.execute("SELECT position FROM relay_positions WHERE log = 'graphs'").fetchone()[0]
        published = dict(conn.execute("SELECT partition, position FROM relay_partitions WHERE log = 'graphs'"))
        groups = groups_of(conn.execute(SUBSCRIBED_CHECKPOINTS, ("graphs",)).fetchall())
    return position < head or refill_point(position, published, groups) < position


def _republished(stack) -> int:
    details = httpx.get(f"{stack.base}/health", timeout=5).json()["components"]["relay"]["details"][0]
    return sum(int(log.get("published", 0)) for log in details.values())


async def bench_startup(stack_class) -> None:
    if not own_installation("startup"):
        return
    events = int(os.environ.get("AGENTLOOM_BENCH_STARTUP_EVENTS", "200000"))
    with stack_class.beside("startup", 1):
        pass  # a new installation (its first start creates the database)
    with stack_class.beside("startup", 1, fresh=False) as stack:
        empty_s = stack.healthy_s
        settings = bench_settings(stack)
        start = time.perf_counter()
        written = await asyncio.to_thread(_seed, settings, events)
        seeded_s = time.perf_counter() - start
        deadline = time.monotonic() + 1800
        while await asyncio.to_thread(_unfinished, settings):
            check(time.monotonic() < deadline, "the consumers finish the seeded events within 30 min")
            await asyncio.sleep(1.0)
        caught_up_s = time.perf_counter() - start
        await asyncio.sleep(2.0)  # past the consumers' next checkpoint save (about once a second)
    with stack_class.beside("startup", 1, fresh=False) as stack:
        history_s = stack.healthy_s
        republished = await asyncio.to_thread(_republished, stack)
    report("startup", events=written, empty_healthy_s=empty_s, history_healthy_s=history_s,
           difference_s=history_s - empty_s, republished=republished)
    report("catch-up", events=written, append_s=seeded_s, all_consumers_s=caught_up_s,
           events_per_s=written / caught_up_s)
