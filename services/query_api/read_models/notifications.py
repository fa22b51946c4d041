"""Notification queries over ``rm_notifications`` (only ever the caller's, newest first)."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from services.domain.notifications.shapes import notification_view


def _view(row: dict[str, Any]) -> dict[str, Any]:
    return notification_view(notification_id=str(row["notification_id"]), notification_type=row["type"],
                             data=row["data"], created_at=row["created_at"], read_at=row["read_at"],
                             email_status=row["email_status"], email_attempts=row["email_attempts"],
                             email_detail=row["email_detail"])


async def page(pool: AsyncConnectionPool, user_id: str, *, limit: int, offset: int,
               unread_only: bool) -> tuple[list[dict[str, Any]], int, int]:
    """``(notifications, total matching, unread in all)``."""
    unread = " AND read_at IS NULL" if unread_only else ""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT notification_id, type, data, created_at, read_at, email_status, email_attempts, email_detail "  # noqa: S608 - a fixed clause
            f"FROM rm_notifications WHERE user_id = %s{unread} "
            "ORDER BY created_at DESC, notification_id LIMIT %s OFFSET %s", (user_id, limit, offset))
        rows = await cur.fetchall()
        await cur.execute("SELECT count(*) AS total, count(*) FILTER (WHERE read_at IS NULL) AS unread "
                          "FROM rm_notifications WHERE user_id = %s", (user_id,))
        counts = await cur.fetchone()
    total = counts["unread"] if unread_only else counts["total"]
    return [_view(r) for r in rows], int(total), int(counts["unread"])
