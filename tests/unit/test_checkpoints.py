"""Consumer checkpoints: what a group has finished per partition, and the refill point a relay
takes from them after the broker lost its data (``services/infra/checkpoints.py``)."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from services.infra.checkpoints import Checkpoints, refill_point
from services.infra.settings import Settings


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass
class Message:
    offset: int
    value: bytes
    headers: tuple = ()


def _message(offset: int, position: int, *, header: bool = True) -> Message:
    value = orjson.dumps({"position": position})
    return Message(offset, value, (("type", b"X"), ("position", str(position).encode())) if header else ())


def _checkpoints() -> Checkpoints:
    return Checkpoints(Settings(local_mode=True), "g", {"t": "executions"})


# -- refill_point -----------------------------------------------------------------------------

def test_no_checkpoints_means_a_full_replay():
    assert refill_point(100, {0: 90, 1: 100}, {}) == 0


def test_groups_that_finished_everything_hold_nothing_back():
    groups = {"a": {0: 90, 1: 100}, "b": {0: 95, 1: 120}}
    assert refill_point(100, {0: 90, 1: 100}, groups) == 100


def test_the_slowest_unfinished_partition_of_any_group_sets_the_point():
    groups = {"a": {0: 90, 1: 100}, "b": {0: 40, 1: 100}}
    assert refill_point(100, {0: 90, 1: 100}, groups) == 40


def test_a_subscribed_group_without_a_checkpoint_for_a_used_partition_holds_back_to_zero():
    groups = {"a": {0: 90, 1: 100}, "b": {0: 90}}
    assert refill_point(100, {0: 90, 1: 100}, groups) == 0
    assert refill_point(100, {0: 90, 1: 100}, {"a": {0: 90, 1: 100}, "new": {}}) == 0


def test_an_idle_partition_does_not_pin_the_point_to_its_old_last_event():
    # partition 0 got its last event at 5 and the group finished it: the head counts, not 5
    assert refill_point(1000, {0: 5, 1: 1000}, {"a": {0: 5, 1: 1000}}) == 1000


# -- the bookkeeping ----------------------------------------------------------------------------

def test_a_commit_of_all_finishes_every_record_seen():
    cp = _checkpoints()
    cp.seen_batch({TP("t", 0): [_message(0, 11), _message(1, 13)], TP("t", 1): [_message(0, 12)]})
    cp.committed()
    assert cp._done == {("executions", 0): 13, ("executions", 1): 12}


def test_an_explicit_offset_finishes_only_the_records_below_it():
    """The executor commits the first offset of its oldest running run: a record at or past it
    is not finished, so the checkpoint never runs ahead of the commit."""
    cp = _checkpoints()
    tp = TP("t", 0)
    for offset, position in [(0, 10), (1, 20), (2, 30), (3, 40)]:
        cp.seen(tp, _message(offset, position))
    cp.committed({tp: 2})
    assert cp._done == {("executions", 0): 20}
    cp.committed({tp: 2})  # the same commit again: nothing new
    assert cp._done == {("executions", 0): 20}
    cp.committed({tp: 4})
    assert cp._done == {("executions", 0): 40}


def test_a_commit_before_any_record_finished_records_nothing():
    cp = _checkpoints()
    tp = TP("t", 0)
    cp.seen(tp, _message(5, 50))
    cp.committed({tp: 5})
    assert cp._done == {}


def test_a_revoked_partition_is_forgotten():
    cp = _checkpoints()
    tp = TP("t", 1)
    cp.seen(tp, _message(0, 7))
    cp.forget([tp])
    cp.committed()
    assert cp._done == {}
