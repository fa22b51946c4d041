"""Recorded pasts for stories: graph versions, payloads and sealed credentials as handlers store them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.envelope import Envelope, event_id_for
from schemas.events.integrations import CredentialsCreated
from schemas.graph import GraphInput, GraphVersionBody, StoredLink, StoredNode
from services.domain.integrations.crypto import Keyring
from services.infra.credentials_store import bound_to

INPUT_BLOCK = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT_BLOCK = "363ae599-353e-4804-937e-b2ee3cef3da4"
TEXT_GENERATOR_BLOCK = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
OPENAI_CREDENTIALS_INPUT = "openai_api_key_credentials"


def graph_input(name: str = "g", **fields: Any) -> GraphInput:
    """A create/update payload: one input wired to one output."""
    return GraphInput.model_validate({"name": name, "description": "d", "nodes": [
        {"id": "in", "block_id": INPUT_BLOCK, "input_default": {"name": "x"}},
        {"id": "out", "block_id": OUTPUT_BLOCK, "input_default": {"name": "y"}},
    ], "links": [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}], **fields})


def stream_envelopes(stream_id: str, events: Sequence, *, user_id: str,
                     step: timedelta = timedelta(seconds=1)) -> list[Envelope]:
    """One stream's events as a projector receives them: versions and positions 1, 2, ..., the
    n-th recorded ``n * step`` after 2026-01-01."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [Envelope(event_id=event_id_for(stream_id, v), type=e.TYPE, class_version=e.CLASS_VERSION,
                     stream_id=stream_id, stream_version=v, position=v, occurred_at=start + v * step,
                     user_id=user_id, payload=e.model_dump(mode="json"))
            for v, e in enumerate(events, start=1)]


def graph_body(graph_id: uuid.UUID, version: int = 1, name: str = "g") -> GraphVersionBody:
    """A recorded version of ``graph_input``'s graph (server-assigned ids, static input link)."""
    return GraphVersionBody(
        id=str(graph_id), version=version, name=name, description="d",
        nodes=[StoredNode(id="n-in", block_id=INPUT_BLOCK, input_default={"name": "x"}),
               StoredNode(id="n-out", block_id=OUTPUT_BLOCK, input_default={"name": "y"})],
        links=[StoredLink(id="l-1", source_id="n-in", sink_id="n-out", source_name="result", sink_name="value",
                          is_static=True)])


def llm_graph_body(graph_id: uuid.UUID, version: int = 1) -> GraphVersionBody:
    """A recorded version whose one node needs OpenAI credentials at run time."""
    return GraphVersionBody(id=str(graph_id), version=version, name="llm", description="d", nodes=[
        StoredNode(id="n-llm", block_id=TEXT_GENERATOR_BLOCK, input_default={"model": "gpt-4o", "prompt": "hi"})],
        links=[])


def sealed_credential(keyring: Keyring, credentials_id: uuid.UUID, user_id: str, api_key: str,
                      provider: str = "openai", title: str | None = "mine") -> CredentialsCreated:
    """``CredentialsCreated`` as the handler records it (secret sealed and bound to id and owner)."""
    sealed = keyring.encrypt(api_key, bound_to=bound_to(str(credentials_id), user_id))
    return CredentialsCreated(user_id=user_id, provider=provider, type="api_key", title=title, encrypted_secret=sealed)


def credential_reference(credentials_id: uuid.UUID, **extra: Any) -> dict[str, Any]:
    return {"id": str(credentials_id), "provider": "openai", "type": "api_key", "title": "mine", **extra}
