"""The REST shapes of completion webhooks (``/external-api/v1/webhooks``). The secret appears
only in the answer to its creation (``CreatedWebhook``), like an API key's plain text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.domain.callbacks.callbacks import Callback
from services.domain.paging import Pagination


class WebhookInfo(BaseModel):
    id: str
    url: str
    events: list[str]
    graph_id: str | None
    description: str
    enabled: bool
    created_at: datetime | None
    updated_at: datetime | None


class CreatedWebhook(WebhookInfo):
    secret: str


class WebhookDelivery(BaseModel):
    id: str
    webhook_id: str
    event: str
    execution_id: str
    graph_id: str
    status: str  # pending | succeeded | abandoned
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    abandoned_reason: str | None
    created_at: datetime
    updated_at: datetime


class WebhookDeliveries(BaseModel):
    deliveries: list[WebhookDelivery]
    pagination: Pagination


def webhook_view(callback: Callback) -> dict[str, Any]:
    return {"id": callback.callback_id, "url": callback.url, "events": list(callback.events),
            "graph_id": callback.graph_id, "description": callback.description, "enabled": callback.enabled,
            "created_at": callback.created_at.isoformat() if callback.created_at else None,
            "updated_at": callback.updated_at.isoformat() if callback.updated_at else None}
