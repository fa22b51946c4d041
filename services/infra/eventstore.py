"""The event store: append-only streams in PostgreSQL, recorded with the eventsourcing library.

Each bounded context has its own log (table ``<context>_events``). eventsourcing's
``PostgresApplicationRecorder`` gives us what the outbox needs: optimistic concurrency on
``(stream_id, stream_version)``, a gap-free notification id assigned in commit order (it locks
the table for inserts), and a NOTIFY on every commit so tailers wake at once.

Stored state is encoded and decoded by ``event_codec`` (the format every reader of the logs
shares); async readers outside the store use ``event_log``.

eventsourcing is synchronous: call this from worker threads, never on an event loop.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, InterfaceError, Notification, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry

from services.infra.db import conninfo
from services.infra.event_codec import RecordedEvent, StoredRow, decode_row
from services.infra.settings import Settings
from services.infra.store_contract import (
    DEFAULT_MAX_EVENT_BYTES,
    ConcurrencyConflict,
    NewEvent,
    encoded_states,
    table_name,
)


def _row(stored: StoredEvent) -> StoredRow:
    position = stored.id if isinstance(stored, Notification) else None
    return StoredRow(position, uuid.UUID(str(stored.originator_id)), stored.originator_version, stored.topic,
                     stored.state)


def _recorded(stored: StoredEvent) -> RecordedEvent:
    return decode_row(_row(stored))


class SequentialRecorder(PostgresApplicationRecorder):
    """eventsourcing's recorder with appends sent statement by statement instead of in a libpq
    pipeline. Under concurrent appends from many threads, the pipelined append was seen to hang
    for good in ``Pipeline.sync`` with the server waiting for the client (``ClientRead``) inside
    the transaction, i.e. holding the log's table lock and so stopping every writer of that
    context. The statements are the same (table lock, NOTIFY, one INSERT of all events, the new
    positions returned); the extra round trips cost far less than the commit's fsync."""

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the base class does
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)


class EventStore:
    """One context's log: append to streams, read a stream, tail the log."""

    def __init__(self, datastore: PostgresDatastore, context: str, *,
                 max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self.context = context
        self.max_event_bytes = max_event_bytes
        self.table = table_name(context)
        self.recorder = SequentialRecorder(datastore, events_table_name=self.table)

    def create_tables(self) -> None:
        self.recorder.create_table()

    def append(self, events: Sequence[NewEvent]) -> list[int]:
        """Record events atomically; returns their log positions in order. Raises
        ``EventTooLarge`` (nothing recorded) if any event's state is over ``max_event_bytes``."""
        if not events:
            return []
        stored = [StoredEvent(originator_id=e.stream_id, originator_version=e.stream_version, topic=e.event.TYPE,
                              state=state) for e, state in zip(events, encoded_states(events, self.max_event_bytes))]
        try:
            ids = self.recorder.insert_events(stored)
        except IntegrityError as exc:
            raise ConcurrencyConflict(str(exc)) from None
        return list(ids or [])

    def read_stream(self, stream_id: uuid.UUID, *, after: int = 0, upto: int | None = None) -> list[RecordedEvent]:
        stored = self.recorder.select_events(stream_id, gt=after or None, lte=upto)
        return [_recorded(s) for s in stored]

    def stream_version(self, stream_id: uuid.UUID) -> int:
        """The stream's latest version (0 if empty): a cheap freshness check for cached state."""
        last = self.recorder.select_events(stream_id, desc=True, limit=1)
        return last[0].originator_version if last else 0

    def stream_version_at(self, stream_id: uuid.UUID, position: int) -> int:
        """The stream's version as of the log's ``position`` (0: nothing recorded by then), so a
        consumer can fold another stream of the same log as it stood at an event it handles."""
        sql = (f'SELECT max(originator_version) AS v FROM "{self.recorder.datastore.schema}".'  # noqa: S608
               f'"{self.table}" WHERE originator_id = %s AND notification_id <= %s')
        with self.recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql, (stream_id, position))
            row = curs.fetchone()
        return int(row["v"] or 0) if row else 0

    def latest_of_type(self, stream_id: uuid.UUID, type_name: str) -> RecordedEvent | None:
        """The stream's newest event of one type (snapshots): a backwards scan of the stream's
        primary-key range that stops at the first match."""
        sql = (f'SELECT originator_id, originator_version, topic, state FROM "{self.recorder.datastore.schema}".'  # noqa: S608
               f'"{self.table}" WHERE originator_id = %s AND topic = %s ORDER BY originator_version DESC LIMIT 1')
        with self.recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql, (stream_id, type_name))
            row = curs.fetchone()
        if row is None:
            return None
        return decode_row(StoredRow(None, row["originator_id"], row["originator_version"], row["topic"],
                                    bytes(row["state"])))

    def read_log(self, *, after: int, limit: int = 500) -> list[RecordedEvent]:
        notes = self.recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)
        return [_recorded(n) for n in notes]

    def read_log_raw(self, *, after: int, limit: int = 500) -> list[StoredRow]:
        """``(position, stream_id, stream_version, type, state)`` rows without decoding."""
        notes = self.recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)
        return [_row(n) for n in notes]

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0


def make_datastore(settings: Settings, *, pool_size: int | None = None):
    """eventsourcing's datastore on the configured schema, for the event store and the ledger."""
    info = conninfo(settings)
    return PostgresDatastore(
        dbname=info["dbname"], host=info["host"], port=info["port"], user=info["user"],
        password=info["password"], schema=settings.db_schema,
        pool_size=pool_size or settings.db_pool_size, max_overflow=4, pre_ping=True,
        lock_timeout=10, connect_timeout=10,
    )
