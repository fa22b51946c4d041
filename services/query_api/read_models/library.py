"""Library queries: the caller's entries (with their graph version's schemas and run figures),
folders and presets. Only ever the caller's rows.

An entry is the user's own graph or a store agent they added (another user's graph, at the version
its listing version publishes). It is visible while it is not deleted and its folder (if any) is not
deleted; it reads as archived when the user archived it or its graph was deleted. Its version is the pinned one when
following is off, else the graph's active version.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from services.domain.library.rules import normalised_settings
from services.domain.library.shapes import RECENT_RUNS, folder_tree, folder_view, library_agent_view, preset_view
from services.domain.library.shapes import run_figures as figures_of
from services.query_api.read_models.patterns import contains

_ENTRIES = """
SELECT a.library_agent_id, a.graph_id, a.store_listing_version_id, a.is_favorite,
       a.is_archived OR g.deleted AS archived, a.auto_update_version,
       a.folder_id, a.settings, coalesce(a.created_at, g.created_at) AS created_at, a.updated_at,
       g.updated_at AS graph_updated_at, v.version, v.meta, f.name AS folder_name,
       coalesce(c.runs, 0) AS runs, coalesce(c.completed, 0) AS completed, c.last_run_at
FROM rm_library_agents a
JOIN rm_graphs g ON g.graph_id = a.graph_id AND (g.user_id = a.user_id OR a.store_listing_version_id IS NOT NULL)
JOIN rm_graph_versions v ON v.graph_id = a.graph_id AND v.version = CASE
     WHEN a.pinned_version IS NOT NULL AND NOT a.auto_update_version THEN a.pinned_version
     ELSE coalesce(g.active_version, g.latest_version) END
LEFT JOIN rm_library_folders f ON f.folder_id = a.folder_id AND f.user_id = a.user_id
LEFT JOIN rm_library_run_counts c ON c.user_id = a.user_id AND c.graph_id = a.graph_id
WHERE a.user_id = %(user_id)s AND NOT a.is_deleted AND NOT coalesce(f.is_deleted, false)
"""

_RECENT = """
SELECT ids.graph_id, r.status, r.stats, r.created_at
FROM unnest(%(graph_ids)s::uuid[]) AS ids(graph_id)
CROSS JOIN LATERAL (
    SELECT status, stats, created_at FROM rm_executions e
    WHERE e.graph_id = ids.graph_id AND e.user_id = %(user_id)s AND NOT e.is_deleted
    ORDER BY e.created_at DESC LIMIT %(recent)s) r
ORDER BY ids.graph_id, r.created_at DESC
"""

SORTS = {
    "createdAt": "coalesce(a.created_at, g.created_at) ASC",
    "updatedAt": "greatest(a.updated_at, g.updated_at, a.created_at) DESC",
    "lastExecuted": "c.last_run_at DESC NULLS LAST, coalesce(a.created_at, g.created_at) DESC",
}


async def _views(cur, user_id: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    recent: dict[str, list[dict[str, Any]]] = {}
    if rows:
        await cur.execute(_RECENT, {"graph_ids": [r["graph_id"] for r in rows], "user_id": user_id,
                                  "recent": RECENT_RUNS})
        for run in await cur.fetchall():
            recent.setdefault(str(run["graph_id"]), []).append(run)
    now = datetime.now(UTC)
    return [library_agent_view(
        agent_id=str(r["library_agent_id"]), user_id=user_id, graph=r["meta"], graph_version=r["version"],
        graph_updated_at=r["graph_updated_at"], created_at=r["created_at"], updated_at=r["updated_at"],
        is_favorite=r["is_favorite"], is_archived=r["archived"], auto_update_version=r["auto_update_version"],
        folder_id=str(r["folder_id"]) if r["folder_name"] is not None else None, folder_name=r["folder_name"],
        settings=normalised_settings(r["settings"]),
        figures=figures_of(r["runs"], r["completed"], r["last_run_at"], recent.get(str(r["graph_id"]), []), now))
        for r in rows]


async def list_agents(pool: AsyncConnectionPool, user_id: str, *, search_term: str | None, sort_by: str,
                      folder_id: str | None, root_only: bool, favorites_only: bool, limit: int,
                      offset: int) -> tuple[list[dict[str, Any]], int]:
    """``(entries, total)`` of the caller's unarchived entries; a search covers every folder."""
    where, params = ["NOT a.is_archived", "NOT g.deleted"], {"user_id": user_id, "limit": limit, "offset": offset}
    if favorites_only:
        where.append("a.is_favorite")
    if search_term:
        where.append("(v.name ILIKE %(like)s OR v.meta->>'description' ILIKE %(like)s)")
        params["like"] = contains(search_term)
    elif folder_id is not None:
        where.append("a.folder_id = %(folder_id)s")
        params["folder_id"] = folder_id
    elif root_only:
        where.append("(a.folder_id IS NULL OR f.folder_id IS NULL)")
    filters = "".join(f" AND {w}" for w in where)
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT count(*) AS n FROM ({_ENTRIES}{filters}) t", params)  # noqa: S608 - fixed clauses
        total = int((await cur.fetchone())["n"])
        await cur.execute(f"{_ENTRIES}{filters} ORDER BY {SORTS[sort_by]}, a.library_agent_id "
                          "LIMIT %(limit)s OFFSET %(offset)s", params)
        return await _views(cur, user_id, await cur.fetchall()), total


