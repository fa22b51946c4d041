"""Envelope parsing: the consumers' fast path gives the model's value, and a malformed message is refused;
the relay's text event id is the contract's uuid5."""

import uuid
from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError

from schemas.envelope import EVENT_ID_NAMESPACE, Envelope, event_id_for, event_id_text


def test_parsed_envelope_equals_the_validated_model():
    sid = uuid.uuid4()
    env = Envelope(event_id=event_id_for(sid, 3), type="ActiveVersionSet", class_version=1, stream_id=sid,
                   stream_version=3, position=42, occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                   user_id="u1", payload={"version": 2, "previous_version": 1})
    assert Envelope.from_bytes(orjson.dumps(env.model_dump(mode="json"))) == env


def test_malformed_envelope_is_refused():
    with pytest.raises(ValidationError):
        Envelope.from_bytes(b'{"type": "x"}')


def test_the_event_id_is_the_contracts_uuid5():
    for _ in range(500):
        sid = uuid.uuid4()
        for version in (1, 2, 99, 123_456_789):
            expected = uuid.uuid5(EVENT_ID_NAMESPACE, f"{sid}:{version}")
            assert event_id_text(str(sid), version) == str(expected)
            assert event_id_for(sid, version) == expected == event_id_for(str(sid), version)
    assert uuid.UUID(event_id_text(str(uuid.uuid4()), 1)).version == 5
