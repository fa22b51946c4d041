"""The core of group commit: several writers' appends recorded in one store transaction.

Every append to a context's log takes that log's table lock (positions stay gap-free that way)
and one fsync'd commit, so writers that append one at a time queue behind each other one commit
each. Group commit records what several writers queued in one append instead. Two fronts share
this core: ``GroupAppender`` (command API request threads, a leader per batch) and
``GroupCommitWriter`` (the executor's asyncio flusher). The core decides what a batch is and what
each writer learns when the shared append fails:

- a version conflict or events that cannot be encoded or are too large (``ConcurrencyConflict``,
  ``ValueError``, ``TypeError``) are one writer's fault: the batch is retried group by group, so
  only that writer sees the error;
- anything else (the database is gone) fails every writer in the batch.

With ``gap_free`` (the executor's streams, written ahead by one owner), once a group of a stream
fails, the later groups of that stream in the batch fail too without being tried, so a stream can
never get a gap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from services.infra.store_contract import ConcurrencyConflict, NewEvent

Item = TypeVar("Item")
Append = Callable[[list[NewEvent]], list[int]]
ONE_WRITERS_FAULT = (ConcurrencyConflict, TypeError, ValueError)


@dataclass
class Outcome:
    """What one writer's group came to: its log positions, or the error it must see."""

    positions: list[int] = field(default_factory=list)
    error: BaseException | None = None


def take_batch(queue: list[Item], max_events: int, size: Callable[[Item], int]) -> list[Item]:
    """Pop queued items from the front while the batch stays within ``max_events`` (at least one)."""
    batch: list[Item] = []
    total = 0
    while queue and (not batch or total + size(queue[0]) <= max_events):
        item = queue.pop(0)
        batch.append(item)
        total += size(item)
    return batch


def lost_earlier_write(stream_id) -> ConcurrencyConflict:
    return ConcurrencyConflict(f"stream {stream_id} lost an earlier write")


def commit_groups(append: Append, groups: Sequence[Sequence[NewEvent]], *,
                  gap_free: bool = False) -> tuple[list[Outcome], int]:
    """Record every group, together if possible; ``(outcome per group, commits made)``. Blocking."""
    try:
        positions = append([event for group in groups for event in group])
    except ONE_WRITERS_FAULT:
        return _one_by_one(append, groups, gap_free)
    except BaseException as exc:  # noqa: BLE001 - the store failed: every writer in the batch learns it
        return [Outcome(error=exc) for _ in groups], 0
    outcomes = []
    for group in groups:
        outcomes.append(Outcome(positions[:len(group)]))
        positions = positions[len(group):]
    return outcomes, 1


def _one_by_one(append: Append, groups: Sequence[Sequence[NewEvent]], gap_free: bool) -> tuple[list[Outcome], int]:
    outcomes: list[Outcome] = []
    failed: set = set()
    commits = 0
    for group in groups:
        stream = group[0].stream_id if group else None
        if gap_free and stream in failed:
            outcomes.append(Outcome(error=lost_earlier_write(stream)))
            continue
        try:
            outcomes.append(Outcome(append(list(group))))
            commits += 1
        except BaseException as exc:  # noqa: BLE001 - handed to the writer that owns the group
            failed.add(stream)
            outcomes.append(Outcome(error=exc))
    return outcomes, commits
