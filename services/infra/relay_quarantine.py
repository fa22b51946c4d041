"""The relay's dead letters: poison records parked, later records of their streams held, released
on operator decisions.

A record the producer or the broker refuses for what it is (too large, malformed) is poison, not
broker trouble: retrying it would wedge the log for everyone (audit F2). The relay parks it as a
dead letter (consumer ``relay``) and moves on; later events of the same stream are parked too,
"held behind" it, so the stream stays in order. About once a second (the relay's
``DECISIONS_POLL_S``) the relay looks at operator decisions: after ``retry`` it publishes the
parked record again and then the held ones in order; after ``skip`` it steps over that record and
publishes the held ones.

This module keeps that bookkeeping (what is poison, what to hold back or step over, parking and
releasing); ``relay.py`` publishes and calls it. Parking is done on the relay's own connection,
inside the transaction that moves its position past the parked records.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    UnsupportedForMessageFormatError,
)

from services.infra import deadletters, event_log

log = logging.getLogger("services.infra.relay")  # the logger these messages always had (log filters keep working)
CONSUMER = "relay"
# Refusals of one record for what it is: retrying cannot help. (Anything else, e.g. a timeout or
# an authorization failure, is trouble with the broker and the whole batch is retried.)
POISON_ERRORS = (MessageSizeTooLargeError, RecordListTooLargeError, CorruptRecordException, InvalidTimestampError,
                 UnsupportedForMessageFormatError, ValueError, TypeError)
INVALID_RECORD_ERRNO = 87

# Publishes one record and waits for the broker: returns its metadata (partition, offset).
Send = Callable[[tuple], Awaitable[Any]]
# Records that a released record is on the broker: (conn, position, record metadata).
Published = Callable[[psycopg.AsyncConnection, int, Any], Awaitable[None]]


def is_poison(exc: BaseException) -> bool:
    return isinstance(exc, POISON_ERRORS) or getattr(exc, "errno", None) == INVALID_RECORD_ERRNO


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass
class Held:
    """The relay's dead letters of one log: what to hold back or step over."""

    streams: dict[str, int] = field(default_factory=dict)  # stream id -> its first open dead letter
    open_positions: set[int] = field(default_factory=set)  # already parked: never re-parked
    skipped: set[int] = field(default_factory=set)


class RelayQuarantine:
    """Parks, holds and releases the relay's records of one log (``stats`` is the relay's
    ``RelayStats``: ``parked`` and ``held_streams`` are kept up to date here)."""

    def __init__(self, context: str, table: str, stats) -> None:
        self.context = context
        self.table = table
        self.stats = stats
        self.held = Held()

    async def park(self, conn: psycopg.AsyncConnection, parked: list[tuple[tuple, str | None]]) -> None:
        """Record ``(record, error)`` pairs in position order; an error of None means "held behind
        the stream's head dead letter" (which may be parked earlier in the same list)."""
        for (position, stream_id, version, type_name, _state), error in parked:
            key = str(stream_id)
            head = self.held.streams.get(key)
            text = error if error is not None else deadletters.held_behind(head)
            dl_id = await deadletters.park(conn, consumer=CONSUMER, context=self.context, stream_id=key,
                                           position=position, version=version, event_type=type_name, error=text)
            self.held.streams.setdefault(key, dl_id)
            self.held.open_positions.add(position)
            self.stats.parked += 1
            if error is not None:
                log.error("relay %s: parked %s v%d of stream %s (position %d, dead letter #%d): %s; the stream "
                          "waits for `agentloom deadletters retry|skip`", self.context, type_name, version, key,
                          position, dl_id, error[:300])
        self.stats.held_streams = len(self.held.streams)

    async def load(self, conn: psycopg.AsyncConnection) -> dict[str, list[tuple]]:
        """Refresh ``self.held``; returns the open dead letters per stream in position order."""
        rows = await (await conn.execute(
            "SELECT id, stream_id, position, status, error FROM dead_letters WHERE consumer = %s AND context = %s "
            "AND status IN ('parked', 'retry', 'skipped') ORDER BY position", (CONSUMER, self.context))).fetchall()
        held, by_stream = Held(), {}
        for dl_id, stream_id, position, status, error in rows:
            if status == "skipped":
                held.skipped.add(int(position))
                continue
            held.streams.setdefault(stream_id, dl_id)
            held.open_positions.add(int(position))
            by_stream.setdefault(stream_id, []).append((dl_id, int(position), status, error))
        self.held = held
        self.stats.held_streams = len(held.streams)
        return by_stream

    async def act_on_decisions(self, conn: psycopg.AsyncConnection, send: Send, published: Published) -> None:
        """Release every stream whose first open dead letter an operator retried, or which is only
        held behind a letter that is closed now (resolved or skipped)."""
        by_stream = await self.load(conn)
        released = False
        for stream_id, letters in by_stream.items():
            _, _, status, error = letters[0]
            if status == "retry" or deadletters.is_held(error):
                await self._release(conn, send, published, stream_id, letters)
                released = True
        if released:
            await self.load(conn)

    async def _release(self, conn: psycopg.AsyncConnection, send: Send, published: Published, stream_id: str,
                       letters: list[tuple]) -> None:
        """Publish a stream's parked records one by one, in order, waiting for each; stop at the
        first that is refused again (it becomes the head the others are held behind)."""
        rows = await event_log.rows_at(conn, self.context, [pos for _, pos, _, _ in letters])
        records = {row.position: row for row in rows}
        for index, (dl_id, position, _, _) in enumerate(letters):
            record = records.get(position)
            try:
                if record is None:
                    raise ValueError(f"position {position} is not in {self.table}")
                meta = await send(record)
            except Exception as exc:
                if not is_poison(exc):
                    raise
                await deadletters.park(conn, consumer=CONSUMER, context=self.context, stream_id=stream_id,
                                       position=position, version=record[2] if record else None,
                                       event_type=record[3] if record else None, error=describe(exc))
                await deadletters.set_error(conn, [d for d, *_ in letters[index + 1:]], deadletters.held_behind(dl_id))
                log.error("relay %s: dead letter #%d (stream %s) refused again: %s", self.context, dl_id, stream_id,
                          describe(exc)[:300])
                return
            await published(conn, position, meta)
            await deadletters.resolve(conn, dl_id)
            log.info("relay %s: published dead letter #%d (stream %s, position %d)", self.context, dl_id,
                     stream_id, position)
