"""Events of the graphs context (stream = one graph id, all its versions)."""

from __future__ import annotations

from typing import ClassVar

from schemas.events.base import Event
from schemas.graph import GraphVersionBody


class GraphEvent(Event):
    CONTEXT: ClassVar[str] = "graphs"


class GraphCreated(GraphEvent):
    """A new graph with its first recorded version."""

    TYPE: ClassVar[str] = "GraphCreated"
    user_id: str
    graph: GraphVersionBody
    is_active: bool = True


class GraphVersionCreated(GraphEvent):
    """A further full version of an existing graph (always version = max + 1)."""

    TYPE: ClassVar[str] = "GraphVersionCreated"
    graph: GraphVersionBody
    is_active: bool = True


class ActiveVersionSet(GraphEvent):
    TYPE: ClassVar[str] = "ActiveVersionSet"
    version: int
    previous_version: int | None = None


class GraphDeleted(GraphEvent):
    """Every version of the graph is gone for its owner."""

    TYPE: ClassVar[str] = "GraphDeleted"
    version_count: int
