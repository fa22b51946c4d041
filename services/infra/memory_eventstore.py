"""One context's log in memory, keeping the contract of ``services.infra.eventstore.EventStore``.

Why: the command handlers (graphs, executions, API keys, credentials, the ledger) decide on what
they load and append at the version they loaded. With this store they run as given-events /
when-command / then-events stories in the unit suite, and the very same stories run against
PostgreSQL in the integration suite (``tests/stories``), so both stores are held to one contract
(``tests/stories/store_contract.py``):

- an append is all or nothing; a ``(stream, version)`` already recorded, or named twice in one
  append, refuses the whole append with ``ConcurrencyConflict``. Versions are checked for
  uniqueness only, as the real store's primary key does: the caller picks the next one;
- positions are assigned in commit order and only go up; ``read_log`` returns events in that
  order, ``read_stream`` in version order (without positions, as the real store reads a stream);
- an event whose stored state is over ``max_event_bytes`` refuses the append (``EventTooLarge``)
  before anything is written. States are encoded by ``event_codec``, so sizes are the real ones.

Thread-safe: handlers run in worker threads, and one lock makes each append atomic. This module
imports neither eventsourcing nor psycopg: ``NewEvent``, the two refusals, the size rule and the
table names come from ``store_contract``, which both stores share.
"""

from __future__ import annotations

import bisect
import threading
import uuid
from collections.abc import Mapping, Sequence

from services.infra.event_codec import RecordedEvent, StoredRow, decode_row
from services.infra.store_contract import (
    DEFAULT_MAX_EVENT_BYTES,
    ConcurrencyConflict,
    NewEvent,
    encoded_states,
    table_name,
)


def _stream_key(stream_id: uuid.UUID | str) -> uuid.UUID:
    return stream_id if isinstance(stream_id, uuid.UUID) else uuid.UUID(str(stream_id))


def _version(row: StoredRow) -> int:
    return row.stream_version


def _unpositioned(row: StoredRow) -> RecordedEvent:
    """A stream read: the real store selects no position there."""
    return decode_row(row._replace(position=None))


class MemoryEventStore:
    """Append to streams, read a stream, tail the log: ``EventStore``'s surface, in memory."""

    def __init__(self, context: str, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self.context = context
        self.max_event_bytes = max_event_bytes
        self.table = table_name(context)
        self._lock = threading.Lock()
        self._log: list[StoredRow] = []  # position n is self._log[n - 1]: positions start at 1
        self._streams: dict[uuid.UUID, list[StoredRow]] = {}  # each kept in version order

    def create_tables(self) -> None:
        """Nothing to create (kept so code that sets up a store can call it on either)."""

    def append(self, events: Sequence[NewEvent]) -> list[int]:
        """Record events atomically; returns their log positions in order. Raises
        ``EventTooLarge`` (nothing recorded) if any event's state is over ``max_event_bytes``,
        ``ConcurrencyConflict`` (nothing recorded) if any version is taken."""
        if not events:
            return []
        states = encoded_states(events, self.max_event_bytes)
        keys = [(_stream_key(e.stream_id), e.stream_version) for e in events]
        with self._lock:
            self._refuse_taken(keys)
            return [self._record(stream, version, event.event.TYPE, state)
                    for (stream, version), event, state in zip(keys, events, states)]

    def _refuse_taken(self, keys: list[tuple[uuid.UUID, int]]) -> None:
        if len(set(keys)) != len(keys):
            raise ConcurrencyConflict(f"{self.table}: one append names a stream version twice")
        for stream, version in keys:
            rows = self._streams.get(stream, [])
            index = bisect.bisect_left(rows, version, key=_version)
            if index < len(rows) and rows[index].stream_version == version:
                raise ConcurrencyConflict(f"{self.table}: stream {stream} already has version {version}")

    def _record(self, stream: uuid.UUID, version: int, type_name: str, state: bytes) -> int:
        row = StoredRow(len(self._log) + 1, stream, version, type_name, state)
        self._log.append(row)
        bisect.insort(self._streams.setdefault(stream, []), row, key=_version)
        return row.position

    def read_stream(self, stream_id: uuid.UUID, *, after: int = 0, upto: int | None = None) -> list[RecordedEvent]:
        with self._lock:
            rows = list(self._streams.get(_stream_key(stream_id), ()))
        return [_unpositioned(row) for row in rows
                if row.stream_version > after and (upto is None or row.stream_version <= upto)]

    def read_streams(self, uptos: Mapping[uuid.UUID, int | None]) -> dict[uuid.UUID, list[RecordedEvent]]:
        return {stream_id: self.read_stream(stream_id, upto=upto) for stream_id, upto in uptos.items()}

    def stream_version(self, stream_id: uuid.UUID) -> int:
        """The stream's latest version (0 if empty)."""
        with self._lock:
            rows = self._streams.get(_stream_key(stream_id))
            return rows[-1].stream_version if rows else 0

    def stream_version_at(self, stream_id: uuid.UUID, position: int) -> int:
        """The stream's version as of the log's ``position`` (0: nothing recorded by then)."""
        with self._lock:
            rows = self._streams.get(_stream_key(stream_id), [])
            return max((row.stream_version for row in rows if row.position <= position), default=0)

    def latest_of_type(self, stream_id: uuid.UUID, type_name: str) -> RecordedEvent | None:
        """The stream's newest event of one type (snapshots)."""
        with self._lock:
            rows = list(self._streams.get(_stream_key(stream_id), ()))
        found = next((row for row in reversed(rows) if row.type == type_name), None)
        return None if found is None else _unpositioned(found)

    def read_log(self, *, after: int, limit: int = 500) -> list[RecordedEvent]:
        return [decode_row(row) for row in self.read_log_raw(after=after, limit=limit)]

    def read_log_raw(self, *, after: int, limit: int = 500) -> list[StoredRow]:
        """``(position, stream_id, stream_version, type, state)`` rows without decoding."""
        start = max(after, 0)
        with self._lock:
            return self._log[start:start + limit]

    def head(self) -> int:
        with self._lock:
            return len(self._log)
