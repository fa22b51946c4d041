"""Dead letters: events a consumer could not process, parked so the consumer keeps going.

DESIGN §2.7: no event can stop a consumer. When a consumer (relay, projector, executor, …)
fails on one event for a reason that retrying will not cure (a value the read model cannot
hold, a record the broker refuses, a payload that does not decode), it parks the event here with
its context, stream, position and error, and goes on with every other stream. The parked stream
stays blocked for that consumer, in order: its later events wait behind the parked one, so a
read model or a run never sees a stream with a hole in it. An operator resolves it with
``agentloom deadletters list|retry|skip``; ``retry`` hands the event back to the consumer, which
tries it again on its next pass, and ``skip`` lets the consumer step over it for good.

Parking is recorded in PostgreSQL (the same database as the consumer's own positions), counted
in ``/metrics`` and turns ``/health`` red for that consumer while anything is open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from eventsourcing import persistence as es_persistence

OPEN_STATUSES = ("parked", "retry")
# SQLSTATE classes that say "try again later", not "this event is bad": connection exceptions,
# transaction rollback (deadlock, serialization), insufficient resources, object in use / lock
# not available, operator intervention (shutdown, cancel), system errors.
TRANSIENT_SQLSTATE_CLASSES = {"08", "40", "53", "55", "57", "58"}


_ES_TRANSIENT = (es_persistence.OperationalError, es_persistence.InterfaceError,
                 es_persistence.ConnectionPoolClosedError, es_persistence.WaitInterruptedError)


def is_transient_db_error(exc: BaseException) -> bool:
    """Database or network trouble (retry later) as opposed to a failure that retrying will not
    cure (park it). The one rule for every consumer: psycopg errors by SQLSTATE class, client-side
    connection errors, and eventsourcing's wrappers by the psycopg error they wrap."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError):
            return True
        if isinstance(exc, psycopg.Error):
            if exc.sqlstate is None:  # raised by the client: lost connection, closed cursor, ...
                return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))
            return exc.sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES
        if isinstance(exc, _ES_TRANSIENT):
            return True
        exc = exc.__cause__  # wrappers raise "from" the error they wrap
    return False
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class DeadLetter:
    id: int
    consumer: str
    context: str
    stream_id: str
    position: int
    version: int | None
    event_type: str | None
    error: str
    status: str
    attempts: int
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


_COLUMNS = ("id, consumer, context, stream_id, position, version, event_type, error, status, attempts, "
            "created_at, updated_at")


async def park(conn, *, consumer: str, context: str, stream_id: str, position: int, error: str,
               version: int | None = None, event_type: str | None = None) -> int:
    """Record (or re-record, counting the attempt) an event this consumer cannot process; returns
    the dead letter's id.

    Works on an open async connection or cursor; call it inside the consumer's own transaction
    when the consumer's positions move in that transaction, so parking and moving on are atomic."""
    cur = await conn.execute(
        "INSERT INTO dead_letters (consumer, context, stream_id, position, version, event_type, error) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (consumer, context, position) DO UPDATE SET "
        "error = EXCLUDED.error, status = 'parked', attempts = dead_letters.attempts + 1, updated_at = now() "
        "RETURNING id",
        (consumer, context, str(stream_id), position, version, event_type, error[:MAX_ERROR_CHARS]))
    row = await cur.fetchone()
    return int(row[0])


# An event a consumer could process but holds back because an earlier event of its stream is
# parked (the relay publishes a stream in order): parked with this error, released with its head.
HELD_BEHIND = "held behind dead letter #"


def held_behind(dead_letter_id: int) -> str:
    return f"{HELD_BEHIND}{dead_letter_id} (its stream is processed in order)"


def is_held(error: str) -> bool:
    return error.startswith(HELD_BEHIND)


async def set_error(conn, dead_letter_ids: list[int], error: str) -> None:
    """Re-word open dead letters without counting an attempt (held letters get a new head)."""
    if dead_letter_ids:
        await conn.execute("UPDATE dead_letters SET error = %s, updated_at = now() WHERE id = ANY(%s)",
                           (error[:MAX_ERROR_CHARS], dead_letter_ids))


async def blocked_streams(conn, *, consumer: str, context: str) -> set[str]:
    """Streams with an open (parked) dead letter for this consumer: their events wait."""
    cur = await conn.execute(
        "SELECT DISTINCT stream_id FROM dead_letters WHERE consumer = %s AND context = %s AND status = 'parked'",
        (consumer, context))
    return {row[0] for row in await cur.fetchall()}


