"""The LibraryAgent aggregate: one user's entry for one graph in their library (pure).

The stream id is ``library_agent_id(user_id, graph_id)``, which is also the entry's ``id``. For a
graph the user created, the entry exists from the graph's creation without an event of its own;
its stream holds only what the user changed. So the decisions take the graph's state as an input
(does it still exist, which versions and which one is active) besides the folded stream.

Version rule: an entry follows its graph's active version while ``auto_update_version`` is on
(the default for a user's own graph, as AutoGPT re-points the owner's entry on every activation).
``PATCH graph_version`` pins a version and turns following off; ``auto_update_version: true``
follows again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events.base import Event
from schemas.events.library import (
    LibraryAgentAdded,
    LibraryAgentDeleted,
    LibraryAgentMoved,
    LibraryAgentSettingsSet,
    LibraryAgentUpdated,
)
from services.domain.errors import ConflictError, InvalidCommand, NotFoundError
from services.domain.library.ids import library_agent_id
from services.domain.library.rules import normalised_settings


@dataclass
class GraphFacts:
    """What an entry's decisions need to know about its graph (from the Graph aggregate)."""

    exists: bool
    owner_id: str | None
    versions: frozenset[int]
    active_version: int | None


@dataclass
class LibraryAgent:
    user_id: str
    graph_id: str
    is_favorite: bool = False
    is_archived: bool = False
    auto_update_version: bool = True
    pinned_version: int | None = None
    folder_id: str | None = None
    settings: dict[str, Any] = field(default_factory=normalised_settings)
    deleted: bool = False
    store_listing_version_id: str | None = None  # set for a store agent (another user's graph)
    stream_version: int = 0
    updated_at: datetime | None = None

    @property
    def id(self) -> str:
        return str(library_agent_id(self.user_id, self.graph_id))

    # -- folding ------------------------------------------------------------------------------

    @classmethod
    def from_events(cls, user_id: str, graph_id: str, events: list[tuple[Event, datetime]]) -> LibraryAgent:
        agent = cls(user_id, graph_id)
        for event, at in events:
            agent.apply(event, at)
        return agent

    def apply(self, event: Event, at: datetime | None = None) -> None:
        self.stream_version += 1
        self.updated_at = at or self.updated_at
        if isinstance(event, LibraryAgentUpdated):
            if event.is_favorite is not None:
                self.is_favorite = event.is_favorite
            if event.is_archived is not None:
                self.is_archived = event.is_archived
            if event.graph_version is not None:
                self.pinned_version, self.auto_update_version = event.graph_version, False
            if event.auto_update_version is not None:
                self.auto_update_version = event.auto_update_version
                if event.auto_update_version:
                    self.pinned_version = None
        elif isinstance(event, LibraryAgentMoved):
            self.folder_id = event.folder_id
        elif isinstance(event, LibraryAgentSettingsSet):
            self.settings = normalised_settings(event.settings)
        elif isinstance(event, LibraryAgentAdded):
            self.store_listing_version_id, self.deleted = event.store_listing_version_id, False
            self.pinned_version, self.auto_update_version = event.graph_version, False
        elif isinstance(event, LibraryAgentDeleted):
            self.deleted = True

    # -- reads --------------------------------------------------------------------------------

    def graph_version(self, graph: GraphFacts) -> int | None:
        if self.pinned_version is not None and not self.auto_update_version:
            return self.pinned_version
        return graph.active_version

    def archived(self, graph: GraphFacts) -> bool:
        """Archived by the user, or by the deletion of its graph."""
        return self.is_archived or not graph.exists

    # -- decisions ----------------------------------------------------------------------------

    @property
    def from_store(self) -> bool:
        return self.store_listing_version_id is not None

    def require_visible(self, graph: GraphFacts, deleted_folders: frozenset[str] = frozenset()) -> None:
        """The entry exists for its user: their own graph was created, or they added it from the
        store (deleted graphs keep an archived entry), and neither the entry nor its folder was
        deleted."""
        mine = graph.owner_id == self.user_id or (self.from_store and graph.owner_id is not None)
        if not mine or self.deleted or (self.folder_id in deleted_folders):
            raise NotFoundError(f"Library agent #{self.id} not found")

    def update(self, graph: GraphFacts, *, is_favorite: bool | None = None, is_archived: bool | None = None,
               auto_update_version: bool | None = None, graph_version: int | None = None) -> list[Event]:
        """The PATCH fields that change something (nothing recorded when nothing changes)."""
        if graph_version is not None and graph_version not in graph.versions:
            raise NotFoundError(f"Graph #{self.graph_id} v{graph_version} not found")
        if is_archived is False and not graph.exists:
            raise ConflictError(f"Graph #{self.graph_id} was deleted; its library agent stays archived")
        changes: dict[str, Any] = {}
        if is_favorite is not None and is_favorite != self.is_favorite:
            changes["is_favorite"] = is_favorite
        if is_archived is not None and is_archived != self.is_archived:
            changes["is_archived"] = is_archived
        if graph_version is not None and (graph_version != self.pinned_version or self.auto_update_version):
            changes["graph_version"] = graph_version
        following = auto_update_version
        if following is not None and graph_version is None and following != self.auto_update_version:
            changes["auto_update_version"] = auto_update_version
        if graph_version is not None and auto_update_version:
            raise InvalidCommand("Pinning graph_version turns auto_update_version off; send one of the two")
        if not changes:
            return []
        return [LibraryAgentUpdated(user_id=self.user_id, graph_id=self.graph_id, **changes)]

    def move(self, folder_id: str | None) -> list[Event]:
        if folder_id == self.folder_id:
            return []
        return [LibraryAgentMoved(user_id=self.user_id, graph_id=self.graph_id, folder_id=folder_id)]

    def set_settings(self, settings: dict[str, Any]) -> list[Event]:
        merged = normalised_settings({**self.settings, **settings})
        if merged == self.settings:
            return []
        return [LibraryAgentSettingsSet(user_id=self.user_id, graph_id=self.graph_id, settings=merged)]

    def add_from_store(self, graph: GraphFacts, graph_version: int, store_listing_version_id: str) -> list[Event]:
        """Add (or re-add after a delete) another user's published graph version; the user's own
        graph is in their library already and needs no event."""
        if graph.owner_id == self.user_id:
            return []
        if not self.deleted and self.store_listing_version_id == store_listing_version_id:
            return []
        return [LibraryAgentAdded(user_id=self.user_id, graph_id=self.graph_id, graph_version=graph_version,
                                  store_listing_version_id=store_listing_version_id)]

    def delete(self) -> list[Event]:
        return [LibraryAgentDeleted(user_id=self.user_id, graph_id=self.graph_id)]
