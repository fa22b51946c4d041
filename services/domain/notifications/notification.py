"""The Notification aggregate: one notification, whether its owner read it and what became of its
email (pure: fold recorded events, decide new ones).

A notification is created once, at stream version 1, by whoever derived it first; the id is a
uuid5 of its type and source event (``ids.notification_id``), so a second attempt meets a taken
version. Its email goes through at most ``max_attempts`` deliveries and ends either sent or
skipped with a reason; both are final. Only the owner may mark it read; anyone else is told it
does not exist (no way to probe another user's notification ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events.base import Event
from schemas.events.notifications import (
    EmailDeliveryFailed,
    EmailSent,
    EmailSkipped,
    EmailSkipReason,
    NotificationRead,
    NotificationRecorded,
    NotificationType,
)
from services.domain.errors import NotFoundError

PENDING, SENT, SKIPPED = "pending", "sent", "skipped"
MAX_ERROR_CHARS = 500


@dataclass
class Notification:
    notification_id: str
    stream_version: int = 0
    user_id: str = ""
    notification_type: NotificationType | None = None
    data: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    read_at: datetime | None = None
    email_status: str = PENDING
    email_attempts: int = 0
    email_error: str | None = None
    skip_reason: EmailSkipReason | None = None
    message_id: str | None = None

    @classmethod
    def from_events(cls, notification_id: str, events) -> Notification:
        note = cls(notification_id)
        for event, at in events:
            note.apply(event, at)
        return note

    @property
    def exists(self) -> bool:
        return self.notification_type is not None

    @property
    def email_done(self) -> bool:
        return self.email_status != PENDING

    def apply(self, event: Event, at: datetime | None) -> None:
        self.stream_version += 1
        if isinstance(event, NotificationRecorded):
            self.user_id, self.notification_type, self.data = event.user_id, event.notification_type, event.data
            self.created_at = at
        elif isinstance(event, NotificationRead):
            self.read_at = at
        elif isinstance(event, EmailSent):
            self.email_status, self.message_id, self.email_attempts = SENT, event.message_id, event.attempt
        elif isinstance(event, EmailDeliveryFailed):
            self.email_attempts, self.email_error = event.attempt, event.error
        elif isinstance(event, EmailSkipped):
            self.email_status, self.skip_reason = SKIPPED, event.reason

    # -- decisions ----------------------------------------------------------------------------

    def mark_read(self, user_id: str) -> list[Event]:
        if not self.exists or self.user_id != user_id:
            raise NotFoundError(f"Notification #{self.notification_id} not found")
        return [] if self.read_at is not None else [NotificationRead()]

    def sent(self, message_id: str) -> list[Event]:
        return [] if self.email_done else [EmailSent(message_id=message_id, attempt=self.email_attempts + 1)]

    def skip(self, reason: EmailSkipReason) -> list[Event]:
        return [] if self.email_done else [EmailSkipped(reason=reason)]

    def delivery_failed(self, error: str, max_attempts: int) -> list[Event]:
        """One failed attempt; the last allowed one also ends the email as given up."""
        if self.email_done:
            return []
        attempt = self.email_attempts + 1
        error = (error or "delivery failed")[:MAX_ERROR_CHARS]
        events: list[Event] = [EmailDeliveryFailed(attempt=attempt, error=error)]
        if attempt >= max_attempts:
            events.append(EmailSkipped(reason=EmailSkipReason.GAVE_UP))
        return events
