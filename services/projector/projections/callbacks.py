"""Folds delivery events into ``rm_callback_deliveries``: the list a webhook's owner reads and the
``next_attempt_at`` index the notifier polls for due attempts. The values come from the events
alone (the row restates the Delivery aggregate's fold), so a rebuild gives identical rows. The
callbacks themselves are not projected: they are folded from their owner's stream.
"""

from __future__ import annotations

from psycopg import AsyncCursor

from schemas.envelope import Envelope
from schemas.events.callbacks import (
    CallbackDeliveryAbandoned,
    CallbackDeliveryAttempted,
    CallbackDeliveryAttemptStarted,
    CallbackDeliveryScheduled,
    CallbackDeliverySucceeded,
)

TABLES = ("rm_callback_deliveries",)


async def apply(cur: AsyncCursor, env: Envelope, event) -> None:
    at, stream = env.occurred_at, env.stream_id
    if isinstance(event, CallbackDeliveryScheduled):
        await cur.execute(
            "INSERT INTO rm_callback_deliveries (delivery_id, callback_id, user_id, event, execution_id, graph_id, "
            "status, next_attempt_at, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, 'pending', %s, %s, %s) "
            "ON CONFLICT (delivery_id) DO NOTHING",
            (stream, event.callback_id, event.user_id, event.event, event.execution_id, event.graph_id, at, at, at))
    elif isinstance(event, CallbackDeliveryAttemptStarted):
        await cur.execute("UPDATE rm_callback_deliveries SET attempts = %s, next_attempt_at = %s, updated_at = %s "
                          "WHERE delivery_id = %s", (event.attempt, event.lease_until, at, stream))
    elif isinstance(event, CallbackDeliveryAttempted):
        await cur.execute("UPDATE rm_callback_deliveries SET last_status_code = %s, last_error = %s, "
                          "next_attempt_at = %s, updated_at = %s WHERE delivery_id = %s",
                          (event.status_code, event.error, event.next_attempt_at, at, stream))
    elif isinstance(event, CallbackDeliverySucceeded):
        await cur.execute("UPDATE rm_callback_deliveries SET status = 'succeeded', last_status_code = %s, "
                          "last_error = NULL, next_attempt_at = NULL, delivered_at = %s, updated_at = %s "
                          "WHERE delivery_id = %s", (event.status_code, at, at, stream))
    elif isinstance(event, CallbackDeliveryAbandoned):
        await cur.execute("UPDATE rm_callback_deliveries SET status = 'abandoned', abandoned_reason = %s, "
                          "next_attempt_at = NULL, updated_at = %s WHERE delivery_id = %s",
                          (event.reason, at, stream))
