"""What a record the relay published carries besides its envelope, and reading it cheaply.

The relay sets two headers on every record: ``type`` (the event's type name) and ``position``
(its store position). A consumer that wants a few types out of a busy log reads the header and
parses only the envelopes it wants: the notifier's groups take a handful of the ~5 events a node
execution writes, and parsing every envelope was most of their work (profiled under chain40).

A record without the headers (a foreign producer, or a topic filled by an older relay) is parsed
and judged by its envelope, so the headers only ever save work, never change what is read.
"""

from __future__ import annotations

from collections.abc import Container, Iterable

import orjson

from schemas.envelope import Envelope

TYPE_HEADER = "type"
POSITION_HEADER = "position"


def _header(message, name: str) -> bytes | None:
    for key, value in message.headers or ():
        if key == name:
            return value
    return None


def record_type(message) -> str | None:
    """The event type a record's header names, or None when it carries no such header."""
    value = _header(message, TYPE_HEADER)
    return value.decode() if value is not None else None


def record_position(message) -> int | None:
    """The store position a record carries (its header, else its envelope)."""
    value = _header(message, POSITION_HEADER)
    if value is not None:
        return int(value)
    try:
        return int(orjson.loads(message.value)["position"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def envelopes_of(messages: Iterable, types: Container[str]) -> list[Envelope]:
    """The envelopes of the records whose event type is in ``types``, in order. A record another
    type's header names is not parsed; one that does not parse is skipped (the projector logs
    malformed records)."""
    out = []
    for message in messages:
        named = record_type(message)
        if named is not None and named not in types:
            continue
        try:
            env = Envelope.from_bytes(message.value)
        except (ValueError, TypeError):
            continue
        if env.type in types:
            out.append(env)
    return out
