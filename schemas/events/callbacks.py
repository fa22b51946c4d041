"""Events of the callbacks context: completion webhooks, outbound HTTP calls an API key owner
registers to hear when their runs end.

(Not the trigger webhooks of the integrations context: those are inbound, a sender starting runs.)

Two kinds of stream:

- one user's callbacks (``uuid5`` of the user id): every registration, change and deletion of
  that user's callbacks, so the per-user cap and the listing are decided on one stream at one
  version, and the notifier finds a run owner's callbacks with one read;
- one delivery: a callback told about one terminal execution event, its id ``uuid5`` of the
  callback and the source event, so re-consuming that event schedules nothing twice. Each attempt
  is claimed (``CallbackDeliveryAttemptStarted``, at the stream's expected version: one claimant
  per attempt) before the request is sent, and its outcome recorded after.

The signing secret is recorded only as keyring ciphertext (AES-256-GCM, bound to the callback id
and owner): events are published to Kafka.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from schemas.events.base import Event


class CallbackEvent(Event):
    CONTEXT: ClassVar[str] = "callbacks"


class CallbackRegistered(CallbackEvent):
    """A new callback on the owner's stream. ``events`` is a non-empty subset of
    ``execution.completed|failed|terminated``; ``graph_id`` (optional) narrows it to one graph."""

    TYPE: ClassVar[str] = "CallbackRegistered"
    callback_id: str
    user_id: str
    url: str
    events: list[str]
    graph_id: str | None = None
    description: str = ""
    secret_ciphertext: str


class CallbackUpdated(CallbackEvent):
    """The changed fields only (``None``: unchanged); ``clear_graph_id`` removes the graph filter."""

    TYPE: ClassVar[str] = "CallbackUpdated"
    callback_id: str
    url: str | None = None
    events: list[str] | None = None
    graph_id: str | None = None
    clear_graph_id: bool = False
    description: str | None = None
    enabled: bool | None = None


class CallbackDeleted(CallbackEvent):
    """The callback is gone; deliveries still pending for it are abandoned at their next attempt."""

    TYPE: ClassVar[str] = "CallbackDeleted"
    callback_id: str


class CallbackDeliveryScheduled(CallbackEvent):
    """Version 1 of a delivery stream: what will be sent (the body is built from these fields
    alone, so every attempt sends the same bytes) and to which callback."""

    TYPE: ClassVar[str] = "CallbackDeliveryScheduled"
    callback_id: str
    user_id: str
    event: str  # execution.completed | execution.failed | execution.terminated
    source_event_id: str  # the terminal execution event's envelope id
    execution_id: str
    graph_id: str
    graph_version: int
    status: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None
    url: str  # the callback's URL when scheduled (an attempt uses its current one)


class CallbackDeliveryAttemptStarted(CallbackEvent):
    """An attempt claimed by one notifier before it sends; nobody else attempts before
    ``lease_until`` (a notifier killed mid-request leaves the delivery to be attempted again
    after it, with the same delivery id)."""

    TYPE: ClassVar[str] = "CallbackDeliveryAttemptStarted"
    attempt: int
    lease_until: datetime


class CallbackDeliveryAttempted(CallbackEvent):
    """An attempt that failed: the receiver's status (not 2xx), or ``error`` (refused destination,
    timeout, connection). ``next_attempt_at`` is when the next one is due."""

    TYPE: ClassVar[str] = "CallbackDeliveryAttempted"
    attempt: int
    status_code: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None  # None: no attempt follows (abandoned with it)


class CallbackDeliverySucceeded(CallbackEvent):
    """The receiver answered 2xx (terminal)."""

    TYPE: ClassVar[str] = "CallbackDeliverySucceeded"
    attempt: int
    status_code: int


class CallbackDeliveryAbandoned(CallbackEvent):
    """No more attempts (terminal): ``reason`` ``expired`` (past the retry window),
    ``callback_deleted`` or ``callback_disabled``."""

    TYPE: ClassVar[str] = "CallbackDeliveryAbandoned"
    attempts: int
    reason: str
