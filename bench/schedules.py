"""Bench: scheduler tick lateness, over 100 minutely schedules sharing one minute boundary
(``bench/run.py`` wires it in).

Lateness is measured from each tick's instant to (a) the ``ScheduleFired`` record and (b) the run's
``started_at`` (the executor's ExecutionStarted), both read back through the API on the same machine
clock. Each run's output must be the schedule's input. It waits for the next minute boundary, so it
takes up to a minute and a half.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx

from bench.harness import TERMINAL, bench_settings, check, pct, report

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"


def echo_graph() -> dict:
    return {"name": "bench schedule", "description": "input out", "nodes": [
        {"id": "in", "block_id": INPUT, "input_default": {"name": "x"}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "y"}},
    ], "links": [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}]}


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


async def bench_scheduler(stack, client: httpx.AsyncClient, schedules: int = 100) -> None:
    r = await client.post("/api/graphs", json={"graph": echo_graph()})
    r.raise_for_status()
    graph = r.json()
    made = []
    for n in range(schedules):
        r = await client.post(f"/api/graphs/{graph['id']}/schedules",
                              json={"name": f"bench {n}", "cron": "* * * * *", "inputs": {"x": n}})
        r.raise_for_status()
        made.append(r.json())
    tick = _instant(made[-1]["next_run_time"])
    try:
        # every schedule's first tick is the same minute boundary (unless creation straddled one)
        deadline = time.monotonic() + 120
        fired: dict[str, dict] = {}
        while len(fired) < schedules and time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            for view in (await client.get("/api/schedules")).json():
                if view["last_execution_id"] and view["id"] not in fired:
                    fired[view["id"]] = view
        check(len(fired) == schedules, f"{schedules} schedules fired, got {len(fired)}")
        fire_late, start_late = [], []
        for view in fired.values():
            while True:
                run = (await client.get(f"/api/graphs/{graph['id']}/executions/{view['last_execution_id']}")).json()
                if run.get("status") in TERMINAL:
                    break
                await asyncio.sleep(0.05)
            n = int(view["name"].split()[-1])
            check(run["outputs"] == {"y": [n]}, f"schedule {n}'s run output {run['outputs']}")
            tick_at = _instant(view["last_fired_at"])
            start_late.append((_instant(run["started_at"]) - tick_at).total_seconds())
        events = await _fired_records(stack, [v["id"] for v in fired.values()])
        fire_late = [(recorded - tick_at).total_seconds() for tick_at, recorded in events]
        report("scheduler_tick", schedules=schedules, tick=tick.strftime("%H:%M"),
               fired_p50_ms=round(pct(fire_late, 50) * 1000), fired_p99_ms=round(pct(fire_late, 99) * 1000),
               run_started_p50_ms=round(pct(start_late, 50) * 1000),
               run_started_p99_ms=round(pct(start_late, 99) * 1000))
    finally:
        for view in made:
            await client.delete(f"/api/schedules/{view['id']}")


async def _fired_records(stack, schedule_ids: list[str]) -> list[tuple[datetime, datetime]]:
    """(tick, when its ScheduleFired was recorded) per schedule, from the store."""
    import uuid

    from schemas.events.schedules import ScheduleFired
    from services.infra.eventstore import EventStore, make_datastore

    datastore = make_datastore(bench_settings(stack), pool_size=2)
    try:
        store = EventStore(datastore, "schedules")
        out = []
        for sid in schedule_ids:
            for recorded in await asyncio.to_thread(store.read_stream, uuid.UUID(sid)):
                event = recorded.decode()
                if isinstance(event, ScheduleFired) and not event.manual:
                    out.append((event.tick_at, recorded.occurred_at))
                    break
        return out
    finally:
        datastore.close()
