"""Execution queries over ``rm_executions`` / ``rm_node_executions`` in AutoGPT's shapes."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from services.domain.executions.views import graph_outputs, meta_view, node_view
from services.infra.blobs import READ_BUDGET_BYTES, BlobStore, Refs
from services.infra.execution_refs import view_refs

_META_COLUMNS = ("execution_id, user_id, graph_id, graph_version, status, inputs, nodes_input_masks, "
                 "credential_inputs, preset_id, parent_execution_id, is_dry_run, stats, started_at, ended_at, "
                 "created_at, last_seq, share_token")


def meta_from_row(row: dict[str, Any]) -> dict[str, Any]:
    return meta_view(
        id=str(row["execution_id"]), user_id=row["user_id"], graph_id=str(row["graph_id"]),
        graph_version=row["graph_version"], inputs=row["inputs"], credential_inputs=row["credential_inputs"],
        nodes_input_masks=row["nodes_input_masks"], preset_id=row["preset_id"], status=row["status"],
        started_at=row["started_at"], ended_at=row["ended_at"], stats=row["stats"],
        parent_execution_id=str(row["parent_execution_id"]) if row["parent_execution_id"] else None,
        is_dry_run=row["is_dry_run"], share_token=row.get("share_token"))


def node_from_row(meta: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    return node_view(
        meta, node_exec_id=str(row["node_exec_id"]), node_id=row["node_id"], block_id=row["block_id"],
        status=row["status"], input_data=row["input_data"], output_data=row["output_data"],
        add_time=row["add_time"], queue_time=row["queue_time"], start_time=row["start_time"],
        end_time=row["end_time"], stats=row.get("stats"))


_NODE_COLUMNS = ("node_exec_id", "node_id", "block_id", "status", "input_data", "output_data", "add_time",
                 "queue_time", "start_time", "end_time", "stats")
# The run and its node executions in one round trip: one row per node execution (or one row with
# NULL node columns for a run without any), node columns prefixed ``n_`` so they cannot collide.
_GET_EXECUTION = (
    f"SELECT {', '.join('e.' + c.strip() for c in _META_COLUMNS.split(','))}, "  # noqa: S608 - fixed column lists
    + ", ".join(f"n.{c} AS n_{c}" for c in _NODE_COLUMNS)
    + " FROM rm_executions e LEFT JOIN rm_node_executions n ON n.execution_id = e.execution_id"
    " WHERE e.execution_id = %s AND e.user_id = %s AND NOT e.is_deleted ORDER BY n.added_seq")


async def get_execution_at(pool: AsyncConnectionPool, user_id: str,
                           execution_id: str) -> tuple[dict[str, Any], int] | None:
    """One execution with its node executions, and the stream version its rows were built from."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_GET_EXECUTION, (execution_id, user_id))  # fixed column lists
        rows = await cur.fetchall()
    if not rows:
        return None
    meta = meta_from_row(rows[0])
    nodes = [node_from_row(meta, {c: r[f"n_{c}"] for c in _NODE_COLUMNS}) for r in rows
             if r["n_node_exec_id"] is not None]
    found = {**meta, "node_executions": nodes}
    await resolve_values(pool, user_id, [found])
    return {**meta, "inputs": found["inputs"],
            "outputs": graph_outputs((n["block_id"], n["status"], n["input_data"]) for n in nodes),
            "node_executions": nodes}, int(rows[0]["last_seq"])


async def resolve_values(pool: AsyncConnectionPool, owner_id: str, views: list[dict[str, Any]]) -> None:
    """Real values in place of blob references in AutoGPT views of ``owner_id``'s executions
    (the read models hold what the events hold: references for large values)."""
    refs = Refs(READ_BUDGET_BYTES)
    for view in views:
        view_refs(view, refs)
    await refs.resolve(BlobStore(pool), owner_id)


async def list_executions(pool: AsyncConnectionPool, user_id: str, *, graph_id: str | None = None,
                          limit: int = 250, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    where = "user_id = %s AND NOT is_deleted" + (" AND graph_id = %s" if graph_id else "")
    params: tuple = (user_id, graph_id) if graph_id else (user_id,)
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT count(*) AS n FROM rm_executions WHERE {where}", params)  # noqa: S608
        total = (await cur.fetchone())["n"]
        await cur.execute(f"SELECT {_META_COLUMNS} FROM rm_executions WHERE {where} "  # noqa: S608
                          "ORDER BY created_at DESC, execution_id LIMIT %s OFFSET %s", (*params, limit, offset))
        rows = await cur.fetchall()
    metas = [meta_from_row(r) for r in rows]
    await resolve_values(pool, user_id, metas)
    return metas, total
