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
from collections.abc import Mapping, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, InterfaceError, Notification, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier, Literal

from services.infra import idle_ping
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


class LogRecorder(PostgresApplicationRecorder):
    """eventsourcing's recorder with an append made in one round trip: a function per log
    (``append_<table>``, created with the table) takes the table lock, notifies the log's
    channel and inserts the events, and the autocommit statement that calls it commits them.

    Why: the table lock is what keeps positions in commit order, so every writer of a log (the
    command API's request threads, the executor's writer) queues for it. The library's append
    holds it across five client round trips (``SET LOCAL``, ``LOCK``, ``NOTIFY``, ``INSERT``,
    ``COMMIT``); on a busy 2-core machine each costs a millisecond or more, all spent with the
    lock held. Here the lock is held only for the insert and the commit's WAL flush. (The
    library's own pipelined append was seen to hang inside its transaction under concurrent
    writers, holding the lock; one statement has no pipeline to hang.) The statements are the
    library's; the ``IntegrityError`` of a version conflict is the same.

    The events go as four arrays (ids, versions, types, states), not as an array of the library's
    composite type: psycopg quotes a composite's fields in Python (14 % of the executor's samples
    holding the GIL under chain40, py-spy) and dumps plain arrays in C (a 5-event append: ~0.22 ms
    of client CPU before, ~0.15 ms after). An installation keeps the composite-array function of
    earlier versions for processes still running them."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema, table = Identifier(datastore.schema), Identifier(self.events_table_name)
        function = Identifier(f"append_{self.events_table_name}")
        id_type = Identifier(datastore.originator_id_type)
        self.sql_create_statements.append(SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}(ids {id_type}[], versions bigint[], topics text[], "
            "states bytea[]) RETURNS SETOF bigint LANGUAGE plpgsql AS $body$ BEGIN "
            "PERFORM set_config('lock_timeout', {timeout}, true); "
            "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "NOTIFY {channel}; "
            "RETURN QUERY INSERT INTO {schema}.{table} AS t (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(ids, versions, topics, states) "
            "RETURNING notification_id; "
            "END $body$").format(
                schema=schema, function=function, table=table, id_type=id_type,
                timeout=Literal(f"{datastore.lock_timeout}s"), channel=Identifier(self.channel_name)))
        # %b: the arrays go in PostgreSQL's binary format. In text, every state is escaped into an
        # array literal (a 6-event append: ~82 us of client CPU to dump its parameters; binary ~18 us).
        self._append = SQL("SELECT {schema}.{function}(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[]) "
                           "AS notification_id").format(schema=schema, function=function, id_type=id_type)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the base class does
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        columns = ([e.originator_id for e in stored_events], [e.originator_version for e in stored_events],
                   [e.topic for e in stored_events], [e.state for e in stored_events])
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._append, columns, prepare=True)  # autocommit: this statement commits
            return [row["notification_id"] for row in curs.fetchall()]


class EventStore:
    """One context's log: append to streams, read a stream, tail the log."""

    def __init__(self, datastore: PostgresDatastore, context: str, *,
                 max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self.context = context
        self.max_event_bytes = max_event_bytes
        self.table = table_name(context)
        self.recorder = LogRecorder(datastore, events_table_name=self.table)

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

    def read_streams(self, uptos: Mapping[uuid.UUID, int | None]) -> dict[uuid.UUID, list[RecordedEvent]]:
        """Several streams, each up to its version in ``uptos`` (None: to its end), in one query: a
        consumer that folds the streams of a whole batch (the notifier's run ends, their users) pays
        one round trip, not one per stream. A stream with nothing recorded maps to an empty list."""
        found: dict[uuid.UUID, list[RecordedEvent]] = {stream_id: [] for stream_id in uptos}
        if not uptos:
            return found
        bound = None if None in uptos.values() else max(uptos.values())
        sql = (f'SELECT originator_id, originator_version, topic, state FROM "{self.recorder.datastore.schema}".'  # noqa: S608
               f'"{self.table}" WHERE originator_id = ANY(%s) AND (%s::bigint IS NULL OR originator_version <= %s) '
               'ORDER BY originator_id, originator_version')
        with self.recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql, (list(uptos), bound, bound))
            rows = curs.fetchall()
        for row in rows:
            stream_id, version, upto = row["originator_id"], row["originator_version"], uptos[row["originator_id"]]
            if upto is None or version <= upto:
                found[stream_id].append(decode_row(StoredRow(None, stream_id, version, row["topic"],
                                                             bytes(row["state"]))))
        return found

    def _one_row(self, select: str, rest: str, params: tuple):
        """``SELECT <select> FROM <this log's table> <rest>``: its first row, or None."""
        sql = f'SELECT {select} FROM "{self.recorder.datastore.schema}"."{self.table}" {rest}'  # noqa: S608
        with self.recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql, params)
            return curs.fetchone()

    def stream_version(self, stream_id: uuid.UUID) -> int:
        """The stream's latest version (0 if empty): a cheap freshness check for cached state.

        Only the version is read (from the primary key's range), never the event: a cached
        graph's check used to fetch its newest event's whole state, the graph itself."""
        row = self._one_row("originator_version AS v",
                            "WHERE originator_id = %s ORDER BY originator_version DESC LIMIT 1", (stream_id,))
        return int(row["v"]) if row else 0

    def stream_version_at(self, stream_id: uuid.UUID, position: int) -> int:
        """The stream's version as of the log's ``position`` (0: nothing recorded by then), so a
        consumer can fold another stream of the same log as it stood at an event it handles."""
        row = self._one_row("max(originator_version) AS v", "WHERE originator_id = %s AND notification_id <= %s",
                            (stream_id, position))
        return int(row["v"] or 0) if row else 0

    def latest_of_type(self, stream_id: uuid.UUID, type_name: str) -> RecordedEvent | None:
        """The stream's newest event of one type (snapshots): a backwards scan of the stream's
        primary-key range that stops at the first match."""
        row = self._one_row("originator_id, originator_version, topic, state",
                            "WHERE originator_id = %s AND topic = %s ORDER BY originator_version DESC LIMIT 1",
                            (stream_id, type_name))
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


CLIENT_CHECK_MS = 100


def make_datastore(settings: Settings, *, pool_size: int | None = None):
    """eventsourcing's datastore on the configured schema, for the event store and the ledger."""
    info = conninfo(settings)
    datastore = PostgresDatastore(
        dbname=info["dbname"], host=info["host"], port=info["port"], user=info["user"],
        password=info["password"], schema=settings.db_schema,
        pool_size=pool_size or settings.db_pool_size, max_overflow=4, pre_ping=True,
        lock_timeout=10, connect_timeout=10,
    )
    idle_ping.install(datastore.pool)  # pre_ping, but only for connections that sat idle
    # An append is one statement that may wait for its log's table lock (``LogRecorder``): when
    # its client dies meanwhile, the server notices within this interval and aborts it, instead of
    # committing it for nobody once the lock comes free.
    datastore.pool.kwargs["options"] = f"-c client_connection_check_interval={CLIENT_CHECK_MS}ms"
    return datastore
