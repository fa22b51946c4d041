"""Notification reads: the caller's notifications, newest first, paginated (read/unread)."""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from services.domain.notifications.shapes import NotificationPage
from services.infra.http import MAX_PAGE, CurrentUser, json_response
from services.infra.http_errors import refusals
from services.query_api.api.deps import ReadPool, fenced
from services.query_api.read_models import notifications as rm


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/notifications", tags=["notifications"], responses=refusals(401),
                       dependencies=[Depends(fenced("notifications"))])

    @router.get("", summary="The caller's notifications, newest first", response_model=NotificationPage)
    async def list_notifications(user: CurrentUser, pool: ReadPool,
                                 page: int = Query(1, ge=1, le=MAX_PAGE),
                                 page_size: int = Query(20, ge=1, le=100),
                                 unread_only: bool = Query(False)) -> Response:
        items, total, unread = await rm.page(pool, user.id, limit=page_size, offset=(page - 1) * page_size,
                                             unread_only=unread_only)
        return json_response({"notifications": items, "unread_count": unread, "pagination": {
            "total_items": total, "total_pages": max(1, math.ceil(total / page_size)),
            "current_page": page, "page_size": page_size}})

    return router
