"""AutoGPT's ``APIKeyInfo``: what every API key endpoint answers with, on either side (built by the
command side's ``key_info`` and the query side's read model; never the key itself nor its hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from schemas.events.apikeys import ApiKeyPermission


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
