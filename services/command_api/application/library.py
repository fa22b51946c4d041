"""Library commands: change an entry (favourite, archive, version, folder, settings), delete it,
move several at once, fork its graph.

An entry is loaded from three streams: its own (what the user changed), its graph's (does it exist,
which version is active; the library agent id names the graph for its user) and the user's folder
tree (is its folder still there, and its name). Changes append to the entry's stream at the version
loaded, so a concurrent change reloads and decides again.

The entry a write answers with carries the same run figures as a read; they come from the run
counts the projector keeps (``rm_library_run_counts``), so they are as fresh as any read model.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.events.base import Event
from schemas.graph import GraphInput
from services.command_api.application.folders import FolderCommands
from services.command_api.application.graphs import GraphCommands
from services.domain.errors import InvalidCommand, NotFoundError
from services.domain.graphs.export import strip_for_export
from services.domain.graphs.graph import Graph
from services.domain.graphs.model import graph_meta, graph_model
from services.domain.library.agent import GraphFacts, LibraryAgent
from services.domain.library.folders import FolderTree
from services.domain.library.ids import graph_of_library_agent, library_agent_id
from services.domain.library.shapes import RECENT_RUNS, library_agent_view, run_figures
from services.infra.appending import decide_and_append
from services.infra.auth import User
from services.infra.eventstore import EventStore
from services.infra.read_model_reader import ReadModelReader
from services.infra.store_contract import NewEvent, utcnow

_RUN_COUNTS = "SELECT runs, completed, last_run_at FROM rm_library_run_counts WHERE user_id = %s AND graph_id = %s"
_RECENT_RUNS = ("SELECT status, stats, created_at FROM rm_executions WHERE graph_id = %s AND user_id = %s "
                "AND NOT is_deleted ORDER BY created_at DESC LIMIT %s")


@dataclass
class Entry:
    """One library entry as the command side sees it."""

    agent: LibraryAgent
    graph: Graph

    @property
    def facts(self) -> GraphFacts:
        return GraphFacts(exists=self.graph.exists, owner_id=self.graph.user_id,
                          versions=frozenset(self.graph.versions), active_version=self.graph.active_version)


class LibraryCommands:
    def __init__(self, store: EventStore, graphs: GraphCommands, folders: FolderCommands,
                 reads: ReadModelReader | None = None, now: Callable[[], datetime] = utcnow) -> None:
        self.store = store  # the library log
        self.reads = reads  # run figures for the answers; None (no read models): zero figures
        self.graphs = graphs
        self.folders = folders
        self.now = now

    # -- loading ------------------------------------------------------------------------------

    def tree(self, user_id: str) -> FolderTree:
        return self.folders.load(user_id)

    def entry(self, user_id: str, agent_id: str) -> Entry:
        """The caller's entry ``agent_id`` (it may not be visible: check with ``visible``)."""
        graph_id = graph_of_library_agent(user_id, agent_id)
        events = self.store.read_stream(uuid.UUID(agent_id))
        agent = LibraryAgent.from_events(user_id, graph_id, [(e.decode(), e.occurred_at) for e in events])
        return Entry(agent, self.graphs.load(graph_id))

    def visible(self, user_id: str, agent_id: str, tree: FolderTree | None = None) -> Entry:
        entry = self.entry(user_id, agent_id)
        tree = tree if tree is not None else self.tree(user_id)
        entry.agent.require_visible(entry.facts, frozenset(tree.deleted))
        return entry

    def _published(self, graph_id: str, graph_version: int) -> bool:
        publications = self.graphs.publications
        return publications is not None and publications.is_published(graph_id, graph_version)

    def _append(self, entry: Entry, events: list[Event]) -> None:
        if events:
            self.store.append(self.new_events(entry, events))

    def new_events(self, entry: Entry, events: list[Event]) -> list[NewEvent]:
        stream = library_agent_id(entry.agent.user_id, entry.agent.graph_id)
        base = entry.agent.stream_version
        return [NewEvent(stream, base + i + 1, event, user_id=entry.agent.user_id) for i, event in enumerate(events)]

    def _changing(self, user: User, agent_id: str, decide: Callable[[Entry, FolderTree], list[Event]]) -> dict:
        def record(loaded: tuple[Entry, FolderTree]) -> dict[str, Any]:
            entry, tree = loaded
            entry.agent.require_visible(entry.facts, frozenset(tree.deleted))
            events = decide(entry, tree)
            self._append(entry, events)
            for event in events:
                entry.agent.apply(event, self.now())
            return self.view(user, entry, tree)

        return decide_and_append(lambda: (self.entry(user.id, agent_id), self.tree(user.id)), record)

    # -- the shape ----------------------------------------------------------------------------

    def _figures(self, user_id: str, graph_id: str) -> dict[str, Any]:
        if self.reads is None:
            return run_figures(0, 0, None, [], self.now())
        counts = self.reads.one(_RUN_COUNTS, (user_id, graph_id))
        recent = self.reads.all(_RECENT_RUNS, (graph_id, user_id, RECENT_RUNS))
        runs, completed, last = (counts["runs"], counts["completed"], counts["last_run_at"]) if counts else (0, 0, None)
        return run_figures(runs, completed, last, recent, self.now())

    def view(self, user: User, entry: Entry, tree: FolderTree) -> dict[str, Any]:
        agent, graph = entry.agent, entry.graph
        version = agent.graph_version(entry.facts)
        if version not in graph.versions:
            raise NotFoundError(f"Library agent #{agent.id} not found")
        meta = graph_meta(graph_model(graph.versions[version], user_id=graph.user_id or "",
                                      created_at=graph.created_at or self.now()))
        folder = tree.folders.get(agent.folder_id) if agent.folder_id else None
        return library_agent_view(
            agent_id=agent.id, user_id=user.id, graph=meta, graph_version=version,
            graph_updated_at=graph.updated_at, created_at=graph.created_at or self.now(),
            updated_at=agent.updated_at, is_favorite=agent.is_favorite, is_archived=agent.archived(entry.facts),
            auto_update_version=agent.auto_update_version, folder_id=folder.id if folder else None,
            folder_name=folder.name if folder else None, settings=agent.settings,
            figures=self._figures(user.id, agent.graph_id))

    # -- commands -----------------------------------------------------------------------------

    def update(self, user: User, agent_id: str, *, is_favorite: bool | None = None, is_archived: bool | None = None,
               auto_update_version: bool | None = None, graph_version: int | None = None,
               settings: dict[str, Any] | None = None, folder_id: str | None = None) -> dict[str, Any]:
        """PATCH: ``folder_id`` ``None`` leaves the folder, ``""`` moves to the root."""
        def decide(entry: Entry, tree: FolderTree) -> list[Event]:
            agent = entry.agent
            if agent.from_store:  # another user's graph: only the versions the store publishes
                if auto_update_version:
                    raise InvalidCommand("A store agent stays at the version it was added at; add a newer "
                                         "version from the store instead")
                if graph_version is not None and not self._published(agent.graph_id, graph_version):
                    raise NotFoundError(f"Graph #{agent.graph_id} v{graph_version} not found")
            events = agent.update(entry.facts, is_favorite=is_favorite, is_archived=is_archived,
                                  auto_update_version=auto_update_version, graph_version=graph_version)
            if settings is not None:
                events += agent.set_settings(settings)
            if folder_id is not None:
                target = folder_id or None
                if target is not None:
                    tree.get(target)
                events += agent.move(target)
            return events

        return self._changing(user, agent_id, decide)

    def set_graph_settings(self, user: User, graph_id: str, settings: dict[str, Any]) -> dict[str, Any]:
        """``PATCH /api/graphs/{id}/settings``: the settings live on the owner's entry."""
        def decide(entry: Entry, tree: FolderTree) -> list[Event]:
            if not entry.graph.exists:
                raise NotFoundError(f"Graph #{graph_id} not found")
            return entry.agent.set_settings(settings)

        return self._changing(user, str(library_agent_id(user.id, graph_id)), decide)["settings"]

    def delete(self, user: User, agent_id: str) -> None:
        self._changing(user, agent_id, lambda entry, tree: entry.agent.delete())

    def bulk_move(self, user: User, agent_ids: list[str], folder_id: str | None) -> list[dict[str, Any]]:
        """Move the caller's entries among ``agent_ids`` in one append; ids that are not the caller's
        visible entries are skipped, as AutoGPT does."""
        def load() -> tuple[list[Entry], FolderTree]:
            tree = self.tree(user.id)
            entries = []
            for agent_id in dict.fromkeys(agent_ids):
                entry = self.entry(user.id, agent_id)
                try:
                    entry.agent.require_visible(entry.facts, frozenset(tree.deleted))
                except NotFoundError:
                    continue
                entries.append(entry)
            return entries, tree

        def record(loaded: tuple[list[Entry], FolderTree]) -> list[dict[str, Any]]:
            entries, tree = loaded
            if folder_id is not None:
                tree.get(folder_id)
            new, moved = [], []
            for entry in entries:
                events = entry.agent.move(folder_id)
                new += self.new_events(entry, events)
                moved.append((entry, events))
            if new:
                self.store.append(new)
            for entry, events in moved:
                for event in events:
                    entry.agent.apply(event, self.now())
            return [self.view(user, entry, tree) for entry in entries]

        return decide_and_append(load, record)

    def fork(self, user: User, agent_id: str) -> dict[str, Any]:
        """A new graph owned by the caller: the entry's version with fresh ids, secrets stripped,
        named "<name> (copy)" and pointing back at its source; the new entry keeps the source's
        settings (AutoGPT) but not its folder."""
        tree = self.tree(user.id)
        entry = self.visible(user.id, agent_id, tree)
        version = entry.agent.graph_version(entry.facts)
        source = graph_model(entry.graph.versions[version], user_id=user.id, created_at=self.now())
        copy = strip_for_export(source)
        copy.update(name=f"{source['name']} (copy)"[:500], forked_from_id=entry.agent.graph_id,
                    forked_from_version=version, sub_graphs=[])
        created = self.graphs.create(user, GraphInput.model_validate(copy))
        fork = self.entry(user.id, str(library_agent_id(user.id, created["id"])))
        self._append(fork, fork.agent.set_settings(entry.agent.settings))
        return self.view(user, self.entry(user.id, fork.agent.id), tree)
