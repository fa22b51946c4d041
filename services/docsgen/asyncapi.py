"""AsyncAPI 3.0 description of agentloom's public topics, built with FastStream's own generator.

Why FastStream: it already turns pydantic models into an AsyncAPI document (channels, operations,
components), so the spec is derived from the same models the relay serialises. The relay itself
uses aiokafka; the FastStream broker here is never connected, it only declares one publisher per
topic for the generator.

Each topic's message payload is the envelope (``schemas/envelope.py``) as a ``oneOf`` discriminated
by ``type``: one typed envelope per event type (``<Type>Envelope``, whose ``payload`` is that event's
model), so every event payload lands in ``components/schemas``. FastStream 0.7 cannot express Kafka
message keys or headers and adds a ``correlation_id`` header the relay never sends, so a small
post-processing step fixes the messages and copies the field meanings from ``event_docs``.

Regenerate ``docs/asyncapi.json``: ``.venv/bin/python -m services.docsgen.asyncapi``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel, Field, create_model

from schemas.envelope import Envelope
from schemas.topics import CONTEXTS, topic_name
from services.docsgen.event_docs import CONTEXT_NOTES, RECORDED, field_note, nested_models, published_types

DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"
SCHEMA_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.4.0"  # the version FastStream writes for channel bindings

DESCRIPTION = """\
Every event recorded in agentloom's event store, published by the outbox relay.
Field-by-field reference and the meaning of every event: `docs/events.md`.

- **Key**: the stream id (graph, execution, ledger or API key id). One stream stays on one
  partition and arrives in `stream_version` order (1, 2, 3 …, no gaps). No order across streams.
- **Header** `type`: the event type, same as the envelope's `type`.
- **At-least-once**: deduplicate on `(stream_id, stream_version)`; `event_id` is
  `uuid5(namespace, "<stream_id>:<stream_version>")`, identical on every re-delivery.
- **Versioned payloads**: `payload` is as recorded at `class_version`; upcast older versions
  (`schemas.events.decode_payload`). Skip event types you do not know.
