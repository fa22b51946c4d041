"""Credential queries over ``rm_credentials`` (only ever the caller's live credentials), plus the
deployment's system credentials, which every user sees. References only: no secret exists here."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from services.domain.integrations.credentials import meta_response

_SELECT = ("SELECT credentials_id, provider, type, title FROM rm_credentials "
           "WHERE user_id = %(user_id)s AND deleted_at IS NULL")


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return meta_response(str(row["credentials_id"]), row["provider"], row["type"], row["title"])


async def list_credentials(pool: AsyncConnectionPool, user_id: str, provider: str | None = None,
                           limit: int = 1000) -> list[dict[str, Any]]:
    sql = _SELECT + (" AND provider = %(provider)s" if provider else "") + " ORDER BY created_at LIMIT %(limit)s"
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, {"user_id": user_id, "provider": provider, "limit": limit})
        return [_row(r) for r in await cur.fetchall()]


async def get_credentials(pool: AsyncConnectionPool, user_id: str, cred_id: str) -> dict[str, Any] | None:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_SELECT + " AND credentials_id = %(id)s", {"user_id": user_id, "id": cred_id})
        row = await cur.fetchone()
        return _row(row) if row else None
