"""Folds credential events into ``rm_credentials`` (what ``GET /api/integrations/credentials``
lists). Only the reference fields are copied: the encrypted secret stays in the event store, where
the executor reads it, so no read model ever holds key material, even sealed."""

from __future__ import annotations

from psycopg import AsyncCursor

from schemas.envelope import Envelope
from schemas.events.integrations import CredentialsCreated, CredentialsDeleted

TABLES = ("rm_credentials",)


async def apply(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, CredentialsCreated):
        await cur.execute(
            "INSERT INTO rm_credentials (credentials_id, user_id, provider, type, title, expires_at, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (credentials_id) DO NOTHING",
            (env.stream_id, event.user_id, event.provider, event.type, event.title, event.expires_at,
             env.occurred_at))
    elif isinstance(event, CredentialsDeleted):
        await cur.execute("UPDATE rm_credentials SET deleted_at = %s WHERE credentials_id = %s",
                          (env.occurred_at, env.stream_id))
