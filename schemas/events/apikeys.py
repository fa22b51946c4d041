"""Events of the apikeys context (stream = one API key, id ``uuid5(namespace, lookup_id)``).

The stream id is derived from the plain key (via its lookup id), so the external API can
load the key it is presented with straight from the store, without any index or read model. The
plain key itself is never recorded: only its display head/tail, the lookup id and a keyed hash
(HMAC-SHA256 with a server secret), which cannot be brute-forced from the topic without the secret.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from schemas.events.base import Event


class ApiKeyPermission(StrEnum):
    """AutoGPT's ``APIKeyPermission`` names; they appear verbatim in the REST API."""

    IDENTITY = "IDENTITY"
    EXECUTE_GRAPH = "EXECUTE_GRAPH"
    READ_GRAPH = "READ_GRAPH"
    WRITE_GRAPH = "WRITE_GRAPH"
    EXECUTE_BLOCK = "EXECUTE_BLOCK"
    READ_BLOCK = "READ_BLOCK"
    READ_STORE = "READ_STORE"
    WRITE_LIBRARY = "WRITE_LIBRARY"
    USE_TOOLS = "USE_TOOLS"
    MANAGE_INTEGRATIONS = "MANAGE_INTEGRATIONS"
    READ_INTEGRATIONS = "READ_INTEGRATIONS"
    DELETE_INTEGRATIONS = "DELETE_INTEGRATIONS"
    # AutoGPT's newer external-API scopes (its v2 routes), for the library, schedule and run routes
    READ_LIBRARY = "READ_LIBRARY"
    READ_SCHEDULE = "READ_SCHEDULE"
    WRITE_SCHEDULE = "WRITE_SCHEDULE"
    READ_RUN = "READ_RUN"
    WRITE_RUN = "WRITE_RUN"
    READ_CREDITS = "READ_CREDITS"


class ApiKeyEvent(Event):
    CONTEXT: ClassVar[str] = "apikeys"


class ApiKeyCreated(ApiKeyEvent):
    """A new API key, ACTIVE from the start; always stream version 1. Its creation time is the
    event's ``occurred_at``."""

    TYPE: ClassVar[str] = "ApiKeyCreated"
    user_id: str
    user_email: str | None = None
    name: str
    description: str | None = None
    permissions: list[ApiKeyPermission]
    head: str
    tail: str
    lookup_id: str
    key_hash: str


class ApiKeyRevoked(ApiKeyEvent):
    """The owner revoked the key: it never authenticates again (terminal)."""

    TYPE: ClassVar[str] = "ApiKeyRevoked"


class ApiKeySuspended(ApiKeyEvent):
    """The owner suspended the key: it no longer authenticates; it can still be revoked."""

    TYPE: ClassVar[str] = "ApiKeySuspended"


class ApiKeyPermissionsChanged(ApiKeyEvent):
    """The owner replaced the key's permissions (the whole set, not a delta)."""

    TYPE: ClassVar[str] = "ApiKeyPermissionsChanged"
    permissions: list[ApiKeyPermission]
