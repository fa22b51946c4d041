"""Events of the notifications context.

Two kinds of stream live here:

- **One notification** (id ``notification_id(type, source)``, a uuid5 of its type and the event that
  caused it). ``NotificationRecorded`` is always version 1, so recording the same notification
  twice, after a crash and a replayed Kafka batch, is refused by the store as a taken version:
  each notification exists exactly once. Later events say what happened to it: read, and what
  became of its email.
- **One user's mail for one UTC day** (id ``mail_day_id(user_id, day)``). Each ``EmailQuotaUsed`` is
  one email allowed under the user's daily cap; the cap holds under concurrency because the Nth
  use can only be appended at stream version N.

Email delivery is at least once: a crash between the SMTP server accepting a message and
``EmailSent`` being recorded sends it again on restart, with the same ``Message-ID`` (derived from
the notification id) so a mail client can tell the two apart.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from schemas.events.base import Event


class NotificationType(StrEnum):
    """AutoGPT's ``NotificationType`` names; they appear verbatim in the REST API, in the
    WebSocket ``notification`` message and as the keys of a user's notification preferences."""

    AGENT_RUN = "AGENT_RUN"
    ZERO_BALANCE = "ZERO_BALANCE"
    LOW_BALANCE = "LOW_BALANCE"
    BLOCK_EXECUTION_FAILED = "BLOCK_EXECUTION_FAILED"
    CONTINUOUS_AGENT_ERROR = "CONTINUOUS_AGENT_ERROR"
    DAILY_SUMMARY = "DAILY_SUMMARY"
    WEEKLY_SUMMARY = "WEEKLY_SUMMARY"
    MONTHLY_SUMMARY = "MONTHLY_SUMMARY"
    REFUND_REQUEST = "REFUND_REQUEST"
    REFUND_PROCESSED = "REFUND_PROCESSED"
    AGENT_APPROVED = "AGENT_APPROVED"
    AGENT_REJECTED = "AGENT_REJECTED"
    REVIEW_REQUESTED = "REVIEW_REQUESTED"  # agentloom's: a run waits for its owner's review


class EmailSkipReason(StrEnum):
    DISABLED = "disabled"            # the user's preferences turn this type's email off
    DAILY_LIMIT = "daily_limit"      # the user's daily cap was reached
    NO_ADDRESS = "no_address"        # no user record with an email address
    GAVE_UP = "gave_up"              # every delivery attempt failed


class NotificationEvent(Event):
    CONTEXT: ClassVar[str] = "notifications"


class NotificationRecorded(NotificationEvent):
    """A notification for ``user_id``; always stream version 1.

    ``data`` is the type's payload (AutoGPT's ``*Data`` models: an AGENT_RUN carries the agent's
    name, outputs, credits used, duration and node count). ``source_*`` name the event it was
    derived from: its context, stream and version."""

    TYPE: ClassVar[str] = "NotificationRecorded"
    user_id: str
    notification_type: NotificationType
    data: dict[str, Any] = Field(default_factory=dict)
    source_context: str
    source_stream_id: str
    source_version: int


class NotificationRead(NotificationEvent):
    """The owner marked the notification read (recorded once; marking it again changes nothing)."""

    TYPE: ClassVar[str] = "NotificationRead"


class EmailSent(NotificationEvent):
    """The SMTP server (or the local mailbox) accepted the notification's email."""

    TYPE: ClassVar[str] = "EmailSent"
    message_id: str
    attempt: int


class EmailSkipped(NotificationEvent):
    """No email is sent for this notification, and why (final)."""

    TYPE: ClassVar[str] = "EmailSkipped"
    reason: EmailSkipReason


class EmailDeliveryFailed(NotificationEvent):
    """One delivery attempt failed; another follows after a backoff unless it was the last."""

    TYPE: ClassVar[str] = "EmailDeliveryFailed"
    attempt: int
    error: str


class EmailQuotaUsed(NotificationEvent):
    """One email of the user's daily cap, for ``notification_id`` (mail-day stream)."""

    TYPE: ClassVar[str] = "EmailQuotaUsed"
    user_id: str
    day: str  # YYYY-MM-DD, UTC
    notification_id: str
