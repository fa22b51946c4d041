"""Folds API key events into ``rm_api_keys`` (what ``GET /api/api-keys`` lists).

Every write is derived from the event alone (timestamps included), so a rebuild from the store
produces identical rows. The lookup id and key hash are never copied here: the read side has no
use for them, and fewer copies means fewer places to leak them from. Last use lives in
``api_key_usage`` (written by the external API, not derived from events).
"""

from __future__ import annotations

from psycopg import AsyncCursor
from psycopg.types.json import Jsonb

from schemas.envelope import Envelope
from schemas.events.apikeys import ApiKeyCreated, ApiKeyPermissionsChanged, ApiKeyRevoked, ApiKeySuspended

TABLES = ("rm_api_keys",)


async def apply(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, ApiKeyCreated):
        await cur.execute(
            "INSERT INTO rm_api_keys (key_id, user_id, name, description, head, tail, status, permissions, "
            "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, 'ACTIVE', %s, %s, %s) "
            "ON CONFLICT (key_id) DO NOTHING",
            (env.stream_id, event.user_id, event.name, event.description, event.head, event.tail,
             Jsonb([p.value for p in event.permissions]), env.occurred_at, env.occurred_at))
    elif isinstance(event, ApiKeyRevoked):
        await cur.execute("UPDATE rm_api_keys SET status = 'REVOKED', revoked_at = %s, updated_at = %s "
                          "WHERE key_id = %s", (env.occurred_at, env.occurred_at, env.stream_id))
    elif isinstance(event, ApiKeySuspended):
        await cur.execute("UPDATE rm_api_keys SET status = 'SUSPENDED', updated_at = %s WHERE key_id = %s",
                          (env.occurred_at, env.stream_id))
    elif isinstance(event, ApiKeyPermissionsChanged):
        await cur.execute("UPDATE rm_api_keys SET permissions = %s, updated_at = %s WHERE key_id = %s",
                          (Jsonb([p.value for p in event.permissions]), env.occurred_at, env.stream_id))
