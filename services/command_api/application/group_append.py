"""Group commit for request handlers: concurrent appends share one store transaction.

Every append to a context's log takes that log's table lock (the store keeps positions gap-free
that way) and one fsync'd commit, so a burst of concurrent commands would queue behind each other
one commit at a time. Here the first caller to arrive becomes the leader: it records everything
queued so far in one append and wakes the others with their results, and the next waiting caller
leads the next batch. No caller returns before its events are durable; nothing waits on a timer, so
a lone request costs what it did before.

If the shared append hits a version conflict (or one command's events cannot be serialised), the
batch is retried item by item, so only the command at fault sees the error.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Sequence

from services.infra.eventstore import ConcurrencyConflict, EventStore, NewEvent


@dataclass
class _Item:
    events: Sequence[NewEvent]
    positions: list[int] = field(default_factory=list)
    error: BaseException | None = None
    done: bool = False


class GroupAppender:
    def __init__(self, store: EventStore, *, max_events: int = 500) -> None:
        self.store = store
        self.max_events = max_events
        self._cond = threading.Condition()
        self._queue: list[_Item] = []
        self._flushing = False
        self.commits = 0

    def append(self, events: Sequence[NewEvent]) -> list[int]:
        """Record ``events`` atomically (with whatever else is queued); their log positions."""
        item = _Item(events)
        with self._cond:
            self._queue.append(item)
            while not item.done:
                if self._flushing:
                    self._cond.wait()
                    continue
                self._flushing = True
                batch = self._take()
                self._cond.release()
                try:
                    self._flush(batch)
                finally:
                    self._cond.acquire()
                    self._flushing = False
                    self._cond.notify_all()
        if item.error is not None:
            raise item.error
        return item.positions

    def _take(self) -> list[_Item]:
        batch, size = [], 0
        while self._queue and (not batch or size + len(self._queue[0].events) <= self.max_events):
            item = self._queue.pop(0)
            batch.append(item)
            size += len(item.events)
        return batch

    def _flush(self, batch: list[_Item]) -> None:
        try:
            positions = self.store.append([e for item in batch for e in item.events])
            self.commits += 1
            for item in batch:
                item.positions, positions = positions[:len(item.events)], positions[len(item.events):]
        except (ConcurrencyConflict, TypeError, ValueError):
            # A version conflict, or one command's events that cannot be serialised: find out
            # whose, so only that caller fails.
            for item in batch:
                try:
                    item.positions = self.store.append(item.events)
                    self.commits += 1
                except BaseException as exc:  # noqa: BLE001 - handed to the caller that owns it
                    item.error = exc
        except BaseException as exc:  # noqa: BLE001 - the store failed: every caller in the batch learns it
            for item in batch:
                item.error = exc
        finally:
            for item in batch:
                item.done = True