async def get_agent(pool: AsyncConnectionPool, user_id: str, library_agent_id: str,
                    version: int | None = None) -> dict[str, Any] | None:
    """One entry, archived ones included (AutoGPT's get-by-id); ``version``: only if it is that one."""
    extra = " AND v.version = %(version)s" if version is not None else ""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"{_ENTRIES} AND a.library_agent_id = %(id)s{extra}",
                          {"user_id": user_id, "id": library_agent_id, "version": version})
        rows = await cur.fetchall()
        views = await _views(cur, user_id, rows)
    return views[0] if views else None


_FOLDERS = """
SELECT f.folder_id, f.name, f.icon, f.color, f.parent_id, f.created_at, f.updated_at,
       (SELECT count(*) FROM rm_library_agents a WHERE a.user_id = f.user_id AND a.folder_id = f.folder_id
          AND NOT a.is_deleted) AS agent_count,
       (SELECT count(*) FROM rm_library_folders s WHERE s.user_id = f.user_id AND s.parent_id = f.folder_id
          AND NOT s.is_deleted) AS subfolder_count
FROM rm_library_folders f WHERE f.user_id = %(user_id)s AND NOT f.is_deleted
"""


def _folder(user_id: str, r: dict[str, Any]) -> dict[str, Any]:
    return folder_view(folder_id=str(r["folder_id"]), user_id=user_id, name=r["name"], icon=r["icon"],
                       color=r["color"], parent_id=str(r["parent_id"]) if r["parent_id"] else None,
                       created_at=r["created_at"], updated_at=r["updated_at"], agent_count=int(r["agent_count"]),
                       subfolder_count=int(r["subfolder_count"]))


async def folders(pool: AsyncConnectionPool, user_id: str, *, parent_id: str | None = None,
                  everything: bool = False, folder_id: str | None = None) -> list[dict[str, Any]]:
    """Folders oldest first: every one (``everything``), one (``folder_id``) or the children of
    ``parent_id`` (None: the root's)."""
    sql, params = _FOLDERS, {"user_id": user_id, "parent_id": parent_id, "folder_id": folder_id}
    if folder_id is not None:
        sql += " AND f.folder_id = %(folder_id)s"
    elif not everything:
        sql += " AND f.parent_id = %(parent_id)s" if parent_id is not None else " AND f.parent_id IS NULL"
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql + " ORDER BY f.created_at, f.folder_id", params)
        return [_folder(user_id, r) for r in await cur.fetchall()]


async def tree(pool: AsyncConnectionPool, user_id: str) -> list[dict[str, Any]]:
    return folder_tree(await folders(pool, user_id, everything=True))


_PRESETS = ("SELECT preset_id, graph_id, graph_version, name, description, inputs, credentials, is_active, "
            "from_execution_id, created_at, updated_at, webhook_id FROM rm_library_presets "
            "WHERE user_id = %(user_id)s AND NOT is_deleted")


def _preset(user_id: str, r: dict[str, Any]) -> dict[str, Any]:
    return preset_view(preset_id=str(r["preset_id"]), user_id=user_id, graph_id=str(r["graph_id"]),
                       graph_version=r["graph_version"], name=r["name"], description=r["description"],
                       inputs=r["inputs"], credentials=r["credentials"], is_active=r["is_active"],
                       from_execution_id=str(r["from_execution_id"]) if r["from_execution_id"] else None,
                       created_at=r["created_at"], updated_at=r["updated_at"],
                       webhook_id=str(r["webhook_id"]) if r["webhook_id"] else None)


async def presets(pool: AsyncConnectionPool, user_id: str, *, graph_id: str | None, limit: int,
                  offset: int) -> tuple[list[dict[str, Any]], int]:
    where = " AND graph_id = %(graph_id)s" if graph_id else ""
    params = {"user_id": user_id, "graph_id": graph_id, "limit": limit, "offset": offset}
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT count(*) AS n FROM rm_library_presets WHERE user_id = %(user_id)s "  # noqa: S608
                          f"AND NOT is_deleted{where}", params)
        total = int((await cur.fetchone())["n"])
        await cur.execute(f"{_PRESETS}{where} ORDER BY created_at DESC, preset_id LIMIT %(limit)s "
                          "OFFSET %(offset)s", params)
        return [_preset(user_id, r) for r in await cur.fetchall()], total


async def preset(pool: AsyncConnectionPool, user_id: str, preset_id: str) -> dict[str, Any] | None:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"{_PRESETS} AND preset_id = %(id)s", {"user_id": user_id, "id": preset_id})
        row = await cur.fetchone()
    return _preset(user_id, row) if row else None
