"""Stream ids of the notifications context, derived so that recording is idempotent (pure).

A notification's id is a uuid5 of its type and the event it came from, so whichever consumer, and
however many times a batch is replayed, derives the same id and the store refuses the second
``NotificationRecorded`` as a taken version. A mail-day stream id is a uuid5 of the user and the
UTC day, so every process counting one user's emails of one day appends to the same stream.
"""

from __future__ import annotations

import uuid

# Fixed forever: changing either orphans every recorded stream.
NOTIFICATION_NAMESPACE = uuid.UUID("3f0b8a52-7c1e-4d6a-9b25-e41c0f7d2a93")
MAIL_DAY_NAMESPACE = uuid.UUID("b7d24e19-0a6c-4f35-8e1b-5c9a2d7f0e64")


def notification_id(notification_type: str, source_context: str, source_stream_id: str,
                    source_version: int) -> uuid.UUID:
    return uuid.uuid5(NOTIFICATION_NAMESPACE,
                      f"{notification_type}|{source_context}|{source_stream_id}|{source_version}")


def mail_day_id(user_id: str, day: str) -> uuid.UUID:
    """``day`` is ``YYYY-MM-DD`` (UTC)."""
    return uuid.uuid5(MAIL_DAY_NAMESPACE, f"{user_id}|{day}")
