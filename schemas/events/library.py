"""Events of the library context: what a user keeps of their agents.

Three kinds of stream (ids from ``services.domain.library.ids``):

- **A library agent** (id ``library_agent_id(user_id, graph_id)``): one per user and graph. An agent
  for a graph the user created needs no event to exist: the graph's ``GraphCreated`` is its birth (so
  a crash can never leave a graph without its library entry), and deleting the graph archives it. A
  store agent (another user's graph) enters with ``LibraryAgentAdded``. The stream records what the
  user changes: favourite, archived, version pinning, its folder, the graph settings, a soft delete.
  Every event names the user and the graph, so the read model can place it whichever log it sees
  first.
- **A user's folder tree** (id ``folder_tree_id(user_id)``): every folder of one user in one stream,
  so depth and cycle rules are decided against the whole tree and two concurrent moves can never
  close a loop between them.
- **A preset** (its own UUID): saved inputs and credential references for one graph version.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from schemas.events.base import Event, upcaster


class LibraryEvent(Event):
    CONTEXT: ClassVar[str] = "library"


# -- library agents -------------------------------------------------------------------------------


class LibraryAgentUpdated(LibraryEvent):
    """Fields of ``PATCH /api/library/agents/{id}`` that changed; ``None`` means unchanged."""

    TYPE: ClassVar[str] = "LibraryAgentUpdated"
    user_id: str
    graph_id: str
    is_favorite: bool | None = None
    is_archived: bool | None = None
    auto_update_version: bool | None = None
    graph_version: int | None = None


class LibraryAgentMoved(LibraryEvent):
    """The agent was put in a folder of its user's tree (``None``: the library's root)."""

    TYPE: ClassVar[str] = "LibraryAgentMoved"
    user_id: str
    graph_id: str
    folder_id: str | None = None


class LibraryAgentSettingsSet(LibraryEvent):
    """The whole graph settings map (AutoGPT's ``GraphSettings``) after the change."""

    TYPE: ClassVar[str] = "LibraryAgentSettingsSet"
    user_id: str
    graph_id: str
    settings: dict[str, Any] = Field(default_factory=dict)


class LibraryAgentAdded(LibraryEvent):
    """A store agent added to the user's library: the graph version an approved listing version
    publishes (another user's graph). Adding it again after a delete brings the entry back."""

    TYPE: ClassVar[str] = "LibraryAgentAdded"
    user_id: str
    graph_id: str
    graph_version: int
    store_listing_version_id: str


class LibraryAgentDeleted(LibraryEvent):
    """Soft delete: hidden from every library read; the graph itself is untouched."""

    TYPE: ClassVar[str] = "LibraryAgentDeleted"
    user_id: str
    graph_id: str


# -- folders (one stream per user) ---------------------------------------------------------------


class FolderCreated(LibraryEvent):
    TYPE: ClassVar[str] = "FolderCreated"
    user_id: str
    folder_id: str
    name: str
    parent_id: str | None = None
    icon: str | None = None
    color: str | None = None


class FolderUpdated(LibraryEvent):
    """The fields that changed; ``None`` means unchanged."""

    TYPE: ClassVar[str] = "FolderUpdated"
    user_id: str
    folder_id: str
    name: str | None = None
    icon: str | None = None
    color: str | None = None


class FolderMoved(LibraryEvent):
    TYPE: ClassVar[str] = "FolderMoved"
    user_id: str
    folder_id: str
    parent_id: str | None = None


class FolderDeleted(LibraryEvent):
    """The folder and every folder under it (``folder_ids``, the deleted one first); agents that were
    in them return to the root."""

    TYPE: ClassVar[str] = "FolderDeleted"
    user_id: str
    folder_id: str
    folder_ids: list[str] = Field(default_factory=list)


# -- presets --------------------------------------------------------------------------------------


class PresetCreated(LibraryEvent):
    """``credentials`` holds references only (``{id, provider, type, title}``), never a secret;
    ``from_execution_id`` names the run the inputs were copied from, if any. ``webhook_id``
    (version 2) names the trigger webhook whose deliveries run the preset (its ``inputs`` are then
    the trigger node's configuration); version 1 events upcast to ``None``: no webhook."""

    TYPE: ClassVar[str] = "PresetCreated"
    CLASS_VERSION: ClassVar[int] = 2
    user_id: str
    graph_id: str
    graph_version: int
    name: str
    description: str = ""
    inputs: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True
    from_execution_id: str | None = None
    webhook_id: str | None = None


@upcaster("PresetCreated", 1)
def _preset_created_v1(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "webhook_id": None}


class PresetUpdated(LibraryEvent):
    """The fields that changed; ``None`` means unchanged (inputs and credentials are whole maps)."""

    TYPE: ClassVar[str] = "PresetUpdated"
    name: str | None = None
    description: str | None = None
    inputs: dict[str, Any] | None = None
    credentials: dict[str, Any] | None = None
    is_active: bool | None = None


class PresetDeleted(LibraryEvent):
    TYPE: ClassVar[str] = "PresetDeleted"
