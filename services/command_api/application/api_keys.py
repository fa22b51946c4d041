"""API key commands (create, revoke, suspend, change permissions) and key authentication.

Each command loads the ApiKey aggregate from its stream, lets the pure rules decide and appends
the result; a concurrent writer makes the append fail and the command decides again on fresh
state. Authentication reads the key's stream from the store, not a read model, so a revocation
takes effect on the very next request, on every instance.

Last use is operational data, not history: ``KeyUsage`` writes it to ``api_key_usage`` at most once
a minute per key (an in-process throttle plus a conditional upsert shared by all instances).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from schemas.events.base import Event
from services.domain.apikeys import material
from services.domain.apikeys.api_key import ApiKey
from services.domain.apikeys.shapes import with_scopes
from services.infra.appending import decide_and_append
from services.infra.auth import AuthError, User
from services.infra.eventstore import EventStore
from services.infra.store_contract import NewEvent

USAGE_INTERVAL_S = 60.0


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def key_info(key: ApiKey, last_used_at: datetime | None = None) -> dict[str, Any]:
    """AutoGPT's ``APIKeyInfo`` (never the plain key nor its hash)."""
    permissions = [p.value for p in key.permissions]
    return {"id": key.key_id, "name": key.name, "head": key.head, "tail": key.tail, "status": key.status,
            "permissions": permissions, "created_at": _iso(key.created_at),
            "last_used_at": _iso(last_used_at), "revoked_at": _iso(key.revoked_at),
            "description": key.description, "user_id": key.user_id, "type": "api_key",
            **with_scopes(permissions)}


class ApiKeyCommands:
    def __init__(self, store: EventStore, secret: str) -> None:
        self.store = store
        self._secret = secret

    def load(self, key_id: str) -> ApiKey:
        events = self.store.read_stream(uuid.UUID(key_id))
        return ApiKey.from_events(key_id, [(e.decode(), e.occurred_at) for e in events])

    def _record(self, key: ApiKey, events: list[Event], user_id: str) -> ApiKey:
        """Append the events, then fold them into ``key`` (loaded per command, never shared)."""
        new = [NewEvent(uuid.UUID(key.key_id), key.stream_version + i + 1, event, user_id=user_id)
               for i, event in enumerate(events)]
        self.store.append(new)
        for item in new:
            key.apply(item.event, item.occurred_at)
        return key

    def _retrying(self, key_id: str, decide: Callable[[ApiKey], list[Event]], user_id: str) -> ApiKey:
        def record(key: ApiKey) -> ApiKey:
            events = decide(key)
            return self._record(key, events, user_id) if events else key

        return decide_and_append(lambda: self.load(key_id), record)

    # -- commands -----------------------------------------------------------------------------

    def create(self, user: User, name: str, permissions: list[str], description: str | None) -> tuple[ApiKey, str]:
        """The new key and its plain text (returned to the caller once, recorded nowhere). A conflict
        here is a lookup id collision (2^-96): the retry draws another key."""
        def record(keys: material.KeyMaterial) -> tuple[ApiKey, str]:
            key_id = str(material.stream_id_for(keys.lookup_id))
            events = ApiKey.create(user_id=user.id, user_email=user.email, name=name, description=description,
                                   permissions=permissions, head=keys.head, tail=keys.tail,
                                   lookup_id=keys.lookup_id, key_hash=keys.key_hash)
            return self._record(ApiKey(key_id), events, user.id), keys.plain

        return decide_and_append(lambda: material.generate(self._secret), record)

    def revoke(self, user: User, key_id: str) -> ApiKey:
        return self._retrying(key_id, lambda key: key.revoke(user.id), user.id)

    def suspend(self, user: User, key_id: str) -> ApiKey:
        return self._retrying(key_id, lambda key: key.suspend(user.id), user.id)

    def set_permissions(self, user: User, key_id: str, permissions: list[str]) -> ApiKey:
        return self._retrying(key_id, lambda key: key.change_permissions(user.id, permissions), user.id)

    # -- authentication -----------------------------------------------------------------------

    def authenticate(self, presented: str | None) -> ApiKey:
        """The ACTIVE key the caller presented (``AuthError`` -> 401 otherwise)."""
        if not presented:
            raise AuthError("X-API-Key header is missing")
        lookup_id = material.lookup_id_of(presented)
        if lookup_id is None:
            raise AuthError("Invalid API key")
        key = self.load(str(material.stream_id_for(lookup_id)))
        if not key.exists or not material.matches(self._secret, presented, key.key_hash):
            raise AuthError("Invalid API key")
        if not key.usable:
            raise AuthError(f"API key is {key.status.lower()}")
        return key


class KeyUsage:
    """Records when keys were last used (``api_key_usage``), at most once a minute per key."""

    def __init__(self, pool) -> None:
        self.pool = pool
        self._recent: dict[str, float] = {}

    async def touch(self, key_id: str) -> None:
        now = time.monotonic()
        if now - self._recent.get(key_id, -USAGE_INTERVAL_S) < USAGE_INTERVAL_S:
            return
        self._recent[key_id] = now
        if len(self._recent) > 10_000:
            self._recent = {k: t for k, t in self._recent.items() if now - t < USAGE_INTERVAL_S}
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO api_key_usage (key_id, last_used_at) VALUES (%s, now()) ON CONFLICT (key_id) DO UPDATE "
                "SET last_used_at = EXCLUDED.last_used_at "
                "WHERE api_key_usage.last_used_at < EXCLUDED.last_used_at - interval '1 minute'", (key_id,))

    async def last_used(self, key_id: str) -> datetime | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute("SELECT last_used_at FROM api_key_usage WHERE key_id = %s",
                                            (key_id,))).fetchone()
        return row[0] if row else None

