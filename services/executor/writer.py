"""Group commit: every running execution's events go to the store in shared transactions.

Runners hand over events and await durability. A single flusher takes everything queued since its
last commit and records it in one append (one transaction, one fsync), so many concurrent
executions cost a handful of commits instead of one each. The group-commit core
(``services/infra/group_commit.py``, shared with the command API) retries a failed batch stream by
stream, gap-free: only the stream that lost ownership fails, and so do its later items, so a stream
never gets a gap; a failed stream stays failed until its next runner reloads it (``reset``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from schemas.events.base import Event
from services.infra.eventstore import EventStore
from services.infra.group_commit import commit_groups, lost_earlier_write, take_batch
from services.infra.store_contract import NewEvent

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
        self._flushing = False

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
            future.set_exception(lost_earlier_write(stream_id))
            return future
        self._queue.append(_Pending(stream_id, new, future))
        self._wake.set()
        return future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._flushing = True
            try:
                while self._queue:
                    await self._flush(take_batch(self._queue, self.max_events, lambda item: len(item.events)))
            finally:
                self._flushing = False

    async def idle(self) -> None:
        """Return once every write queued so far has been committed or has failed (a graceful
        shutdown waits for it before leaving its partitions)."""
        while not self.is_idle:
            await asyncio.sleep(0.005)

    @property
    def is_idle(self) -> bool:
        return not self._queue and not self._flushing

    async def _flush(self, batch: list[_Pending]) -> None:
        live = []
        for item in batch:  # a stream that failed since this item was queued must not get a gap
            if item.stream_id in self._poisoned:
                _fail(item.future, lost_earlier_write(item.stream_id))
            else:
                live.append(item)
        outcomes, commits = await asyncio.to_thread(commit_groups, self.store.append,
                                                    [item.events for item in live], gap_free=True)
        self.commits += commits
        for item, outcome in zip(live, outcomes):
            if outcome.error is not None:
                self._poisoned.add(item.stream_id)
                _fail(item.future, outcome.error)
                continue
            self.events_written += len(item.events)
            if not item.future.done():
                item.future.set_result(None)


def _fail(future: asyncio.Future, exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
