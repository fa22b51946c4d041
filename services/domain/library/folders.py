"""The FolderTree aggregate: every library folder of one user, in one stream (pure).

One stream per user (``folder_tree_id``) makes the tree a consistency boundary: nesting depth,
cycles and sibling names are decided against the whole tree at the version the command loaded, so
two concurrent moves (A into B, B into A) cannot both pass; the second one reloads and is refused.

Rules (AutoGPT's, with two kept stricter on purpose): at most five levels; a folder cannot move
into itself or below itself (409); a name is unique among its siblings, the root included (409,
AutoGPT only enforces it under a parent); a move checks the height of the subtree it carries, not
only the target's depth. Deleting a folder deletes everything under it; agents in those folders
are deleted with them (AutoGPT's soft delete), which their entries read from this tree.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from schemas.events.base import Event
from schemas.events.library import FolderCreated, FolderDeleted, FolderMoved, FolderUpdated
from services.domain.errors import ConflictError, InvalidCommand, NotFoundError
from services.domain.library.rules import MAX_FOLDER_DEPTH, MAX_FOLDERS_PER_USER


@dataclass
class Folder:
    id: str
    name: str
    parent_id: str | None
    icon: str | None
    color: str | None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class FolderTree:
    user_id: str
    folders: dict[str, Folder] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    stream_version: int = 0

    # -- folding ------------------------------------------------------------------------------

    @classmethod
    def from_events(cls, user_id: str, events: list[tuple[Event, datetime]]) -> FolderTree:
        tree = cls(user_id)
        for event, at in events:
            tree.apply(event, at)
        return tree

    def apply(self, event: Event, at: datetime | None = None) -> None:
        self.stream_version += 1
        if isinstance(event, FolderCreated):
            self.folders[event.folder_id] = Folder(event.folder_id, event.name, event.parent_id, event.icon,
                                                   event.color, at, at)
        elif isinstance(event, FolderUpdated):
            folder = self.folders[event.folder_id]
            folder.name = event.name if event.name is not None else folder.name
            folder.icon = event.icon if event.icon is not None else folder.icon
            folder.color = event.color if event.color is not None else folder.color
            folder.updated_at = at
        elif isinstance(event, FolderMoved):
            folder = self.folders[event.folder_id]
            folder.parent_id, folder.updated_at = event.parent_id, at
        elif isinstance(event, FolderDeleted):
            for folder_id in event.folder_ids or [event.folder_id]:
                self.folders.pop(folder_id, None)
                self.deleted.add(folder_id)

    # -- reads --------------------------------------------------------------------------------

    def get(self, folder_id: str) -> Folder:
        folder = self.folders.get(folder_id)
        if folder is None:
            raise NotFoundError(f"Folder #{folder_id} not found")
        return folder

    def depth(self, folder_id: str | None) -> int:
        """Levels from the root down to and including ``folder_id`` (0 for the root itself)."""
        levels = 0
        while folder_id is not None:
            levels += 1
            folder_id = self.folders[folder_id].parent_id
        return levels

    def children(self, folder_id: str | None) -> list[Folder]:
        return [f for f in self.folders.values() if f.parent_id == folder_id]

    def subtree(self, folder_id: str) -> list[str]:
        """``folder_id`` and every folder under it, parents before children."""
        order, queue = [], [folder_id]
        while queue:
            current = queue.pop(0)
            order.append(current)
            queue.extend(f.id for f in self.children(current))
        return order

    def height(self, folder_id: str) -> int:
        """Levels in the subtree rooted at ``folder_id`` (1 for a leaf)."""
        return 1 + max((self.height(child.id) for child in self.children(folder_id)), default=0)

    # -- decisions ----------------------------------------------------------------------------

    def _check_parent(self, parent_id: str | None, carried_height: int) -> None:
        if parent_id is not None and parent_id not in self.folders:
            raise NotFoundError(f"Parent folder #{parent_id} not found")
        if self.depth(parent_id) + carried_height > MAX_FOLDER_DEPTH:
            raise InvalidCommand(f"Maximum folder nesting depth of {MAX_FOLDER_DEPTH} exceeded")

    def _check_name(self, name: str, parent_id: str | None, except_id: str | None = None) -> None:
        for sibling in self.children(parent_id):
            if sibling.id != except_id and sibling.name == name:
                raise ConflictError("A folder with this name already exists in this location")

    def create(self, name: str, parent_id: str | None, icon: str | None, color: str | None,
               folder_id: str | None = None) -> list[Event]:
        if len(self.folders) >= MAX_FOLDERS_PER_USER:
            raise ConflictError(f"A library holds at most {MAX_FOLDERS_PER_USER} folders")
        self._check_parent(parent_id, 1)
        self._check_name(name, parent_id)
        return [FolderCreated(user_id=self.user_id, folder_id=folder_id or str(uuid.uuid4()), name=name,
                              parent_id=parent_id, icon=icon, color=color)]

    def update(self, folder_id: str, *, name: str | None, icon: str | None, color: str | None) -> list[Event]:
        folder = self.get(folder_id)
        name = name if name is not None and name != folder.name else None
        icon = icon if icon is not None and icon != folder.icon else None
        color = color if color is not None and color != folder.color else None
        if name is not None:
            self._check_name(name, folder.parent_id, except_id=folder_id)
        if name is None and icon is None and color is None:
            return []
        return [FolderUpdated(user_id=self.user_id, folder_id=folder_id, name=name, icon=icon, color=color)]

    def move(self, folder_id: str, parent_id: str | None) -> list[Event]:
        folder = self.get(folder_id)
        if parent_id == folder_id:
            raise ConflictError("Cannot move folder into itself")
        if parent_id is not None and parent_id in self.subtree(folder_id):
            raise ConflictError("Cannot move folder into its own descendant")
        if parent_id == folder.parent_id:
            return []
        self._check_parent(parent_id, self.height(folder_id))
        self._check_name(folder.name, parent_id, except_id=folder_id)
        return [FolderMoved(user_id=self.user_id, folder_id=folder_id, parent_id=parent_id)]

    def delete(self, folder_id: str) -> list[Event]:
        self.get(folder_id)
        return [FolderDeleted(user_id=self.user_id, folder_id=folder_id, folder_ids=self.subtree(folder_id))]
