"""Group commit: every running execution's events go to the store in shared transactions.

Runners hand over events and await durability. A single flusher takes everything queued since its
last commit and records it in one append (one transaction, one fsync), so many concurrent
executions cost a handful of commits instead of one each. If that append hits a version conflict,
the items are retried one by one so only the stream that lost ownership fails; later items of a
failed stream fail too, so a stream never gets a gap.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from schemas.events.base import Event
from services.infra.eventstore import ConcurrencyConflict, EventStore, EventTooLarge, NewEvent

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    stream_id: uuid.UUID
    events: list[NewEvent]
    future: asyncio.Future


class GroupCommitWriter:
    def __init__(self, store: EventStore, *, max_events: int = 5000) -> None:
        self.store = store
        self.max_events = max_events
        self._queue: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.commits = 0
        self.events_written = 0
        # Streams whose write failed: later writes would leave a gap, so they fail too until the
        # stream's next runner calls ``reset`` after reloading it from the store.
        self._poisoned: set[uuid.UUID] = set()

    def reset(self, stream_id: uuid.UUID) -> None:
        self._poisoned.discard(stream_id)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def write(self, stream_id: uuid.UUID, first_version: int, events: list[tuple[Event, datetime]],
              user_id: str | None) -> asyncio.Future:
        """Queue events (versions from ``first_version``); the future resolves once durable.

        Queuing happens synchronously, so two calls from one runner keep their order."""
        future = asyncio.get_running_loop().create_future()
        new = [NewEvent(stream_id, first_version + i, event, user_id=user_id, occurred_at=at)
               for i, (event, at) in enumerate(events)]
        if not new:
            future.set_result(None)
            return future
        if stream_id in self._poisoned:
            future.set_exception(ConcurrencyConflict(f"stream {stream_id} lost an earlier write"))
            return future
        self._queue.append(_Pending(stream_id, new, future))
        self._wake.set()
        return future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, size = [], 0
                while self._queue and (not batch or size + len(self._queue[0].events) <= self.max_events):
                    item = self._queue.pop(0)
                    batch.append(item)
                    size += len(item.events)
                await self._flush(batch)

    async def _flush(self, batch: list[_Pending]) -> None:
        try:
            await asyncio.to_thread(self.store.append, [e for item in batch for e in item.events])
        except (ConcurrencyConflict, EventTooLarge):  # one stream's fault: only that stream fails
            await self._flush_one_by_one(batch)
            return
        except Exception as exc:  # noqa: BLE001 - every waiter learns about the failure
            for item in batch:
                self._poisoned.add(item.stream_id)
                _fail(item.future, exc)
            return
        self.commits += 1
        for item in batch:
            self.events_written += len(item.events)
            if not item.future.done():
                item.future.set_result(None)

    async def _flush_one_by_one(self, batch: list[_Pending]) -> None:
        failed: set[uuid.UUID] = set()
        for item in batch:
            if item.stream_id in failed or item.stream_id in self._poisoned:
                _fail(item.future, ConcurrencyConflict(f"stream {item.stream_id} lost an earlier write"))
                continue
            try:
                await asyncio.to_thread(self.store.append, item.events)
            except Exception as exc:  # noqa: BLE001
                failed.add(item.stream_id)
                self._poisoned.add(item.stream_id)
                _fail(item.future, exc)
                continue
            self.commits += 1
            self.events_written += len(item.events)
            if not item.future.done():
                item.future.set_result(None)


def _fail(future: asyncio.Future, exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
