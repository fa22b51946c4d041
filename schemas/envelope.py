"""The Kafka envelope: one recorded event as it travels on a topic.

``event_id`` is derived from ``(stream_id, stream_version)`` so a redelivered or re-published
event carries the same id; consumers deduplicate on ``(stream_id, stream_version)``.

Envelopes are made from stored events in one place, ``services.infra.event_codec`` (the relay
splices the stored state into the envelope's bytes there); this module is the contract and the
consumers' parser.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

EVENT_ID_NAMESPACE = uuid.UUID("6f1c1d38-55a4-4c43-9d8e-5d2f7a0f6b11")
_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


def event_id_for(stream_id: uuid.UUID | str, stream_version: int) -> uuid.UUID:
    return uuid.UUID(event_id_text(str(stream_id), stream_version))


def event_id_text(stream_id: str, stream_version: int) -> str:
    """The event id, ``uuid5(EVENT_ID_NAMESPACE, f"{stream_id}:{stream_version}")``, as text, built
    from the SHA-1 digest without ``UUID`` objects: the relay makes one per published event, and the
    objects were most of its cost. ``event_id_for`` is this, parsed."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{stream_id}:{stream_version}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    hexed = digest.hex()
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: uuid.UUID
    type: str
    class_version: int
    stream_id: uuid.UUID
    stream_version: int
    position: int
    occurred_at: datetime
    user_id: str | None = None
    payload: dict[str, Any]

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        """Parse a message from our own topics (fast path without validation; anything that does
        not have the envelope's shape is validated and refused with a ValidationError)."""
        data = orjson.loads(raw)
        try:
            return cls.model_construct(
                event_id=uuid.UUID(data["event_id"]), type=data["type"], class_version=int(data["class_version"]),
                stream_id=uuid.UUID(data["stream_id"]), stream_version=int(data["stream_version"]),
                position=int(data["position"]), occurred_at=datetime.fromisoformat(data["occurred_at"]),
                user_id=data.get("user_id"), payload=data["payload"])
        except (KeyError, TypeError, ValueError, AttributeError):
            return cls.model_validate(data)

