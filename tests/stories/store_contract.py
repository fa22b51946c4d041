"""The event store contract the command handlers rely on, asserted on either store.

A collecting module subclasses ``StoreContract`` and provides ``make_store(max_event_bytes=...)``,
a store of the executions context. The real store's schema may be shared with other tests, so
every assertion is about fresh streams and about the log after a head read first.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest

from schemas.events.executions import ExecutionDeleted, ExecutionStopRequested
from services.infra.event_codec import decode_row, encode_state
from services.infra.store_contract import ConcurrencyConflict, EventTooLarge, NewEvent

RACERS = 8
ROUNDS = 5
AT = datetime(2026, 12, 1, 12, 30, 15, 123456, tzinfo=UTC)


def stop(stream: uuid.UUID, version: int, by: str = "u1") -> NewEvent:
    return NewEvent(stream, version, ExecutionStopRequested(requested_by=by), user_id=by, occurred_at=AT)


class StoreContract:
    def test_an_append_is_read_back_from_its_stream_in_version_order(self, make_store):
        store, a = make_store(), uuid.uuid4()
        before = store.head()
        positions = store.append([stop(a, 1, "u1"), stop(a, 2, "u2")])
        assert len(positions) == 2 and before < positions[0] < positions[1] == store.head()
        recorded = store.read_stream(a)
        assert [(e.stream_id, e.stream_version, e.type, e.position) for e in recorded] == [
            (a, 1, "ExecutionStopRequested", None), (a, 2, "ExecutionStopRequested", None)]
        assert [(e.user_id, e.occurred_at, e.payload) for e in recorded] == [
            ("u1", AT, {"requested_by": "u1"}), ("u2", AT, {"requested_by": "u2"})]
        assert recorded[1].decode() == ExecutionStopRequested(requested_by="u2")
        assert [e.stream_version for e in store.read_stream(a, after=1)] == [2]
        assert [e.stream_version for e in store.read_stream(a, upto=1)] == [1]
        assert store.stream_version(a) == 2 and store.stream_version(uuid.uuid4()) == 0
        assert store.append([]) == [] and store.head() == positions[1]

    def test_a_streams_version_as_of_a_log_position(self, make_store):
        store, a, b = make_store(), uuid.uuid4(), uuid.uuid4()
        first, _, third = store.append([stop(a, 1), stop(b, 1), stop(a, 2)])
        assert store.stream_version_at(a, first - 1) == 0
        assert store.stream_version_at(a, first) == store.stream_version_at(a, third - 1) == 1
        assert store.stream_version_at(a, third) == 2 and store.stream_version_at(uuid.uuid4(), third) == 0

    def test_several_streams_are_read_at_once_each_up_to_its_version(self, make_store):
        store, a, b, c, empty = make_store(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        store.append([stop(a, 1), stop(b, 1), stop(a, 2), stop(b, 2), stop(c, 1), stop(a, 3)])
        read = store.read_streams({a: 2, b: None, c: 5, empty: 1})
        assert {stream: [(e.stream_id, e.stream_version, e.position) for e in events]
                for stream, events in read.items()} == {
            a: [(a, 1, None), (a, 2, None)], b: [(b, 1, None), (b, 2, None)], c: [(c, 1, None)], empty: []}
        assert read[a][1].decode() == ExecutionStopRequested(requested_by="u1")
        assert [e.stream_version for e in store.read_streams({a: None})[a]] == [1, 2, 3]
        assert store.read_streams({}) == {}

    def test_a_taken_version_refuses_the_whole_append(self, make_store):
        store, a, b = make_store(), uuid.uuid4(), uuid.uuid4()
        store.append([stop(a, 1)])
        head = store.head()
        with pytest.raises(ConcurrencyConflict):
            store.append([stop(b, 1), stop(a, 1, "late")])
        with pytest.raises(ConcurrencyConflict):
            store.append([stop(b, 1), stop(b, 1, "twice")])
        assert store.read_stream(b) == [] and [e.user_id for e in store.read_stream(a)] == ["u1"]
        assert store.head() == head and store.read_log(after=head) == []

    def test_versions_must_be_unique_not_consecutive(self, make_store):
        """The store checks ``(stream, version)`` for uniqueness only (the real store's primary
        key): each handler appends at the version it loaded + 1, and the fake must accept and
        refuse exactly what production does."""
        store, a = make_store(), uuid.uuid4()
        store.append([stop(a, 3)])
        assert store.stream_version(a) == 3
        store.append([stop(a, 1)])
        assert [e.stream_version for e in store.read_stream(a)] == [1, 3] and store.stream_version(a) == 3

    def test_concurrent_appenders_one_wins_each_version(self, make_store):
        store, stream = make_store(), uuid.uuid4()
        start = threading.Barrier(RACERS, timeout=30)
        outcomes: dict[tuple[int, str], list[int] | str] = {}

        def race(name: str) -> None:
            for version in range(1, ROUNDS + 1):
                start.wait()
                try:
                    outcomes[version, name] = store.append([stop(stream, version, name)])
                except ConcurrencyConflict:
                    outcomes[version, name] = "conflict"

        threads = [threading.Thread(target=race, args=(f"racer-{i}",)) for i in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        recorded = store.read_stream(stream)
        assert [e.stream_version for e in recorded] == list(range(1, ROUNDS + 1))
        for event in recorded:
            winners = [name for (version, name), got in outcomes.items()
                       if version == event.stream_version and got != "conflict"]
            assert winners == [event.user_id]
            assert sum(1 for (version, _), got in outcomes.items()
                       if version == event.stream_version and got == "conflict") == RACERS - 1

    def test_the_log_keeps_commit_order_across_streams(self, make_store):
        store, a, b = make_store(), uuid.uuid4(), uuid.uuid4()
        mark = store.head()
        returned = [*store.append([stop(a, 1)]), *store.append([stop(b, 1), stop(a, 2)]), *store.append([stop(b, 2)])]
        log = store.read_log(after=mark)
        assert [(e.stream_id, e.stream_version) for e in log] == [(a, 1), (b, 1), (a, 2), (b, 2)]
        assert [e.position for e in log] == returned == sorted(returned) and len(set(returned)) == 4
        assert [e.position for e in store.read_log(after=mark, limit=2)] == returned[:2]
        assert [e.position for e in store.read_log(after=returned[1])] == returned[2:]
        raw = store.read_log_raw(after=mark)
        assert [(r.position, r.stream_id, r.stream_version, r.type) for r in raw] == [
            (e.position, e.stream_id, e.stream_version, e.type) for e in log]
        assert [decode_row(r) for r in raw] == log

    def test_the_latest_event_of_a_type_is_found_from_the_end(self, make_store):
        store, a = make_store(), uuid.uuid4()
        store.append([stop(a, 1, "first"), stop(a, 2, "second"),
                      NewEvent(a, 3, ExecutionDeleted(deleted_by="u1"), occurred_at=AT)])
        latest = store.latest_of_type(a, "ExecutionStopRequested")
        assert (latest.stream_version, latest.user_id, latest.position) == (2, "second", None)
        assert store.latest_of_type(a, "ExecutionQueued") is None
        assert store.latest_of_type(uuid.uuid4(), "ExecutionStopRequested") is None

    def test_an_event_over_the_size_limit_is_refused_before_anything_is_written(self, make_store):
        a, b = uuid.uuid4(), uuid.uuid4()
        big = NewEvent(a, 1, ExecutionStopRequested(requested_by="x" * 300), occurred_at=AT)
        size = len(encode_state(big.event, occurred_at=AT, user_id=None))
        tight = make_store(max_event_bytes=size - 1)
        head = tight.head()
        with pytest.raises(EventTooLarge) as refused:
            tight.append([stop(b, 1), big])
        assert (refused.value.event_type, refused.value.size, refused.value.limit) == (
            "ExecutionStopRequested", size, size - 1)
        assert tight.head() == head and tight.read_stream(a) == tight.read_stream(b) == []
        assert make_store(max_event_bytes=size).append([big]) != []  # the limit itself is allowed
