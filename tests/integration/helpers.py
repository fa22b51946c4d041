"""Helpers for integration tests: polling with deadlines, reading a topic, appending events."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from schemas.envelope import Envelope
from schemas.events.graphs import ActiveVersionSet
from services.infra.eventstore import EventStore
from services.infra.kafka import make_consumer
from services.infra.settings import Settings
from services.infra.store_contract import NewEvent


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float = 20.0, interval: float = 0.05,
                     message: str = "condition not met") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{message} within {timeout}s (last: {last!r})")


async def read_topic(settings: Settings, topic: str, *, expect: int, timeout: float = 30.0) -> list[Envelope]:
    """Read a topic from the beginning until ``expect`` messages arrived (no group, no commits)."""
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    try:
        from aiokafka import TopicPartition

        deadline = time.monotonic() + timeout
        parts = consumer.partitions_for_topic(topic)
        while not parts and time.monotonic() < deadline:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await asyncio.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[Envelope] = []
        while len(out) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                out.extend(Envelope.from_bytes(m.value) for m in msgs)
        return out
    finally:
        await consumer.stop()


def append_versions(store: EventStore, streams: int, per_stream: int) -> list[uuid.UUID]:
    """Record ``per_stream`` small events on each of ``streams`` new streams, interleaved."""
    ids = [uuid.uuid4() for _ in range(streams)]
    for v in range(1, per_stream + 1):
        store.append([NewEvent(sid, v, ActiveVersionSet(version=v), user_id="u1") for sid in ids])
    return ids


async def publish(creator, admin, graph_id: str, *, username: str, slug: str) -> str:
    """The creator's graph version 1 submitted to the store (a profile first) and approved by an
    admin, so other users may run it; the listing version's id (``review(admin, id, False)`` to
    stop publishing it)."""
    r = await creator.post("/api/store/profile", json={"username": username, "name": "Maker",
                                                       "description": "makes agents", "links": []})
    assert r.status_code == 200, r.text
    r = await creator.post("/api/store/submissions", json={
        "graph_id": graph_id, "graph_version": 1, "slug": slug, "name": slug.title(), "sub_heading": "an agent",
        "description": "does one thing", "categories": ["tools"]})
    assert r.status_code == 200, r.text
    version_id = r.json()["listing_version_id"]
    await review(admin, version_id, True)
    return version_id


async def review(admin, version_id: str, approved: bool) -> None:
    r = await admin.post(f"/api/store/admin/submissions/{version_id}/review", json={"is_approved": approved})
    assert r.status_code == 200, r.text
