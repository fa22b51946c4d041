"""Bench: where a chain40 run's events spend their time between the executor and the read model.

Three hops per event, from PostgreSQL alone (no broker client, so the figure needs nothing the
stack does not already expose):

- ``commit``: from the event's ``occurred_at`` (the executor made it) to its position being in the
  log (the group commit that carries it; pure work rides in a later commit on purpose);
- ``relay``: from that commit to ``relay_positions`` passing it (the broker acknowledged the batch
  and the relay recorded so: what a read fence waits for first);
- ``project``: from there to the projector's position on the run's partition passing it (the read
  model holds it: what a read fence waits for last).

A sampler reads the three positions every ``SAMPLE_S``; each hop is measured to the first sample
that shows it done, so every figure is late by at most one sampling period (and the sampler's
queries are a small extra load on the database).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from bench.harness import bench_settings, check, finished, pct, report

SAMPLE_S = 0.002
HOPS = ("commit", "relay", "project")


@dataclass(frozen=True)
class Sample:
    at: datetime
    head: int  # the log's last committed position
    published: int  # relay_positions: acknowledged by the broker and recorded
    applied: dict[int, int]  # partition -> the projector's position there


@dataclass(frozen=True)
class Event:
    position: int
    occurred_at: datetime
    type: str


def _first(samples: list[Sample], position: int, key) -> datetime | None:
    """When ``key(sample)`` first reached ``position`` (every key is a position that only grows)."""
    i = bisect.bisect_left(samples, position, key=key)
    return samples[i].at if i < len(samples) else None


def event_hops(event: Event, partition: int, samples: list[Sample]) -> dict[str, float] | None:
    """Milliseconds spent in each hop by one event (None when the samples never saw it through).

    ``samples`` are in time order; ``partition`` is the one the event's stream was published to.
    A hop's end is never put before its start (the sampler can only see a step late)."""
    committed = _first(samples, event.position, lambda s: s.head)
    published = _first(samples, event.position, lambda s: s.published)
    applied = _first(samples, event.position, lambda s: s.applied.get(partition, 0))
    if committed is None or published is None or applied is None:
        return None
    committed = max(committed, event.occurred_at)  # a sample can only be late, never early
    published = max(published, committed)
    applied = max(applied, published)

    def ms(a: datetime, b: datetime) -> float:
        return (b - a).total_seconds() * 1e3

    return {"commit": ms(event.occurred_at, committed), "relay": ms(committed, published),
            "project": ms(published, applied)}


def summarise(per_event: list[dict[str, float]]) -> dict[str, float]:
    """p50 and p90 of each hop and of their sum, in ms."""
    figures: dict[str, float] = {}
    for hop in (*HOPS, "total"):
        values = [sum(e.values()) if hop == "total" else e[hop] for e in per_event]
        figures[f"{hop}_p50_ms"] = statistics.median(values)
        figures[f"{hop}_p90_ms"] = pct(values, 90)
    return figures


async def _sampler(conn, projection: str, samples: list[Sample], stop: asyncio.Event) -> None:
    from services.infra import event_log

    sql = (f"SELECT {event_log.head_expression('executions')}, "  # noqa: S608 - a fixed log name
           "(SELECT coalesce(position, 0) FROM relay_positions WHERE log = 'executions'), "
           "(SELECT coalesce(json_object_agg(partition, position), '{}') FROM projection_partitions "
           " WHERE projection = %s AND log = 'executions')")
    while not stop.is_set():
        head, published, applied = await (await conn.execute(sql, (projection,))).fetchone()  # json: a dict
        samples.append(Sample(datetime.now(UTC), int(head), int(published or 0),
                              {int(p): int(v) for p, v in applied.items()}))
        await asyncio.sleep(SAMPLE_S)


async def bench_hops(stack, client: httpx.AsyncClient, workloads, runs: int = 10) -> None:
    from services.infra import db, event_log
    from services.infra.event_codec import decode_row
    from services.projector.names import PROJECTION_NAME

    settings = bench_settings(stack)
    chain = json.loads((workloads / "chain40.json").read_text())
    graph = (await client.post("/api/graphs", json={"graph": chain})).json()
    sampler_conn = await db.aconnect(settings, autocommit=True)
    reader = await db.aconnect(settings, autocommit=True)
    samples: list[Sample] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sampler(sampler_conn, PROJECTION_NAME, samples, stop))
    per_event, terminal = [], []
    try:
        for n in range(runs + 1):  # the first is a warm-up
            run = (await client.post(f"/api/graphs/{graph['id']}/execute/{graph['version']}",
                                     json={"inputs": {"x": 1}})).json()
            got = await finished(client, graph["id"], run["id"], timeout_s=60)
            check(got["status"] == "COMPLETED" and got["outputs"].get("result") == [41], f"hops: chain40 -> {got}")
            rows = await event_log.stream_rows(reader, "executions", run["id"])
            events = [Event(r.position, r.occurred_at, r.type) for r in map(decode_row, rows)]
            last = events[-1].position
            partition = (await (await reader.execute(
                "SELECT partition FROM relay_partitions WHERE log = 'executions' AND position >= %s "
                "ORDER BY position LIMIT 1", (last,))).fetchone())[0]
            await asyncio.sleep(0.05)  # past the last sample that can matter
            if n == 0:
                continue
            for event in events:
                hops = event_hops(event, partition, samples)
                check(hops is not None, f"hops: event {event.position} of {run['id']} never seen applied")
                per_event.append(hops)
                if event.type == "ExecutionCompleted":
                    terminal.append(hops)
    finally:
        stop.set()
        await asyncio.gather(sampler, return_exceptions=True)
        await sampler_conn.close()
        await reader.close()
    report("hops-chain40", runs=runs, events=len(per_event), **summarise(per_event))
    report("hops-chain40-end", runs=runs, **summarise(terminal))
