"""The public event docs stay in step with the models, and the live feed formats envelopes.

docs/events.md and docs/asyncapi.json are generated; these tests fail when a model changed without
regenerating them (``.venv/bin/python -m services.docsgen.event_docs && .venv/bin/python -m
services.docsgen.asyncapi``) or when a new event type or field has no hand-written meaning.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from schemas.envelope import Envelope, event_id_for
from schemas.topics import CONTEXTS, topic_name
from services.docsgen import asyncapi, event_docs
from services.docsgen.event_docs import published_types

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def live_feed():
    spec = importlib.util.spec_from_file_location("live_feed", ROOT / "examples" / "live_feed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def spec() -> dict:
    return asyncapi.build_asyncapi()


def test_events_md_is_generated():
    assert (ROOT / "docs" / "events.md").read_text(encoding="utf-8") == event_docs.render_events_markdown()


def test_asyncapi_json_is_generated(spec):
    text = (ROOT / "docs" / "asyncapi.json").read_text(encoding="utf-8")
    assert text == asyncapi.render_asyncapi_json()
    assert json.loads(text) == json.loads(json.dumps(spec))


def test_every_event_and_field_is_documented():
    events = list(published_types().values())
    assert set(event_docs.RECORDED) == set(published_types())
    for model in [Envelope, *events, *event_docs.nested_models(events)]:
        for name in model.model_fields:
            assert event_docs.field_note(model.__name__, name), f"{model.__name__}.{name} has no meaning"
    markdown = event_docs.render_events_markdown()
    for type_name in published_types():
        assert f"### {type_name}\n" in markdown


def test_asyncapi_covers_topics_and_event_types(spec):
    assert spec["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in spec["channels"].values()}
    assert addresses == {topic_name(ctx) for ctx in CONTEXTS}
    schemas = spec["components"]["schemas"]
    for type_name, cls in published_types().items():
        assert type_name in schemas and f"{type_name}Envelope" in schemas
        assert schemas[f"{type_name}Envelope"]["properties"]["type"]["const"] == type_name
        payload_ref = schemas[f"{type_name}Envelope"]["properties"]["payload"]["$ref"]
        assert payload_ref == f"#/components/schemas/{type_name}"
        channel = next(c for c in spec["channels"].values() if c["address"] == topic_name(cls.CONTEXT))
        message = spec["components"]["messages"][channel["messages"]["Message"]["$ref"].rsplit("/", 1)[1]]
        union = schemas[message["payload"]["$ref"].rsplit("/", 1)[1]]
        assert {"$ref": f"#/components/schemas/{type_name}Envelope"} in union["oneOf"]
        assert type_name in message["headers"]["properties"]["type"]["enum"]
    for message in spec["components"]["messages"].values():
        assert message["bindings"]["kafka"]["key"]["format"] == "uuid"
        assert "correlationId" not in message
    assert set(Envelope.model_fields) <= set(schemas["Envelope"]["properties"])


def test_asyncapi_follows_the_prefix():
    addresses = {c["address"] for c in asyncapi.build_asyncapi(prefix="staging")["channels"].values()}
    assert addresses == {f"staging.{context}.events.v1" for context in CONTEXTS}


def _envelope(event_type: str, payload: dict, version: int = 5) -> dict:
    stream_id = "5f1d2c3b-0000-4000-8000-000000000001"
    return Envelope(event_id=event_id_for(stream_id, version), type=event_type, class_version=1,
                    stream_id=stream_id, stream_version=version, position=42,
                    occurred_at="2025-01-01T12:00:00.123Z", user_id="u1", payload=payload).model_dump(mode="json")


def test_live_feed_formats_a_node_output(live_feed):
    nodes: dict[str, str] = {}
    queued = _envelope("NodeQueued", {"node_exec_id": "8d2f4b10-aaaa", "node_id": "1c9e0a55-bbbb",
                                      "block_id": "c0a8e994-cccc", "input_data": {"value": 1}}, version=3)
    live_feed.remember(queued, nodes)
    line = live_feed.format_line(_envelope("NodeOutput", {"node_exec_id": "8d2f4b10-aaaa", "pin": "result",
                                                          "value": {"text": "hello"}, "seq": 0}), nodes)
    assert "NodeOutput" in line and "5f1d2c3b v5" in line
    assert "node=1c9e0a55 ne=8d2f4b10 pin=result#0" in line
    assert 'value={"text":"hello"}' in line
    assert line.split()[0].count(":") == 2 and "." in line.split()[0]  # HH:MM:SS.mmm (local time)


def test_live_feed_summaries(live_feed):
    s = live_feed.summarize
    assert s("NodeInputAdded", {"node_exec_id": "ne1", "node_id": "n1", "block_id": "b", "pin": "a",
                                "value": "x" * 100, "created": True}).endswith("… new")
    assert s("NodeFailed", {"node_exec_id": "ne1", "error": "boom"}, {"ne1": "node-one"}) == \
        'node=node-one ne=ne1 error="boom"'
    assert s("ExecutionCompleted", {"stats": {"node_exec_count": 3, "node_error_count": 1, "duration": 0.5}}) == \
        "nodes=3 errors=1 0.50s"
    assert s("ActiveVersionSet", {"version": 2, "previous_version": 1}) == "active v2 (was v1)"
    assert s("SomethingNew", {"a": 1, "nested": {"b": 2}}) == "a=1"
    for type_name in published_types():  # every type has a summary that does not crash
        s(type_name, {})
