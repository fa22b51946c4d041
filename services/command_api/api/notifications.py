"""Notification commands: mark one read (only the owner's; anyone else gets 404)."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter
from fastapi.responses import Response

from services.command_api.api.deps import CurrentUser, Notifications
from services.domain.notifications.shapes import NotificationView
from services.infra.http import UuidPath, json_response, parse_uuid
from services.infra.http_errors import refusals


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/notifications", tags=["notifications"], responses=refusals(401))

    @router.post("/{notification_id}/read", summary="Mark a notification read (repeating it changes nothing)",
                 response_model=NotificationView, responses=refusals(400, 404, 409))
    async def mark_read(notification_id: UuidPath, user: CurrentUser, notifications: Notifications) -> Response:
        note_id = uuid.UUID(parse_uuid(notification_id, "notification_id"))
        return json_response(await asyncio.to_thread(notifications.mark_read, user, note_id))

    return router
