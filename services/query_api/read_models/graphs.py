"""Graph queries over ``rm_graphs`` / ``rm_graph_versions`` (only ever the caller's graphs)."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from services.domain.graphs.rules import AGENT_EXECUTOR_BLOCK_ID

MAX_SUB_GRAPHS = 100

_VERSION_SQL = """
SELECT v.model, v.version, g.active_version
FROM rm_graph_versions v JOIN rm_graphs g ON g.graph_id = v.graph_id
WHERE v.graph_id = %(graph_id)s AND g.user_id = %(user_id)s AND NOT g.deleted
"""


def _with_active(row: dict[str, Any]) -> dict[str, Any]:
    model = dict(row["model"])
    model["is_active"] = row["version"] == row["active_version"]
    return model


async def list_active(pool: AsyncConnectionPool, user_id: str, limit: int = 250) -> list[dict[str, Any]]:
    """GraphMeta of every active version the user owns."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT v.meta AS model, v.version, g.active_version FROM rm_graphs g "
            "JOIN rm_graph_versions v ON v.graph_id = g.graph_id AND v.version = g.active_version "
            "WHERE g.user_id = %s AND NOT g.deleted ORDER BY g.updated_at DESC LIMIT %s", (user_id, limit))
        return [_with_active(r) for r in await cur.fetchall()]


async def get_version(pool: AsyncConnectionPool, user_id: str, graph_id: str,
                      version: int | None) -> dict[str, Any] | None:
    """The given version, or the newest one (AutoGPT's ``get_graph`` without a version)."""
    sql = (_VERSION_SQL + (" AND v.version = %(version)s" if version is not None else "")
           + " ORDER BY v.version DESC LIMIT 1")
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, {"graph_id": graph_id, "user_id": user_id, "version": version})
        row = await cur.fetchone()
    if row is None:
        return None
    model = _with_active(row)
    model["sub_graphs"] = await _sub_graphs(pool, user_id, model)
    return model


async def published_version(pool: AsyncConnectionPool, graph_id: str, version: int | None) -> int | None:
    """The given graph version if it is published, or (None) the highest published one."""
    extra = " AND graph_version = %(version)s" if version is not None else ""
    async with pool.connection() as conn, conn.cursor() as cur:
        await cur.execute(f"SELECT max(graph_version) FROM rm_store_publications "  # noqa: S608
                          f"WHERE graph_id = %(graph_id)s{extra}", {"graph_id": graph_id, "version": version})
        row = await cur.fetchone()
    return int(row[0]) if row and row[0] is not None else None


async def get_published(pool: AsyncConnectionPool, graph_id: str, version: int | None) -> dict[str, Any] | None:
    """A version of another user's graph that the caller may read because the store publishes it:
    exactly the given version if it is published, or without a version the highest published one
    (AutoGPT's store fallback of ``get_graph``). Sub-graphs are the owner's, as the owner reads them."""
    published = await published_version(pool, graph_id, version)
    if published is None:
        return None
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT v.model, v.version, g.active_version, g.user_id FROM rm_graph_versions v "
                          "JOIN rm_graphs g ON g.graph_id = v.graph_id WHERE v.graph_id = %s AND v.version = %s",
                          (graph_id, published))
        row = await cur.fetchone()
    if row is None:
        return None
    model = _with_active(row)
    model["sub_graphs"] = await _sub_graphs(pool, row["user_id"], model)
    return model


async def all_versions(pool: AsyncConnectionPool, user_id: str, graph_id: str) -> list[dict[str, Any]]:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_VERSION_SQL + " ORDER BY v.version DESC", {"graph_id": graph_id, "user_id": user_id})
        return [_with_active(r) for r in await cur.fetchall()]


def _references(model: dict[str, Any]) -> list[tuple[str, int | None]]:
    refs = []
    for node in model.get("nodes", []):
        if node.get("block_id") == AGENT_EXECUTOR_BLOCK_ID:
            data = node.get("input_default") or {}
            if isinstance(data.get("graph_id"), str):
                version = data.get("graph_version")
                refs.append((data["graph_id"], version if isinstance(version, int) else None))
    return refs


async def _sub_graphs(pool: AsyncConnectionPool, user_id: str, model: dict[str, Any]) -> list[dict[str, Any]]:
    """Every graph referenced by AgentExecutor nodes, breadth first, only the caller's own."""
    seen = {(model["id"], model["version"])}
    queue, found = _references(model), []
    while queue and len(found) < MAX_SUB_GRAPHS:
        graph_id, version = queue.pop(0)
        if (graph_id, version) in seen:
            continue
        seen.add((graph_id, version))
        sub = await get_version_flat(pool, user_id, graph_id, version)
        if sub is not None:
            found.append(sub)
            queue.extend(_references(sub))
    return found


async def get_version_flat(pool, user_id: str, graph_id: str, version: int | None) -> dict[str, Any] | None:
    import uuid

    try:
        uuid.UUID(graph_id)
    except ValueError:
        return None
    sql = (_VERSION_SQL + (" AND v.version = %(version)s" if version is not None else "")
           + " ORDER BY v.version DESC LIMIT 1")
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, {"graph_id": graph_id, "user_id": user_id, "version": version})
        row = await cur.fetchone()
    return _with_active(row) if row else None
