"""What every event store shares: the new-event value, the two refusals, the size rule, the
table names. ``EventStore`` (PostgreSQL, the only eventsourcing user) and ``MemoryEventStore`` (the
handlers' story tests) both implement this contract, and code that only builds events or handles
a refusal (the retry loop, group commit, the command handlers) imports it without loading
eventsourcing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.events import Event
from services.domain.errors import ConflictError, PayloadTooLarge
from services.infra.event_codec import encode_state
from services.infra.settings import Settings


class ConcurrencyConflict(ConflictError):
    """Another writer recorded a version of the stream first; reload and retry. A client that meets
    one is only told to retry: the message, which names the stream, stays on this side."""

    def __init__(self, message: str) -> None:
        super().__init__(message, detail="Concurrent modification; please retry")


class EventTooLarge(PayloadTooLarge, ValueError):
    """An event whose stored state is over ``max_event_bytes``: refused before anything is written.

    The one size check every event passes (command API, executor, ledger alike), so nothing the
    relay publishes can exceed the broker's message limit (audit F2: one 17 MB event wedged the
    relay for every user). A ``ValueError``, so the group appenders retry a shared batch item by
    item and only the command at fault sees it."""

    def __init__(self, event_type: str, size: int, limit: int) -> None:
        super().__init__(f"{event_type} event of {size} bytes exceeds the limit of {limit} bytes")
        self.event_type, self.size, self.limit = event_type, size, limit


DEFAULT_MAX_EVENT_BYTES = Settings.model_fields["max_event_bytes"].default


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewEvent:
    stream_id: uuid.UUID
    stream_version: int
    event: Event
    user_id: str | None = None
    occurred_at: datetime = field(default_factory=utcnow)


def table_name(context: str) -> str:
    """A context's log table (also the channel the store NOTIFYs on every commit)."""
    if not context.isidentifier():
        raise ValueError(f"not a context name: {context!r}")
    return f"{context}_events"


def encoded_states(events: Sequence[NewEvent], max_event_bytes: int) -> list[bytes]:
    """Each event's stored state, in order; ``EventTooLarge`` (before anything is written) if one
    is over the limit."""
    states = [encode_state(e.event, occurred_at=e.occurred_at, user_id=e.user_id) for e in events]
    for event, state in zip(events, states):
        if len(state) > max_event_bytes:
            raise EventTooLarge(event.event.TYPE, len(state), max_event_bytes)
    return states