"""


@functools.cache
def typed_envelopes(context: str) -> tuple[type[Envelope], ...]:
    """One envelope model per event type of a context, with ``type`` and ``payload`` pinned."""
    models = []
    for type_name, cls in published_types().items():
        if cls.CONTEXT != context:
            continue
        who, when = RECORDED.get(type_name, ("?", "?"))
        doc = f"{type_name} (current class_version {cls.CLASS_VERSION}). Recorded by: {who}. When: {when}"
        models.append(create_model(f"{type_name}Envelope", __base__=Envelope, __doc__=doc,
                                   type=(Literal[type_name], ...), payload=(cls, ...)))
    return tuple(models)


def _payload_schema(context: str) -> Any:
    variants = typed_envelopes(context)
    if len(variants) == 1:
        return variants[0]
    return Annotated[Union[variants], Field(discriminator="type")]  # noqa: UP007 - a runtime tuple


def _models_by_name() -> dict[str, type[BaseModel]]:
    """Every model whose schema appears in the document, by schema name."""
    events = list(published_types().values())
    return {m.__name__: m for m in [Envelope, *events, *nested_models(events)]}


def _describe_fields(schemas: dict[str, Any]) -> None:
    """Copy the hand-written field meanings into the JSON schemas (the models carry none)."""
    models = _models_by_name()
    event_names = {f"{t}Envelope": t for t in published_types()}
    for name, schema in schemas.items():
        owner = "Envelope" if name in event_names else name
        if owner not in models:
            continue
        if "description" in schema:  # docstrings use reST ``code``
            schema["description"] = schema["description"].replace("``", "`")
        for field, prop in schema.get("properties", {}).items():
            note = field_note(owner, field)
            if name in event_names and field == "payload":
                note = f"the {event_names[name]} payload"
            if note and "description" not in prop:
                prop["description"] = note


STREAM_KEYS = {"graphs": "graph id", "executions": "graph execution id",
               "credits": "ledger id (uuid5 of the user id)", "apikeys": "API key id",
               "integrations": "credential id, webhook id, delivery id or graph webhook index id",
               "users": "user or onboarding stream id (uuid5 of the user id)",
               "notifications": "notification id, or mail-day id (uuid5 of user and UTC day)",
               "library": "library agent id (the graph id masked per user), folder-tree id (uuid5 of the user "
                          "id) or preset id",
               "store": "profile, username, listing (uuid5 of the graph id), slug, listing version, publication or "
                        "review id",
               "schedules": "schedule id",
               "callbacks": "a user's callbacks (uuid5 of the user id) or a delivery (uuid5 of the callback and "
                            "the terminal execution event)"}


def _fix_messages(spec: dict[str, Any], prefix: str) -> None:
    """Add what FastStream cannot say: Kafka key, the ``type`` and ``position`` headers, content type."""
    by_channel = {f"{ctx}Events": ctx for ctx in CONTEXTS}
    for name, message in spec["components"]["messages"].items():
        context = by_channel[name.split(":", 1)[0]]
        message.pop("correlationId", None)
        message["name"] = f"{context}Event"
        message["summary"] = f"One recorded event of the {context} context, on {topic_name(context, prefix)}."
        message["description"] = CONTEXT_NOTES[context]
        message["contentType"] = "application/json"
        message["headers"] = {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {
                "type": "string", "description": "event type, same as the envelope's `type`",
                "enum": [t for t, cls in published_types().items() if cls.CONTEXT == context]},
                "position": {"type": "string", "pattern": "^[0-9]+$",
                             "description": "the envelope's `position` in decimal (absent on records "
                                            "published before it was added)"}},
        }
        message["bindings"] = {"kafka": {
            "key": {"type": "string", "format": "uuid", "description": "stream id: " + STREAM_KEYS[context]},
            "bindingVersion": KAFKA_BINDING_VERSION,
        }}
    for name, operation in spec["operations"].items():
        context = by_channel[name]
        operation["summary"] = f"The relay publishes every event recorded in the {context} log."


def build_asyncapi(prefix: str = "agentloom") -> dict[str, Any]:
    """The AsyncAPI 3.0 document (a JSON-ready dict) for the topics under ``prefix``."""
    broker = KafkaBroker("127.0.0.1:9092",
                         description="`make run` starts a local broker here (see its startup line for the port); "
                                     "elsewhere use KAFKA_BOOTSTRAP_SERVERS.")
    # The broker keeps publishers in a WeakSet: hold them until the spec is built, and put the
    # (hash-ordered) result back into a stable order afterwards.
    publishers = [
        broker.publisher(topic_name(context, prefix), title=f"{context}Events",
                         description=f"Events of the {context} context. {CONTEXT_NOTES[context]}",
                         schema=_payload_schema(context))
        for context in CONTEXTS]
    spec = AsyncAPI(broker, title="agentloom public events", version="1.0.0", description=DESCRIPTION,
                    schema_version=SCHEMA_VERSION).to_specification().to_jsonable()
    del publishers
    order = [f"{context}Events" for context in CONTEXTS]
    spec["channels"] = {key: spec["channels"][key] for key in order}
    spec["operations"] = {key: spec["operations"][key] for key in order}
    messages = spec["components"]["messages"]
    spec["components"]["messages"] = {f"{key}:Message": messages[f"{key}:Message"] for key in order}
    schemas = spec["components"]["schemas"]
    schemas["Envelope"] = Envelope.model_json_schema()
    schemas["Envelope"]["description"] = "The envelope as any consumer decodes it before looking at `type`."
    _describe_fields(schemas)
    spec["components"]["schemas"] = dict(sorted(schemas.items()))
    _fix_messages(spec, prefix)
    return spec


def render_asyncapi_json(prefix: str = "agentloom") -> str:
    """The exact text of ``docs/asyncapi.json``."""
    return json.dumps(build_asyncapi(prefix), indent=2, ensure_ascii=False) + "\n"


def write(path: Path = DOCS_PATH) -> Path:
    path.write_text(render_asyncapi_json(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {write()}")
