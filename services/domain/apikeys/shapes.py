"""AutoGPT's ``APIKeyInfo``: what every API key endpoint answers with, on either side (built by the
command side's ``key_info`` and the query side's read model; never the key itself nor its hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from schemas.events.apikeys import ApiKeyPermission


def with_scopes(permissions: list[str]) -> dict[str, Any]:
    """The fields AutoGPT's current ``APIKeyInfo`` adds, for both APIs' key views."""
    return {"scopes": list(permissions), "expires_at": None}


class APIKeyInfo(BaseModel):
    id: str
    name: str
    head: str
    tail: str
    status: Literal["ACTIVE", "SUSPENDED", "REVOKED"]
    permissions: list[ApiKeyPermission]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    description: str | None
    user_id: str
    type: Literal["api_key"]
    scopes: list[ApiKeyPermission]  # AutoGPT's newer name for the permissions (the same list)
    expires_at: datetime | None  # agentloom keys do not expire (always null)
