"""Folds notification events into ``rm_notifications`` (what ``GET /api/notifications`` lists).

Mail-day events (``EmailQuotaUsed``) are the mailer's bookkeeping and have no read model. Every
write comes from the event alone, timestamps included, so a rebuild gives identical rows.
"""

from __future__ import annotations

from psycopg import AsyncCursor
from psycopg.types.json import Jsonb

from schemas.envelope import Envelope
from schemas.events.notifications import (
    EmailDeliveryFailed,
    EmailSent,
    EmailSkipped,
    NotificationRead,
    NotificationRecorded,
)

TABLES = ("rm_notifications",)


async def apply(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, NotificationRecorded):
        await cur.execute(
            "INSERT INTO rm_notifications (notification_id, user_id, type, data, created_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (notification_id) DO NOTHING",
            (env.stream_id, event.user_id, event.notification_type.value, Jsonb(event.data), env.occurred_at))
    elif isinstance(event, NotificationRead):
        await cur.execute("UPDATE rm_notifications SET read_at = %s WHERE notification_id = %s",
                          (env.occurred_at, env.stream_id))
    elif isinstance(event, EmailSent):
        await cur.execute("UPDATE rm_notifications SET email_status = 'sent', email_attempts = %s, "
                          "email_detail = NULL WHERE notification_id = %s", (event.attempt, env.stream_id))
    elif isinstance(event, EmailDeliveryFailed):
        await cur.execute("UPDATE rm_notifications SET email_attempts = %s, email_detail = %s "
                          "WHERE notification_id = %s", (event.attempt, event.error, env.stream_id))
    elif isinstance(event, EmailSkipped):
        await cur.execute("UPDATE rm_notifications SET email_status = 'skipped', email_detail = %s "
                          "WHERE notification_id = %s", (event.reason.value, env.stream_id))
