"""Folds library events (and the graph creations that bring entries into being) into
``rm_library_agents``, ``rm_library_folders`` and ``rm_library_presets``.

An entry's row can be reached from two logs: the graphs log (``GraphCreated``, the birth of the
owner's entry) and the library log (what the user changed, and ``LibraryAgentAdded`` for a store
agent). The projector applies the two logs independently, so
either may arrive first: every write is an upsert that sets only what its event knows. Whether the
graph was deleted (the entry archived) and whether the entry's folder was deleted are read from
``rm_graphs`` and ``rm_library_folders`` at query time, so no event has to fan out to rows.
"""

from __future__ import annotations

from psycopg import AsyncCursor
from psycopg.types.json import Jsonb

from schemas.envelope import Envelope
from schemas.events.graphs import GraphCreated
from schemas.events.library import (
    FolderCreated,
    FolderDeleted,
    FolderMoved,
    FolderUpdated,
    LibraryAgentAdded,
    LibraryAgentDeleted,
    LibraryAgentMoved,
    LibraryAgentSettingsSet,
    LibraryAgentUpdated,
    PresetCreated,
    PresetDeleted,
    PresetUpdated,
)
from services.domain.library.ids import library_agent_id

TABLES = ("rm_library_agents", "rm_library_folders", "rm_library_presets")

_UPSERT = ("INSERT INTO rm_library_agents (library_agent_id, user_id, graph_id, {cols}, updated_at) "
           "VALUES (%s, %s, %s, {vals}, %s) ON CONFLICT (library_agent_id) DO UPDATE SET {sets}, "
           "updated_at = EXCLUDED.updated_at")


async def _upsert_agent(cur: AsyncCursor, env: Envelope, event, **columns) -> None:
    names = list(columns)
    sql = _UPSERT.format(cols=", ".join(names), vals=", ".join(["%s"] * len(names)),
                         sets=", ".join(f"{n} = EXCLUDED.{n}" for n in names))
    await cur.execute(sql, (env.stream_id, event.user_id, event.graph_id, *columns.values(), env.occurred_at))


async def apply_graph_event(cur: AsyncCursor, env: Envelope, event) -> None:
    """The owner's entry is born with the graph (sub-graphs created with it get one each)."""
    if isinstance(event, GraphCreated):
        await cur.execute(
            "INSERT INTO rm_library_agents (library_agent_id, user_id, graph_id, created_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (library_agent_id) DO UPDATE SET created_at = EXCLUDED.created_at",
            (library_agent_id(event.user_id, env.stream_id), event.user_id, env.stream_id, env.occurred_at))


async def _agent(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, LibraryAgentUpdated):
        columns = {k: getattr(event, k) for k in ("is_favorite", "is_archived", "auto_update_version")
                   if getattr(event, k) is not None}
        if event.graph_version is not None:
            columns.update(pinned_version=event.graph_version, auto_update_version=False)
        elif event.auto_update_version:
            columns["pinned_version"] = None
        await _upsert_agent(cur, env, event, **columns)
    elif isinstance(event, LibraryAgentMoved):
        await _upsert_agent(cur, env, event, folder_id=event.folder_id)
    elif isinstance(event, LibraryAgentSettingsSet):
        await _upsert_agent(cur, env, event, settings=Jsonb(event.settings))
    elif isinstance(event, LibraryAgentAdded):
        await _upsert_agent(cur, env, event, store_listing_version_id=event.store_listing_version_id,
                            pinned_version=event.graph_version, auto_update_version=False, is_deleted=False)
        await cur.execute("UPDATE rm_library_agents SET created_at = coalesce(created_at, %s) "
                          "WHERE library_agent_id = %s", (env.occurred_at, env.stream_id))
    elif isinstance(event, LibraryAgentDeleted):
        await _upsert_agent(cur, env, event, is_deleted=True)


async def _folder(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, FolderCreated):
        await cur.execute(
            "INSERT INTO rm_library_folders (folder_id, user_id, name, icon, color, parent_id, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (folder_id) DO NOTHING",
            (event.folder_id, event.user_id, event.name, event.icon, event.color, event.parent_id,
             env.occurred_at, env.occurred_at))
    elif isinstance(event, FolderUpdated):
        await cur.execute(
            "UPDATE rm_library_folders SET name = coalesce(%s, name), icon = coalesce(%s, icon), "
            "color = coalesce(%s, color), updated_at = %s WHERE folder_id = %s",
            (event.name, event.icon, event.color, env.occurred_at, event.folder_id))
    elif isinstance(event, FolderMoved):
        await cur.execute("UPDATE rm_library_folders SET parent_id = %s, updated_at = %s WHERE folder_id = %s",
                          (event.parent_id, env.occurred_at, event.folder_id))
    elif isinstance(event, FolderDeleted):
        await cur.execute("UPDATE rm_library_folders SET is_deleted = true, updated_at = %s "
                          "WHERE folder_id = ANY(%s::uuid[])",
                          (env.occurred_at, event.folder_ids or [event.folder_id]))


async def _preset(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, PresetCreated):
        await cur.execute(
            "INSERT INTO rm_library_presets (preset_id, user_id, graph_id, graph_version, name, description, inputs, "
            "credentials, is_active, from_execution_id, created_at, updated_at, webhook_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (preset_id) DO NOTHING",
            (env.stream_id, event.user_id, event.graph_id, event.graph_version, event.name, event.description,
             Jsonb(event.inputs), Jsonb(event.credentials), event.is_active, event.from_execution_id,
             env.occurred_at, env.occurred_at, event.webhook_id))
    elif isinstance(event, PresetUpdated):
        await cur.execute(
            "UPDATE rm_library_presets SET name = coalesce(%s, name), description = coalesce(%s, description), "
            "inputs = coalesce(%s, inputs), credentials = coalesce(%s, credentials), "
            "is_active = coalesce(%s, is_active), updated_at = %s WHERE preset_id = %s",
            (event.name, event.description, Jsonb(event.inputs) if event.inputs is not None else None,
             Jsonb(event.credentials) if event.credentials is not None else None, event.is_active,
             env.occurred_at, env.stream_id))
    elif isinstance(event, PresetDeleted):
        await cur.execute("UPDATE rm_library_presets SET is_deleted = true, updated_at = %s WHERE preset_id = %s",
                          (env.occurred_at, env.stream_id))


async def apply(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, (FolderCreated, FolderUpdated, FolderMoved, FolderDeleted)):
        await _folder(cur, env, event)
    elif isinstance(event, (PresetCreated, PresetUpdated, PresetDeleted)):
        await _preset(cur, env, event)
    else:
        await _agent(cur, env, event)
