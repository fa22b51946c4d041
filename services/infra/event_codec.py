"""The stored-event codec: the one place that knows how an event's state is written to the store.

Every reader of the ``<context>_events`` tables (the sync ``EventStore``, the projector, the
rebuild, the relay, the query API's history and WebSocket hub) turns rows into values here, and
the store encodes here, so the state format is defined once. Pure (no I/O, no eventsourcing): the
query API uses it and must never reach the store's library.

A row's state is orjson: ``{"class_version", "occurred_at", "user_id", "payload"}``, stored under
the event's permanent type name, so stored events never depend on Python class paths. The key
order is part of the format: ``occurred_at`` comes second so a reader can find it in the state's
first bytes without parsing a huge payload (``event_log.seconds_since_first_after``), and the
relay splices the state into an envelope without re-encoding it (``envelope_bytes``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from schemas.envelope import Envelope, event_id_for, event_id_text
from schemas.events import Event, decode_payload


class StoredRow(NamedTuple):
    """One row of a ``<context>_events`` table, undecoded (``position`` is None when the read did
    not select it). A plain tuple too, in the order the relay and its dead letters use."""

    position: int | None
    stream_id: uuid.UUID
    stream_version: int
    type: str
    state: bytes


@dataclass(frozen=True)
class RecordedEvent:
    """A stored event with its state decoded (the payload still a dict, as recorded)."""

    stream_id: uuid.UUID
    stream_version: int
    position: int | None
    type: str
    class_version: int
    occurred_at: datetime
    user_id: str | None
    payload: dict[str, Any]

    def decode(self) -> Event:
        """The payload as today's event class (upcast from the recorded class version)."""
        return decode_payload(self.type, self.class_version, self.payload)

    def envelope(self) -> Envelope:
        """The event as it travels on its topic (position 0 when the read did not select it)."""
        return Envelope.model_construct(
            event_id=event_id_for(self.stream_id, self.stream_version), type=self.type,
            class_version=self.class_version, stream_id=self.stream_id, stream_version=self.stream_version,
            position=self.position or 0, occurred_at=self.occurred_at, user_id=self.user_id, payload=self.payload)


def encode_state(event: Event, *, occurred_at: datetime, user_id: str | None) -> bytes:
    """The state the store records for ``event`` (key order matters: see the module docstring)."""
    return orjson.dumps({
        "class_version": event.CLASS_VERSION,
        "occurred_at": occurred_at,
        "user_id": user_id,
        "payload": event.model_dump(mode="json"),
    })


def decode_row(row: StoredRow) -> RecordedEvent:
    state = orjson.loads(row.state)
    return RecordedEvent(
        stream_id=row.stream_id, stream_version=int(row.stream_version), position=row.position, type=row.type,
        class_version=int(state["class_version"]), occurred_at=datetime.fromisoformat(state["occurred_at"]),
        user_id=state.get("user_id"), payload=state["payload"])


def envelope_bytes(row: StoredRow, stream_id: str | None = None) -> bytes:
    """The envelope of a stored event, spliced from its stored state without re-encoding.

    The envelope is the state object with the identity fields in front. The relay publishes
    thousands of events per second, so this avoids decoding and re-encoding every payload.
    ``stream_id``: the row's stream id as text, when the caller has made it already."""
    stream_id, version = stream_id or str(row.stream_id), row.stream_version
    head = (b'{"event_id":"' + event_id_text(stream_id, version).encode() + b'","type":'
            + orjson.dumps(row.type) + b',"stream_id":"' + stream_id.encode() + b'","stream_version":'
            + str(version).encode() + b',"position":' + str(row.position).encode() + b",")
    body = bytes(row.state).lstrip()
    if not body.startswith(b"{") or body.startswith(b"{}"):
        raise ValueError("stored state is not a JSON object")
    return head + body[1:]
