"""Reading inside a projector batch, which writes in pipeline mode."""

from __future__ import annotations

from psycopg import AsyncCursor


async def fetch_all(cur: AsyncCursor, sql: str, params) -> list:
    """Run a query and fetch its rows on a fresh cursor of ``cur``'s connection.

    Why: the projector writes in pipeline mode, where results of statements queued earlier on a
    cursor are attached to it as they arrive. A query on that same cursor can then find an earlier
    ``UPDATE``'s result in place of its rows ("the last operation didn't produce records"), depending
    on network timing. A fresh cursor only ever receives its own result.
    """
    async with cur.connection.cursor() as fresh:
        return await (await fresh.execute(sql, params)).fetchall()
