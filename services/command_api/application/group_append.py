"""Group commit for request handlers: concurrent appends share one store transaction.

Every append to a context's log takes that log's table lock (the store keeps positions gap-free
that way) and one fsync'd commit, so a burst of concurrent commands would queue behind each other
one commit at a time. Here the first caller to arrive becomes the leader: it records everything
queued so far in one append and wakes the others with their results, and the next waiting caller
leads the next batch. No caller returns before its events are durable; nothing waits on a timer, so
a lone request costs what it did before.

What a batch is and who learns which error when the shared append fails is the group-commit core's
rule (``services/infra/group_commit.py``), shared with the executor's writer.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.infra.eventstore import EventStore
from services.infra.group_commit import commit_groups, take_batch
from services.infra.store_contract import NewEvent


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
        return take_batch(self._queue, self.max_events, lambda item: len(item.events))

    def _flush(self, batch: list[_Item]) -> None:
        try:
            outcomes, commits = commit_groups(self.store.append, [item.events for item in batch])
            self.commits += commits
            for item, outcome in zip(batch, outcomes):
                item.positions, item.error = outcome.positions, outcome.error
        finally:
            for item in batch:
                item.done = True
