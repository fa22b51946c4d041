"""SQL over ``rm_human_reviews``: the caller's waiting reviews, and one run's. Only ever the
caller's rows."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

MAX_PER_RUN = 1000  # a run's reviews listed at most (one per node execution that waited)

_SELECT = ("SELECT node_exec_id::text, user_id, execution_id::text AS graph_exec_id, graph_id::text, graph_version, "
           "node_id, kind, payload, instructions, editable, status, review_message, was_edited, processed, "
           "created_at, updated_at, reviewed_at FROM rm_human_reviews WHERE user_id = %(user_id)s")


async def waiting(pool: AsyncConnectionPool, user_id: str, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """The caller's reviews still waiting, oldest first (the first asked is the first to decide)."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"{_SELECT} AND status = 'WAITING' ORDER BY created_at, node_exec_id "
                          "LIMIT %(limit)s OFFSET %(offset)s", {"user_id": user_id, "limit": limit, "offset": offset})
        return await cur.fetchall()


async def of_execution(pool: AsyncConnectionPool, user_id: str, execution_id: str) -> list[dict[str, Any]]:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"{_SELECT} AND execution_id = %(execution_id)s ORDER BY created_at, node_exec_id "
                          f"LIMIT {MAX_PER_RUN}", {"user_id": user_id, "execution_id": execution_id})
        return await cur.fetchall()


async def owns_execution(pool: AsyncConnectionPool, user_id: str, execution_id: str) -> bool:
    async with pool.connection() as conn, conn.cursor() as cur:
        await cur.execute("SELECT 1 FROM rm_executions WHERE execution_id = %s AND user_id = %s AND NOT is_deleted",
                          (execution_id, user_id))
        return await cur.fetchone() is not None
