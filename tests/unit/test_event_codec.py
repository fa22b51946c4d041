"""The stored-event codec: what the store writes decodes back to the same event, old class versions
are upcast, and the envelope built from a row (decoded or spliced) carries the row's identity."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import ClassVar

import orjson
import pytest

from schemas.envelope import Envelope, event_id_for
from schemas.events import Event, base, upcaster
from schemas.events.graphs import ActiveVersionSet
from services.infra.event_codec import (
    StoredRow,
    decode_row,
    encode_state,
    envelope_bytes,
)
from services.infra.store_contract import NewEvent, encoded_states

AT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
STREAM = uuid.UUID("0b7f5a52-8d2c-4a57-9a51-3c1e4b8f0e21")


def _row(event: Event, *, position: int | None = 42, version: int = 3, user_id: str | None = "u1") -> StoredRow:
    return StoredRow(position, STREAM, version, event.TYPE, encode_state(event, occurred_at=AT, user_id=user_id))


def test_a_stored_event_decodes_to_what_was_recorded():
    event = ActiveVersionSet(version=2, previous_version=1)
    recorded = decode_row(_row(event))
    assert (recorded.stream_id, recorded.stream_version, recorded.position) == (STREAM, 3, 42)
    assert (recorded.type, recorded.class_version, recorded.user_id) == ("ActiveVersionSet", 1, "u1")
    assert recorded.occurred_at == AT
    assert recorded.payload == {"version": 2, "previous_version": 1}
    assert recorded.decode() == event


def test_the_store_records_the_codec_state():
    event = ActiveVersionSet(version=2, previous_version=1)
    [state] = encoded_states([NewEvent(STREAM, 3, event, user_id="u1", occurred_at=AT)], max_event_bytes=10_000)
    assert state == encode_state(event, occurred_at=AT, user_id="u1")


def test_occurred_at_sits_in_the_first_bytes_of_the_state():
    """``event_log.seconds_since_first_after`` reads it from the first 200 bytes only."""
    state = encode_state(ActiveVersionSet(version=1, previous_version=None), occurred_at=AT, user_id="u" * 50)
    assert list(orjson.loads(state))[:2] == ["class_version", "occurred_at"]
    assert b'"occurred_at":"2026-01-02T03:04:05.678000+00:00"' in state[:200]


def test_the_envelope_carries_the_row_identity():
    env = decode_row(_row(ActiveVersionSet(version=2, previous_version=1), user_id=None)).envelope()
    assert env == Envelope(event_id=event_id_for(STREAM, 3), type="ActiveVersionSet", class_version=1,
                           stream_id=STREAM, stream_version=3, position=42, occurred_at=AT, user_id=None,
                           payload={"version": 2, "previous_version": 1})


def test_a_row_read_without_its_position_has_envelope_position_zero():
    assert decode_row(_row(ActiveVersionSet(version=2, previous_version=1), position=None)).envelope().position == 0


def test_the_spliced_envelope_is_the_decoded_one():
    row = _row(ActiveVersionSet(version=2, previous_version=1))
    assert Envelope.from_bytes(envelope_bytes(row)) == decode_row(row).envelope()


@pytest.mark.parametrize("state", [b"[1, 2]", b"{}", b'  "text"'])
def test_a_state_that_is_not_a_json_object_cannot_be_spliced(state):
    with pytest.raises(ValueError, match="not a JSON object"):
        envelope_bytes(StoredRow(1, STREAM, 1, "ActiveVersionSet", state))


@pytest.fixture
def renamed_field_event():
    """A made-up event type at class version 2 whose v1 called ``count`` ``n`` (outside every
    published context, and unregistered again afterwards)."""

    class Counted(Event):
        TYPE: ClassVar[str] = "CodecTestCounted"
        CLASS_VERSION: ClassVar[int] = 2
        CONTEXT: ClassVar[str] = "codec_tests"
        count: int

    upcaster("CodecTestCounted", 1)(lambda payload: {"count": payload["n"]})
    yield Counted
    base._REGISTRY.pop("CodecTestCounted", None)
    base._UPCASTERS.pop(("CodecTestCounted", 1), None)


def test_an_old_class_version_is_upcast_on_decode(renamed_field_event):
    old_state = orjson.dumps({"class_version": 1, "occurred_at": AT, "user_id": None, "payload": {"n": 7}})
    recorded = decode_row(StoredRow(5, STREAM, 1, "CodecTestCounted", old_state))
    assert recorded.class_version == 1 and recorded.payload == {"n": 7}  # as recorded
    assert recorded.decode() == renamed_field_event(count=7)
    current = decode_row(_row(renamed_field_event(count=8), version=2))
    assert current.class_version == 2 and current.decode() == renamed_field_event(count=8)


def test_execution_failed_v1_upcasts_to_not_out_of_credits():
    """ExecutionFailed v2 added ``out_of_credits``: a v1 event recorded before it decodes as False."""
    from schemas.events import decode_payload
    from schemas.events.executions import ExecutionFailed

    old = {"error": "boom", "stats": {"cost": 0}}
    event = decode_payload("ExecutionFailed", 1, old)
    assert isinstance(event, ExecutionFailed) and event.out_of_credits is False and event.error == "boom"
    assert decode_payload("ExecutionFailed", 2, {**old, "out_of_credits": True}).out_of_credits is True


def test_execution_queued_v2_upcasts_to_a_run_that_branched_off_nothing():
    """ExecutionQueued v3 added ``branched_from`` (retries and forks): a v2 event has none."""
    from schemas.events import decode_payload

    old = {"user_id": "u", "graph_id": "g", "graph_version": 1, "graph": {"id": "g", "version": 1},
           "is_dry_run": True}
    event = decode_payload("ExecutionQueued", 2, old)
    assert event.branched_from is None and event.is_dry_run is True
    fork = {"execution_id": "e", "kind": "fork", "at_seq": 4}
    assert decode_payload("ExecutionQueued", 3, {**old, "branched_from": fork}).branched_from.at_seq == 4


def test_execution_queued_v3_has_no_source():
    """ExecutionQueued v4 added ``source`` (AutoGPT's execute ``source``): a v3 event has none."""
    from schemas.events import decode_payload

    old = {"user_id": "u", "graph_id": "g", "graph_version": 1, "graph": {"id": "g", "version": 1}}
    assert decode_payload("ExecutionQueued", 3, old).source is None
    assert decode_payload("ExecutionQueued", 4, {**old, "source": "library"}).source == "library"


def test_execution_queued_v1_upcasts_to_a_real_run():
    """ExecutionQueued v2 added ``is_dry_run``: a v1 event recorded before it decodes as a real run,
    and a stored v1 row decodes through the codec the same way."""
    from schemas.events import decode_payload
    from schemas.events.executions import ExecutionQueued

    old = {"user_id": "u", "graph_id": "g", "graph_version": 1, "graph": {"id": "g", "version": 1}}
    event = decode_payload("ExecutionQueued", 1, old)
    assert isinstance(event, ExecutionQueued) and event.is_dry_run is False and event.graph_id == "g"
    assert decode_payload("ExecutionQueued", 2, {**old, "is_dry_run": True}).is_dry_run is True
    assert ExecutionQueued.CLASS_VERSION == 4
    stored = orjson.loads(encode_state(ExecutionQueued(**old), occurred_at=AT, user_id="u"))
    assert stored["class_version"] == 4 and stored["payload"]["is_dry_run"] is False
    del stored["payload"]["is_dry_run"]
    del stored["payload"]["branched_from"]
    del stored["payload"]["source"]
    v1_row = StoredRow(7, STREAM, 1, "ExecutionQueued", orjson.dumps({**stored, "class_version": 1}))
    recorded = decode_row(v1_row)
    assert recorded.class_version == 1 and recorded.decode().is_dry_run is False
