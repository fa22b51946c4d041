"""Persist/Retrieve blocks: a small durable key/value memory for agents, per user.

Values live in the ``KeyValueStore`` port (``ctx.kv_store``), always keyed by the executing user,
so one user's agents can never read another user's data. ``scope`` decides how widely a key is
shared among that user's agents: ``within_agent`` prefixes the key with the graph id (each agent
has its own namespace, kept across runs and versions), ``across_agents`` uses one global namespace.
The key formats match AutoGPT's (``agent#{graph_id}#{key}`` / ``global#{key}``) so stored data is
addressed the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)

StorageScope = Literal["within_agent", "across_agents"]

_NO_STORE = "persistent storage is not available here"


def storage_key(scope: str, key: str, graph_id: str) -> str:
    """The stored key for ``key`` in ``scope`` as seen from graph ``graph_id``."""
    if scope == "across_agents":
        return f"global#{key}"
    return f"agent#{graph_id}#{key}"


class PersistInformationBlock(Block):
    id = "1d055e55-a2b9-4547-8311-907d05b0304d"
    description = "Stores a value under a key so later runs (of this agent, or of all your agents) can read it."
    categories = frozenset({BlockCategory.DATA})

    class Input(BlockSchemaInput):
        key: str = SchemaField(description="The key to store the value under.")
        value: Any = SchemaField(description="The value to store.")
        scope: StorageScope = SchemaField(
            default="within_agent",
            description="within_agent: only this agent sees the key; across_agents: all your agents do.",
        )

    class Output(BlockSchemaOutput):
        value: Any = SchemaField(description="The value that was stored.")

    test_input = {"key": "persistent_key", "value": "persistent_value", "scope": "across_agents"}
    test_output = [("value", "persistent_value")]
    external_effects = True  # writes durable, user-wide state

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        if ctx.kv_store is None:
            yield "error", _NO_STORE
            return
        key = storage_key(input_data.scope, input_data.key, ctx.graph_id)
        await ctx.kv_store.set(ctx.user_id, key, input_data.value)
        yield "value", input_data.value


class RetrieveInformationBlock(Block):
    id = "d8710fc9-6e29-481e-a7d5-165eb16f8471"
    description = "Reads a value stored by the Persist Information block, or a default when there is none."
    categories = frozenset({BlockCategory.DATA})
    static_output = True

    class Input(BlockSchemaInput):
        key: str = SchemaField(description="The key to read.")
        scope: StorageScope = SchemaField(
            default="within_agent",
            description="within_agent: this agent's keys; across_agents: keys shared by all your agents.",
        )
        default_value: Any = SchemaField(default=None, description="The value to yield when the key is not set.")

    class Output(BlockSchemaOutput):
        value: Any = SchemaField(description="The stored value, or the default.")

    test_input = [
        {"key": "never_stored", "scope": "across_agents", "default_value": "default_value"},
        {"key": "never_stored"},
    ]
    test_output = [("value", "default_value"), ("value", None)]
    # Reads what PersistInformation writes: in a dry run that wrote nothing, the real store would
    # answer from outside the run, so it is simulated with the first example (a default) too.
    external_effects = True

    @classmethod
    def dry_run_output(cls) -> list[tuple[str, Any]]:
        return cls.test_output[:1]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        if ctx.kv_store is None:
            yield "error", _NO_STORE
            return
        key = storage_key(input_data.scope, input_data.key, ctx.graph_id)
        stored = await ctx.kv_store.get(ctx.user_id, key)
        yield "value", input_data.default_value if stored is None else stored
