"""The Graph aggregate: every version of one graph, which one is active, and whether it is gone.

Pure: state is folded from recorded events; each decision returns the new events to record.
Versions are full copies; a new version is always ``max(existing) + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.events.base import Event
from schemas.events.graphs import ActiveVersionSet, GraphCreated, GraphDeleted, GraphVersionCreated
from schemas.graph import GraphVersionBody
from services.domain.errors import NotFoundError


@dataclass
class Graph:
    graph_id: str
    user_id: str | None = None
    versions: dict[int, GraphVersionBody] = field(default_factory=dict)
    active_version: int | None = None
    deleted: bool = False
    stream_version: int = 0
    # When the stream began and last changed, if the loader knows (the library's entry shows them).
    created_at: datetime | None = None
    updated_at: datetime | None = None

    # -- folding ------------------------------------------------------------------------------

    @classmethod
    def from_events(cls, graph_id: str, events: list[Event]) -> Graph:
        graph = cls(graph_id)
        for event in events:
            graph.apply(event)
        return graph

    def apply(self, event: Event) -> None:
        self.stream_version += 1
        if isinstance(event, GraphCreated):
            self.user_id = event.user_id
            self._add(event.graph, event.is_active)
        elif isinstance(event, GraphVersionCreated):
            self._add(event.graph, event.is_active)
        elif isinstance(event, ActiveVersionSet):
            self.active_version = event.version
        elif isinstance(event, GraphDeleted):
            self.deleted = True

    def _add(self, body: GraphVersionBody, is_active: bool) -> None:
        self.versions[body.version] = body
        if is_active or self.active_version is None:
            self.active_version = body.version

    # -- decisions ----------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return self.user_id is not None and not self.deleted

    def require_owner(self, user_id: str) -> None:
        if not self.exists or self.user_id != user_id:
            raise NotFoundError(f"Graph #{self.graph_id} not found")

    @property
    def next_version(self) -> int:
        return max(self.versions, default=0) + 1

    @staticmethod
    def create(user_id: str, body: GraphVersionBody, is_active: bool = True) -> list[Event]:
        return [GraphCreated(user_id=user_id, graph=body, is_active=is_active)]

    def add_version(self, user_id: str, body: GraphVersionBody, is_active: bool) -> list[Event]:
        self.require_owner(user_id)
        if body.version != self.next_version:
            raise ValueError("a new version must be max(existing) + 1")
        return [GraphVersionCreated(graph=body, is_active=is_active)]

    def set_active(self, user_id: str, version: int) -> list[Event]:
        self.require_owner(user_id)
        if version not in self.versions:
            raise NotFoundError(f"Graph #{self.graph_id} v{version} not found")
        return [ActiveVersionSet(version=version, previous_version=self.active_version)]

    def delete(self, user_id: str) -> list[Event]:
        self.require_owner(user_id)
        return [GraphDeleted(version_count=len(self.versions))]

    def version(self, user_id: str, version: int | None) -> GraphVersionBody:
        """A version for the owner: the given one, else the active one, else the newest."""
        self.require_owner(user_id)
        chosen = version if version is not None else (self.active_version or max(self.versions))
        if chosen not in self.versions:
            raise NotFoundError(f"Graph #{self.graph_id} v{chosen} not found")
        return self.versions[chosen]
