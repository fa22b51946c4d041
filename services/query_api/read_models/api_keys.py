"""API key queries over ``rm_api_keys`` + ``api_key_usage`` (only ever the caller's keys).

The answer is AutoGPT's ``APIKeyInfo``; neither the plain key nor its hash exists on this side.
"""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from services.domain.apikeys.shapes import with_scopes

_SELECT = """
SELECT k.key_id, k.name, k.head, k.tail, k.status, k.permissions, k.created_at, u.last_used_at,
       k.revoked_at, k.description, k.user_id
FROM rm_api_keys k LEFT JOIN api_key_usage u ON u.key_id = k.key_id
WHERE k.user_id = %(user_id)s
"""


def _info(row: dict[str, Any]) -> dict[str, Any]:
    iso = lambda v: v.isoformat() if v else None  # noqa: E731
    return {"id": str(row["key_id"]), "name": row["name"], "head": row["head"], "tail": row["tail"],
            "status": row["status"], "permissions": row["permissions"], "created_at": iso(row["created_at"]),
            "last_used_at": iso(row["last_used_at"]), "revoked_at": iso(row["revoked_at"]),
            "description": row["description"], "user_id": row["user_id"], "type": "api_key",
            **with_scopes(row["permissions"])}


async def list_keys(pool: AsyncConnectionPool, user_id: str, limit: int = 500) -> list[dict[str, Any]]:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_SELECT + " ORDER BY k.created_at DESC LIMIT %(limit)s", {"user_id": user_id, "limit": limit})
        return [_info(r) for r in await cur.fetchall()]


async def get_key(pool: AsyncConnectionPool, user_id: str, key_id: str) -> dict[str, Any] | None:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_SELECT + " AND k.key_id = %(key_id)s", {"user_id": user_id, "key_id": key_id})
        row = await cur.fetchone()
    return _info(row) if row else None
