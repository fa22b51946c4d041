"""REST shapes of trigger webhooks: the webhook as setup-trigger answers it (AutoGPT's ``Webhook``
plus the ingress URL and, once, the secret) and the ingress answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class WebhookView(BaseModel):
    """``secret`` is given only in the setup-trigger answer: it is recorded as a digest, never again
    readable. The sender puts it in the ``secret_header`` header of every delivery to ``url``."""

    id: str
    user_id: str
    provider: str
    webhook_type: str
    resource: str
    events: list[str]
    config: dict[str, Any]
    provider_webhook_id: str
    url: str
    secret: str | None
    secret_header: str
    is_active: bool
    created_at: datetime | None


class WebhookIngressAnswer(BaseModel):
    """A delivery's answer, the same for each repeat of it: the runs it queued (one per preset)."""

    webhook_id: str
    delivery_id: str
    execution_ids: list[str]


def ingress_path(provider: str, webhook_id: str) -> str:
    return f"/api/integrations/{provider}/webhooks/{webhook_id}/ingress"


def webhook_view(*, webhook_id: str, user_id: str, provider: str, base_url: str, secret: str | None,
                 secret_header: str, is_active: bool, created_at: datetime | None) -> dict[str, Any]:
    return {"id": webhook_id, "user_id": user_id, "provider": provider, "webhook_type": "plain", "resource": "",
            "events": [], "config": {}, "provider_webhook_id": "",
            "url": base_url.rstrip("/") + ingress_path(provider, webhook_id), "secret": secret,
            "secret_header": secret_header, "is_active": is_active,
            "created_at": created_at.isoformat() if created_at else None}
