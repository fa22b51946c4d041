"""Notification shapes as the REST API and the WebSocket answer them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from schemas.events.notifications import NotificationType


class NotificationView(BaseModel):
    """One notification: what happened (``type``, ``data``), when, whether it was read, and what
    became of its email (``pending``, ``sent`` or ``skipped``; ``email_detail`` says why it was
    skipped, or the last delivery error while it is retried)."""

    id: str
    type: NotificationType
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None
    is_read: bool
    email_status: Literal["pending", "sent", "skipped"]
    email_attempts: int
    email_detail: str | None


class NotificationPage(BaseModel):
    notifications: list[NotificationView]
    unread_count: int
    pagination: dict[str, int]


class NotificationPayload(BaseModel):
    """``data`` of the WebSocket ``notification`` message (AutoGPT's ``NotificationPayload``:
    ``type`` and ``event``, more fields allowed)."""

    type: NotificationType
    event: Literal["notification_created"]
    id: str
    created_at: datetime
    data: dict[str, Any]


def notification_view(*, notification_id: str, notification_type: str, data: dict[str, Any],
                      created_at: datetime | None, read_at: datetime | None, email_status: str,
                      email_attempts: int, email_detail: str | None) -> dict[str, Any]:
    return {"id": notification_id, "type": str(notification_type), "data": data,
            "created_at": created_at.isoformat() if created_at else None,
            "read_at": read_at.isoformat() if read_at else None, "is_read": read_at is not None,
            "email_status": email_status, "email_attempts": email_attempts, "email_detail": email_detail}
