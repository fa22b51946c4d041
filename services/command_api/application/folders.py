"""Folder commands: create, rename or restyle, move, delete (with everything under it).

Every command loads the user's whole tree (one stream), decides on it and appends at the version
it loaded; the folder a write answers with carries its counts from the same tree and from the
library entries' read model (agents per folder).
"""

from __future__ import annotations

from typing import Any

from schemas.events.base import Event
from services.domain.library.folders import FolderTree
from services.domain.library.ids import folder_tree_id
from services.domain.library.shapes import folder_view
from services.infra.appending import decide_and_append
from services.infra.auth import User
from services.infra.eventstore import EventStore
from services.infra.read_model_reader import ReadModelReader
from services.infra.store_contract import NewEvent, utcnow

_AGENT_COUNT = ("SELECT count(*) AS n FROM rm_library_agents WHERE user_id = %s AND folder_id = %s "
                "AND NOT is_deleted")


class FolderCommands:
    def __init__(self, store: EventStore, reads: ReadModelReader | None = None) -> None:
        self.store = store
        self.reads = reads  # agent counts for the answers; None (no read models): zero

    def load(self, user_id: str) -> FolderTree:
        events = self.store.read_stream(folder_tree_id(user_id))
        return FolderTree.from_events(user_id, [(e.decode(), e.occurred_at) for e in events])

    def _agent_count(self, user_id: str, folder_id: str) -> int:
        if self.reads is None:
            return 0
        return int(self.reads.one(_AGENT_COUNT, (user_id, folder_id))["n"])

    def view(self, tree: FolderTree, folder_id: str) -> dict[str, Any]:
        folder = tree.get(folder_id)
        return folder_view(folder_id=folder.id, user_id=tree.user_id, name=folder.name, icon=folder.icon,
                           color=folder.color, parent_id=folder.parent_id, created_at=folder.created_at,
                           updated_at=folder.updated_at, agent_count=self._agent_count(tree.user_id, folder.id),
                           subfolder_count=len(tree.children(folder.id)))

    def _change(self, user: User, decide) -> tuple[FolderTree, list[Event]]:
        def record(tree: FolderTree) -> tuple[FolderTree, list[Event]]:
            events = decide(tree)
            if events:
                base, now = tree.stream_version, utcnow()
                self.store.append([NewEvent(folder_tree_id(user.id), base + i + 1, event, user_id=user.id,
                                            occurred_at=now) for i, event in enumerate(events)])
                for event in events:
                    tree.apply(event, now)
            return tree, events

        return decide_and_append(lambda: self.load(user.id), record)

    def create(self, user: User, *, name: str, parent_id: str | None, icon: str | None,
               color: str | None) -> dict[str, Any]:
        tree, events = self._change(user, lambda t: t.create(name, parent_id, icon, color))
        return self.view(tree, events[0].folder_id)

    def update(self, user: User, folder_id: str, *, name: str | None, icon: str | None,
               color: str | None) -> dict[str, Any]:
        tree, _ = self._change(user, lambda t: t.update(folder_id, name=name, icon=icon, color=color))
        return self.view(tree, folder_id)

    def move(self, user: User, folder_id: str, parent_id: str | None) -> dict[str, Any]:
        tree, _ = self._change(user, lambda t: t.move(folder_id, parent_id))
        return self.view(tree, folder_id)

    def delete(self, user: User, folder_id: str) -> None:
        self._change(user, lambda t: t.delete(folder_id))