async def take_retries(conn, *, consumer: str, context: str) -> list[DeadLetter]:
    """Dead letters an operator asked to retry, oldest first (the consumer re-processes them)."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM dead_letters WHERE consumer = %s AND context = %s AND status = 'retry' "  # noqa: S608
        "ORDER BY position", (consumer, context))
    return [DeadLetter(*row) for row in await cur.fetchall()]


async def skipped_positions(conn, *, consumer: str, context: str, stream_id: str) -> set[int]:
    cur = await conn.execute(
        "SELECT position FROM dead_letters WHERE consumer = %s AND context = %s AND stream_id = %s "
        "AND status = 'skipped'", (consumer, context, str(stream_id)))
    return {int(row[0]) for row in await cur.fetchall()}


async def resolve(conn, dead_letter_id: int) -> None:
    """The consumer processed a retried dead letter: it is closed."""
    await conn.execute("UPDATE dead_letters SET status = 'resolved', updated_at = now() WHERE id = %s",
                       (dead_letter_id,))


# -- operator side (CLI) -------------------------------------------------------------------------

async def get(conn, dead_letter_id: int) -> DeadLetter | None:
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM dead_letters WHERE id = %s", (dead_letter_id,))  # noqa: S608
    row = await cur.fetchone()
    return DeadLetter(*row) if row else None


async def list_open(conn, *, include_closed: bool = False) -> list[DeadLetter]:
    where = "" if include_closed else "WHERE status IN ('parked', 'retry')"
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM dead_letters {where} ORDER BY id")  # noqa: S608
    return [DeadLetter(*row) for row in await cur.fetchall()]


async def mark(conn, dead_letter_id: int, status: str) -> bool:
    """``retry`` or ``skip`` one open dead letter; False if there is no such open entry."""
    if status not in ("retry", "skipped"):
        raise ValueError(f"unknown dead-letter status {status!r}")
    cur = await conn.execute(
        "UPDATE dead_letters SET status = %s, updated_at = now() WHERE id = %s AND status IN ('parked', 'retry')",
        (status, dead_letter_id))
    return cur.rowcount == 1


async def open_counts(conn) -> dict[str, int]:
    """``{consumer: open dead letters}`` for /health and /metrics."""
    cur = await conn.execute(
        "SELECT consumer, count(*) FROM dead_letters WHERE status IN ('parked', 'retry') GROUP BY consumer")
    return {consumer: int(n) for consumer, n in await cur.fetchall()}


def format_table(letters: list[DeadLetter]) -> str:
    """The operator's view: one line per dead letter, the error cut to fit."""
    header = ("ID", "CONSUMER", "CONTEXT", "STREAM", "POSITION", "VERSION", "TYPE", "STATUS", "ATTEMPTS", "ERROR")
    rows = [(str(d.id), d.consumer, d.context, d.stream_id, str(d.position),
             "" if d.version is None else str(d.version),
             d.event_type or "", d.status, str(d.attempts), " ".join(d.error.split())[:100]) for d in letters]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1]
                     for row in [header, *rows])


async def operator_command(conn, action: str, dead_letter_id: int | None = None, *,
                           include_closed: bool = False) -> tuple[int, str]:
    """``agentloom deadletters list|retry|skip``: (exit code, text to print)."""
    if action == "list":
        letters = await list_open(conn, include_closed=include_closed)
        if not letters:
            return 0, "no dead letters" if include_closed else "no open dead letters"
        return 0, format_table(letters)
    if dead_letter_id is None:
        return 2, f"deadletters {action} needs a dead-letter id"
    letter = await get(conn, dead_letter_id)
    if letter is None:
        return 1, f"no dead letter #{dead_letter_id} (see `agentloom deadletters list --all`)"
    if letter.status not in OPEN_STATUSES:
        return 1, f"dead letter #{dead_letter_id} is already {letter.status}; nothing to do"
    status = "retry" if action == "retry" else "skipped"
    if not await mark(conn, dead_letter_id, status):
        return 1, f"dead letter #{dead_letter_id} changed meanwhile; list it again"
    what = ("will be tried again" if status == "retry" else "will be stepped over for good")
    return 0, (f"dead letter #{dead_letter_id} ({letter.consumer}, {letter.context} stream {letter.stream_id}, "
               f"position {letter.position}) {what}; the {letter.consumer} acts on it within a few seconds")
