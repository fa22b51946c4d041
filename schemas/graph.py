"""The graph model: what users send to create a graph and what a stored graph version holds.

Compatible with AutoGPT's graph JSON (nodes with ``block_id``/``input_default``/``metadata``, links
with ``source_id``/``sink_id``/``source_name``/``sink_name``/``is_static``). Exports carry computed
keys (``input_schema``, ``user_id``, per-node ``input_links`` …); those are accepted and ignored,
so an exported graph imports unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_NODES = 2_000
MAX_LINKS = 10_000
# The highest graph version (PostgreSQL int4, AutoGPT's column type). A client-sent version above
# it is refused at the edge, and a new version past it is refused by the command (audit F1).
MAX_VERSION = 2**31 - 1


class Link(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    source_id: str = Field(min_length=1, max_length=200)
    sink_id: str = Field(min_length=1, max_length=200)
    source_name: str = Field(min_length=1, max_length=500)
    sink_name: str = Field(min_length=1, max_length=500)
    is_static: bool = False

    def key(self) -> tuple[str, str, str, str]:
        return (self.source_id, self.sink_id, self.source_name, self.sink_name)


class Node(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    block_id: str = Field(min_length=1, max_length=100)
    input_default: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Present in exports; only used to recover links from formats without a top-level list.
    input_links: list[Link] = Field(default_factory=list, exclude=True)
    output_links: list[Link] = Field(default_factory=list, exclude=True)


class BaseGraph(BaseModel):
    """A graph as users write it: nodes, links and descriptive fields."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    is_active: bool = True
    name: str = Field(default="", max_length=500)
    description: str = Field(default="", max_length=20_000)
    instructions: str | None = Field(default=None, max_length=20_000)
    recommended_schedule_cron: str | None = Field(default=None, max_length=200)
    forked_from_id: str | None = None
    forked_from_version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    nodes: list[Node] = Field(default_factory=list, max_length=MAX_NODES)
    links: list[Link] = Field(default_factory=list, max_length=MAX_LINKS)

    @model_validator(mode="before")
    @classmethod
    def _tolerate_nulls(cls, data: Any) -> Any:
        # Exports write null for empty text fields.
        if isinstance(data, dict):
            data = dict(data)
            for key in ("name", "description"):
                if data.get(key) is None:
                    data.pop(key, None)
        return data

    @model_validator(mode="after")
    def _recover_links(self) -> BaseGraph:
        if not self.links:
            seen: dict[tuple[str, str, str, str], Link] = {}
            for node in self.nodes:
                for link in [*node.input_links, *node.output_links]:
                    seen.setdefault(link.key(), link)
            self.links = list(seen.values())
        return self


class GraphInput(BaseGraph):
    """The create/update payload: a graph plus the sub-graphs its AgentExecutor nodes reference."""

    sub_graphs: list[BaseGraph] = Field(default_factory=list, max_length=100)

    @model_validator(mode="before")
    @classmethod
    def _old_subgraphs_key(cls, data: Any) -> Any:
        # 2024 templates call the list ``subgraphs``.
        if isinstance(data, dict) and "sub_graphs" not in data and isinstance(data.get("subgraphs"), list):
            data = {**data, "sub_graphs": data["subgraphs"]}
        return data


class CreateGraphRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    graph: GraphInput
    source: str | None = None


class SetActiveVersionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active_graph_version: int = Field(ge=1, le=MAX_VERSION)


class StoredNode(BaseModel):
    """A node as recorded in a graph version (ids already assigned by the server)."""

    id: str
    block_id: str
    input_default: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class StoredLink(BaseModel):
    id: str
    source_id: str
    sink_id: str
    source_name: str
    sink_name: str
    is_static: bool = False


class GraphVersionBody(BaseModel):
    """One full version of a graph as the store records it (every version is a full copy)."""

    id: str
    version: int
    name: str = ""
    description: str = ""
    instructions: str | None = None
    recommended_schedule_cron: str | None = None
    forked_from_id: str | None = None
    forked_from_version: int | None = None
    nodes: list[StoredNode] = Field(default_factory=list)
    links: list[StoredLink] = Field(default_factory=list)
