"""Reading what the relay's records carry (``services/infra/kafka_records.py``): the type and
position headers, and taking only the wanted envelopes out of a batch without parsing the rest."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import orjson

from services.infra.kafka_records import envelopes_of, record_position, record_type


@dataclass
class Message:
    value: bytes
    headers: tuple = ()


def _envelope(type_: str, position: int) -> bytes:
    return orjson.dumps({"event_id": str(uuid.uuid4()), "type": type_, "class_version": 1,
                         "stream_id": str(uuid.uuid4()), "stream_version": 1, "position": position,
                         "occurred_at": "2026-12-04T08:00:00+00:00", "user_id": "u", "payload": {}})


def _record(type_: str, position: int, *, headers: bool = True) -> Message:
    return Message(_envelope(type_, position),
                   (("type", type_.encode()), ("position", str(position).encode())) if headers else ())


def test_the_position_comes_from_the_header_or_else_the_envelope():
    assert record_position(Message(b"{}", (("position", b"42"),))) == 42
    assert record_position(_record("X", 42, headers=False)) == 42
    assert record_position(Message(b"not json")) is None


def test_the_type_is_the_header_or_unknown():
    assert record_type(_record("NodeOutput", 1)) == "NodeOutput"
    assert record_type(_record("NodeOutput", 1, headers=False)) is None


def test_only_wanted_types_are_taken_in_order():
    batch = [_record("NodeOutput", 1), _record("ExecutionCompleted", 2), _record("NodeStarted", 3),
             _record("ExecutionFailed", 4)]
    taken = envelopes_of(batch, {"ExecutionCompleted", "ExecutionFailed"})
    assert [(env.type, env.position) for env in taken] == [("ExecutionCompleted", 2), ("ExecutionFailed", 4)]


def test_the_header_decides_without_parsing():
    # The envelope is of a wanted type but the header names another: only a parse could take it,
    # so leaving it out shows the header alone decided.
    named_other = Message(_envelope("ExecutionCompleted", 1), (("type", b"NodeOutput"),))
    taken = envelopes_of([named_other, _record("ExecutionCompleted", 2)], {"ExecutionCompleted"})
    assert [env.position for env in taken] == [2]


def test_records_without_headers_are_judged_by_their_envelope():
    batch = [_record("NodeOutput", 1, headers=False), _record("ExecutionCompleted", 2, headers=False),
             Message(b"not json")]
    assert [env.position for env in envelopes_of(batch, {"ExecutionCompleted"})] == [2]


def test_a_header_that_lies_does_not_smuggle_another_type_in():
    lying = Message(_envelope("NodeOutput", 1), (("type", b"ExecutionCompleted"),))
    assert envelopes_of([lying], {"ExecutionCompleted"}) == []
