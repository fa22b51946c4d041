"""Async reads of the store's logs (eventsourcing's ``<context>_events`` tables) over psycopg.

The one place outside the store that names those tables and their columns: the projector, the
rebuild, the relay, metrics, read fences and the query API's history and WebSocket hub read the
log through these functions, and decode what they get with ``event_codec``. No eventsourcing
here (the query API uses this module and must never reach that library).

Every read runs on a fresh cursor of the connection it is given. The projector reads in the
middle of a batch it writes in pipeline mode, where a cursor that queued earlier statements can
be handed an earlier ``UPDATE``'s result in place of its rows (``projections/sql.py``); a fresh
cursor only ever receives its own result. Reads take no locks: notification ids are assigned in
commit order under the store's table lock, so "the rows after position N" never skips a row
that commits later.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import tuple_row

from services.infra import db
from services.infra.event_codec import StoredRow
from services.infra.settings import Settings
from services.infra.store_contract import table_name

_ROW_COLUMNS = "notification_id, originator_id, originator_version, topic, state"


def _table(context: str) -> str:
    return f'"{table_name(context)}"'


def head_expression(context: str) -> str:
    """SQL for the log's head position (0 when empty), to embed in a larger query."""
    return f"(SELECT coalesce(max(notification_id), 0) FROM {_table(context)})"  # noqa: S608 - checked name


def stream_version_expression(context: str) -> str:
    """SQL for one stream's latest version (0 when empty; the stream id is ``%(stream_id)s``)."""
    return (f"(SELECT coalesce(max(originator_version), 0) FROM {_table(context)} "  # noqa: S608 - checked name
            "WHERE originator_id = %(stream_id)s)")


async def _fetch(conn: AsyncConnection, sql: str, params: Sequence) -> list[tuple]:
    async with conn.cursor(row_factory=tuple_row) as cur:
        return await (await cur.execute(sql, params)).fetchall()


async def head(conn: AsyncConnection, context: str) -> int:
    rows = await _fetch(conn, f"SELECT {head_expression(context)}", ())
    return int(rows[0][0])


async def rows_after(conn: AsyncConnection, context: str, position: int, limit: int) -> list[StoredRow]:
    """Up to ``limit`` rows after ``position``, in log order."""
    rows = await _fetch(conn, f"SELECT {_ROW_COLUMNS} FROM {_table(context)} "  # noqa: S608 - checked name
                        "WHERE notification_id > %s ORDER BY notification_id LIMIT %s", (position, limit))
    return [StoredRow(*row) for row in rows]


async def rows_at(conn: AsyncConnection, context: str, positions: Sequence[int]) -> list[StoredRow]:
    """The rows at these positions (those that exist), in log order."""
    rows = await _fetch(conn, f"SELECT {_ROW_COLUMNS} FROM {_table(context)} "  # noqa: S608 - checked name
                        "WHERE notification_id = ANY(%s) ORDER BY notification_id", (list(positions),))
    return [StoredRow(*row) for row in rows]


async def stream_rows(conn: AsyncConnection, context: str, stream_id: uuid.UUID | str, *, after: int = 0,
                      before: int | None = None, limit: int | None = None) -> list[StoredRow]:
    """One stream's rows with ``after < version < before`` (no upper bound when ``before`` is
    None), in version order, at most ``limit`` of them (all when None)."""
    rows = await _fetch(
        conn, f"SELECT {_ROW_COLUMNS} FROM {_table(context)} "  # noqa: S608 - checked name
        "WHERE originator_id = %s AND originator_version > %s AND (%s::bigint IS NULL OR originator_version < %s) "
        "ORDER BY originator_version LIMIT %s", (stream_id, after, before, before, limit))
    return [StoredRow(*row) for row in rows]


async def seconds_since_first_after(conn: AsyncConnection, context: str, position: int) -> float | None:
    """How long ago the first event after ``position`` occurred (None if there is none).

    Read from the first bytes of its stored state (``occurred_at`` is the second key, see
    ``event_codec``), so a huge event is not parsed."""
    sql = ("SELECT extract(epoch FROM now() - substring(encode(substring(state from 1 for 200), 'escape') "  # noqa: S608
           f"""from '"occurred_at":"([^"]+)"')::timestamptz) FROM {_table(context)} """
           "WHERE notification_id > %s ORDER BY notification_id LIMIT 1")
    rows = await _fetch(conn, sql, (position,))
    return float(rows[0][0]) if rows and rows[0][0] is not None else None


async def listen(conn: AsyncConnection, context: str) -> None:
    """Subscribe ``conn`` (autocommit) to the store's NOTIFY on every commit to the log."""
    await conn.execute(f"LISTEN {_table(context)}")


async def wake_on_commits(settings: Settings, context: str, wake: asyncio.Event, stop: asyncio.Event) -> None:
    """Set ``wake`` on every commit to ``context``'s log until ``stop``, reconnecting after a
    lost connection; a follower drains ``rows_after`` its position when woken (and on a timer,
    which covers commits made while the listener was reconnecting)."""
    while not stop.is_set():
        try:
            conn = await db.aconnect(settings, autocommit=True)
            try:
                await listen(conn, context)
                async for _ in conn.notifies():
                    wake.set()
            finally:
                await conn.close()
        except (psycopg.Error, OSError):
            await asyncio.sleep(1.0)
