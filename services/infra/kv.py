"""Per-user durable values for the Persist/Retrieve blocks, in ``kv_data``.

Shared by the executor (blocks inside graphs) and the command API (blocks run directly)."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb


class PostgresKeyValueStore:
    """Per-user durable values for the Persist/Retrieve blocks (``kv_data``)."""

    def __init__(self, pool) -> None:
        self.pool = pool

    async def get(self, user_id: str, key: str) -> Any:
        async with self.pool.connection() as conn:
            row = await (await conn.execute("SELECT value FROM kv_data WHERE user_id = %s AND key = %s",
                                            (user_id, key))).fetchone()
        return row[0] if row else None

    async def set(self, user_id: str, key: str, value: Any) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO kv_data (user_id, key, value, updated_at) VALUES (%s, %s, %s, now()) "
                "ON CONFLICT (user_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
                (user_id, key, Jsonb(value)))
