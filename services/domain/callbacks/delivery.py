"""The Delivery aggregate (pure): one callback told about one run's end, attempt by attempt.

An attempt is two appends at the stream's expected version: the claim
(``CallbackDeliveryAttemptStarted``, with a lease) before the request, the outcome after. So of any
number of notifiers exactly one sends each attempt, and a notifier killed mid-request leaves a
claim whose lease runs out: the next attempt is made then, under the same delivery id. Delivery is
at least once (a kill after the receiver's 2xx, before ``Succeeded`` is recorded, sends again).

The retry policy: the waits after each failure follow ``delays`` (the last one repeating); no
attempt starts, and no failure is followed by another, past ``window`` after scheduling (24 h by
default): the delivery is abandoned then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.events.base import Event
from schemas.events.callbacks import (
    CallbackDeliveryAbandoned,
    CallbackDeliveryAttempted,
    CallbackDeliveryAttemptStarted,
    CallbackDeliveryScheduled,
    CallbackDeliverySucceeded,
)

PENDING, SUCCEEDED, ABANDONED = "pending", "succeeded", "abandoned"
MAX_ERROR = 500


@dataclass(frozen=True)
class RetryPolicy:
    delays: tuple[float, ...] = (10, 30, 120, 600, 1800, 3600)
    window: timedelta = timedelta(hours=24)
    lease: timedelta = timedelta(seconds=30)  # an attempt's claim: longer than its request may take

    def delay_after(self, attempt: int) -> timedelta:
        return timedelta(seconds=self.delays[min(attempt, len(self.delays)) - 1])


@dataclass
class Delivery:
    delivery_id: str
    scheduled: CallbackDeliveryScheduled | None = None
    scheduled_at: datetime | None = None
    status: str = PENDING
    attempts: int = 0  # attempts started
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    updated_at: datetime | None = None
    stream_version: int = 0

    @classmethod
    def from_events(cls, delivery_id: str, events: list[tuple[Event, datetime]]) -> Delivery:
        state = cls(delivery_id)
        for event, at in events:
            state.apply(event, at)
        return state

    def apply(self, event: Event, at: datetime) -> None:
        self.stream_version += 1
        self.updated_at = at
        if isinstance(event, CallbackDeliveryScheduled):
            self.scheduled, self.scheduled_at, self.next_attempt_at = event, at, at
        elif isinstance(event, CallbackDeliveryAttemptStarted):
            self.attempts = event.attempt
            self.next_attempt_at = event.lease_until
        elif isinstance(event, CallbackDeliveryAttempted):
            self.last_status_code, self.last_error = event.status_code, event.error
            self.next_attempt_at = event.next_attempt_at
        elif isinstance(event, CallbackDeliverySucceeded):
            self.status, self.last_status_code, self.last_error = SUCCEEDED, event.status_code, None
            self.delivered_at, self.next_attempt_at = at, None
        elif isinstance(event, CallbackDeliveryAbandoned):
            self.status, self.next_attempt_at = ABANDONED, None

    @property
    def exists(self) -> bool:
        return self.scheduled is not None

    @property
    def done(self) -> bool:
        return self.status != PENDING

    def due(self, now: datetime) -> bool:
        return self.exists and not self.done and self.next_attempt_at is not None and self.next_attempt_at <= now

    # -- decisions ------------------------------------------------------------------------------

    def start_attempt(self, now: datetime, policy: RetryPolicy, *, callback_gone: str | None = None) -> list[Event]:
        """The claim of the next attempt, or its end: nothing when it is not due (another
        notifier holds a lease, or it is done); abandoned past the window or when the callback is
        deleted or disabled (``callback_gone`` says which)."""
        if not self.due(now):
            return []
        if callback_gone is not None:
            return [CallbackDeliveryAbandoned(attempts=self.attempts, reason=callback_gone)]
        assert self.scheduled_at is not None
        if now > self.scheduled_at + policy.window:
            return [CallbackDeliveryAbandoned(attempts=self.attempts, reason="expired")]
        return [CallbackDeliveryAttemptStarted(attempt=self.attempts + 1, lease_until=now + policy.lease)]

    def outcome(self, attempt: int, now: datetime, policy: RetryPolicy, *, status_code: int | None = None,
                error: str | None = None) -> list[Event]:
        """What attempt ``attempt`` (the one this notifier claimed) ended with."""
        if self.done or attempt != self.attempts:
            return []  # its lease ran out and a later attempt took over
        if status_code is not None and 200 <= status_code < 300:
            return [CallbackDeliverySucceeded(attempt=attempt, status_code=status_code)]
        assert self.scheduled_at is not None
        next_at = now + policy.delay_after(attempt)
        error = error[:MAX_ERROR] if error else None
        if next_at > self.scheduled_at + policy.window:
            return [CallbackDeliveryAttempted(attempt=attempt, status_code=status_code, error=error),
                    CallbackDeliveryAbandoned(attempts=attempt, reason="expired")]
        return [CallbackDeliveryAttempted(attempt=attempt, status_code=status_code, error=error,
                                          next_attempt_at=next_at)]
