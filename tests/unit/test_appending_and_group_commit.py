"""The one retry policy (decide_and_append) and the group-commit core, without a store."""

from __future__ import annotations

import uuid

import pytest

from schemas.events.executions import ExecutionStopRequested
from services.domain.errors import NotFoundError
from services.infra import appending
from services.infra.appending import decide_and_append
from services.infra.group_commit import commit_groups, take_batch
from services.infra.memory_eventstore import MemoryEventStore
from services.infra.store_contract import ConcurrencyConflict, EventTooLarge, NewEvent


def test_a_lost_race_reloads_and_decides_again(monkeypatch):
    monkeypatch.setattr(appending, "pause_before_retry", lambda attempt: None)
    loads, dropped = [], []

    def decide(version):
        if version < 3:
            raise ConcurrencyConflict("another writer first")
        return f"recorded at {version}"

    result = decide_and_append(lambda: loads.append(len(loads) + 1) or loads[-1], decide,
                               on_conflict=lambda: dropped.append(True))
    assert result == "recorded at 3" and loads == [1, 2, 3] and len(dropped) == 2


def test_a_refusal_is_not_retried():
    loads = []

    def decide(_):
        raise NotFoundError("Graph #x not found")

    with pytest.raises(NotFoundError):
        decide_and_append(lambda: loads.append(1), decide)
    assert loads == [1]


def test_the_attempts_run_out_with_the_conflict(monkeypatch):
    monkeypatch.setattr(appending, "pause_before_retry", lambda attempt: None)
    calls = []

    def decide(_):
        calls.append(1)
        raise ConcurrencyConflict("hot stream")

    with pytest.raises(ConcurrencyConflict):
        decide_and_append(lambda: None, decide)
    assert len(calls) == appending.ATTEMPTS


def _group(stream: uuid.UUID, first: int, n: int = 1, *, who: str = "u") -> list[NewEvent]:
    return [NewEvent(stream, first + i, ExecutionStopRequested(requested_by=who)) for i in range(n)]


class CountingStore(MemoryEventStore):
    """The memory store (the real store's contract) counting appends, or failing them all."""

    def __init__(self, fail_with: BaseException | None = None) -> None:
        super().__init__("executions", max_event_bytes=1024)
        self.calls = 0
        self.fail_with = fail_with

    def append(self, events):
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        return super().append(events)


def test_a_batch_commits_once_and_splits_the_positions():
    log, a, b = CountingStore(), uuid.uuid4(), uuid.uuid4()
    outcomes, commits = commit_groups(log.append, [_group(a, 1, 2), _group(b, 1)])
    assert commits == 1 and log.calls == 1
    assert [o.positions for o in outcomes] == [[1, 2], [3]] and all(o.error is None for o in outcomes)


def test_only_the_writer_at_fault_sees_the_error():
    log, a, b, c = CountingStore(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    log.append(_group(a, 1))
    outcomes, commits = commit_groups(log.append, [_group(b, 1), _group(a, 1), _group(c, 1, who="x" * 2000)])
    assert commits == 1
    assert outcomes[0].error is None and isinstance(outcomes[1].error, ConcurrencyConflict)
    assert isinstance(outcomes[2].error, EventTooLarge)


def test_gap_free_fails_the_later_groups_of_a_failed_stream_without_trying_them():
    log, a, b = CountingStore(), uuid.uuid4(), uuid.uuid4()
    log.append(_group(a, 1))
    outcomes, _ = commit_groups(log.append, [_group(a, 1), _group(a, 2), _group(b, 1)], gap_free=True)
    assert isinstance(outcomes[0].error, ConcurrencyConflict)
    assert "lost an earlier write" in str(outcomes[1].error)
    assert outcomes[2].error is None and log.stream_version(a) == 1
    # without gap_free (independent commands) the later group is tried on its own
    outcomes, _ = commit_groups(log.append, [_group(a, 1), _group(a, 2)])
    assert isinstance(outcomes[0].error, ConcurrencyConflict) and outcomes[1].error is None


def test_a_store_failure_fails_every_writer_in_the_batch():
    log = CountingStore(fail_with=ConnectionError("database gone"))
    outcomes, commits = commit_groups(log.append, [_group(uuid.uuid4(), 1), _group(uuid.uuid4(), 1)])
    assert commits == 0 and log.calls == 1
    assert all(isinstance(o.error, ConnectionError) for o in outcomes)


def test_a_batch_stays_within_its_event_budget_but_takes_at_least_one():
    queue = [3, 3, 3, 10]
    assert take_batch(queue, 7, size=lambda n: n) == [3, 3] and queue == [3, 10]
    assert take_batch(queue, 7, size=lambda n: n) == [3] and take_batch(queue, 7, size=lambda n: n) == [10]
