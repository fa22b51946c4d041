"""Envelope encoding: the relay's spliced bytes decode to the same envelope the model describes."""

import uuid
from datetime import datetime, timezone

from schemas.envelope import Envelope, envelope_bytes, event_id_for
from schemas.events.graphs import ActiveVersionSet
from services.infra.eventstore import NewEvent


def test_spliced_envelope_round_trips():
    sid = uuid.uuid4()
    new = NewEvent(sid, 3, ActiveVersionSet(version=2, previous_version=1), user_id="u1",
                   occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    stored = new.to_stored()
    raw = envelope_bytes(sid, 3, 42, stored.topic, stored.state)
    env = Envelope.from_bytes(raw)
    assert env == Envelope(event_id=event_id_for(sid, 3), type="ActiveVersionSet", class_version=1, stream_id=sid,
                           stream_version=3, position=42, occurred_at=new.occurred_at, user_id="u1",
                           payload={"version": 2, "previous_version": 1})
    assert Envelope.from_bytes(env.to_bytes()) == env


def test_malformed_envelope_is_refused():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Envelope.from_bytes(b'{"type": "x"}')
