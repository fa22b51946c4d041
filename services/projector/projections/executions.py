"""Folds execution events into ``rm_executions`` and ``rm_node_executions``.

Every value is derived from the events themselves (times are the events' ``occurred_at``), so
replaying the store rebuilds identical rows. A run's own events are one small statement each; a
node's events in a batch are folded into one statement (``node_rows``); a run's ``last_seq`` is
written once per batch.
"""

from __future__ import annotations

from psycopg import AsyncCursor
from psycopg.types.json import Jsonb

from schemas.envelope import Envelope
from schemas.events.executions import (
    ExecutionDeleted,
    ExecutionPausedForReview,
    ExecutionQueued,
    ExecutionResumed,
    ExecutionShared,
    ExecutionStarted,
    ExecutionUnshared,
    NodeReviewRequested,
)
from services.domain.executions.status import STATUS_AFTER_RUN_END
from services.projector.projections.node_rows import NODE_EVENTS, NodeRows

TABLES = ("rm_executions", "rm_node_executions")
_EXEC_END = STATUS_AFTER_RUN_END


async def _queued(cur: AsyncCursor, env: Envelope, e: ExecutionQueued) -> None:
    await cur.execute(
        "INSERT INTO rm_executions (execution_id, user_id, graph_id, graph_version, status, inputs, "
        "nodes_input_masks, credential_inputs, preset_id, parent_execution_id, is_dry_run, created_at, updated_at, "
        "last_seq) VALUES (%s, %s, %s, %s, 'QUEUED', %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (env.stream_id, e.user_id, e.graph_id, e.graph_version, Jsonb(e.inputs),
         Jsonb(e.nodes_input_masks) if e.nodes_input_masks else None,
         Jsonb(e.credentials_inputs) if e.credentials_inputs else None, e.preset_id, e.parent_execution_id,
         e.is_dry_run, env.occurred_at, env.occurred_at, env.stream_version))


class Executions:
    """The executions projection for one applied batch: run rows one statement per event, node
    rows one statement per node (``node_rows``), each run's ``last_seq`` once."""

    def __init__(self) -> None:
        self.nodes = NodeRows()

    async def apply(self, cur: AsyncCursor, env: Envelope, event) -> None:
        if isinstance(event, NODE_EVENTS):
            self.nodes.add(env, event)
            if isinstance(event, NodeReviewRequested):  # the reviews projection reads the row next
                await self.nodes.write(cur)
        else:
            await _run(cur, env, event)

    async def finish(self, cur: AsyncCursor, latest: list[Envelope]) -> None:
        await self.nodes.write(cur)
        await _last_seq(cur, latest)


async def _run(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, ExecutionQueued):
        await _queued(cur, env, event)
    elif isinstance(event, (ExecutionPausedForReview, ExecutionResumed)):
        status = "REVIEW" if isinstance(event, ExecutionPausedForReview) else "RUNNING"
        await cur.execute("UPDATE rm_executions SET status = %s WHERE execution_id = %s", (status, env.stream_id))
    elif isinstance(event, ExecutionShared):
        await cur.execute("UPDATE rm_executions SET share_token = %s, shared_at = %s WHERE execution_id = %s",
                          (event.share_token, env.occurred_at, env.stream_id))
    elif isinstance(event, ExecutionUnshared):
        await cur.execute("UPDATE rm_executions SET share_token = NULL, shared_at = NULL WHERE execution_id = %s",
                          (env.stream_id,))
    elif isinstance(event, ExecutionDeleted):
        await cur.execute("UPDATE rm_executions SET is_deleted = true WHERE execution_id = %s", (env.stream_id,))
    elif isinstance(event, ExecutionStarted):
        await cur.execute("UPDATE rm_executions SET status = 'RUNNING', started_at = coalesce(started_at, %s) "
                          "WHERE execution_id = %s AND status IN ('QUEUED', 'INCOMPLETE')",
                          (env.occurred_at, env.stream_id))
    elif type(event) in _EXEC_END:
        await cur.execute(
            "UPDATE rm_executions SET status = %s, ended_at = %s, stats = %s, error = %s WHERE execution_id = %s",
            (_EXEC_END[type(event)], env.occurred_at, Jsonb(event.stats.model_dump()),
             getattr(event, "error", None), env.stream_id))


async def _last_seq(cur: AsyncCursor, latest: list[Envelope]) -> None:
    """Each run's ``last_seq`` and ``updated_at`` from the last of its events in the batch.

    Why once per batch: every event moves them, and writing them per event was the projector's
    costliest statement (a chain of 40 nodes writes ~210 events, mostly in a few batches). The batch
    commits as one transaction, so no reader sees the rows ahead of ``last_seq`` either way."""
    await cur.executemany("UPDATE rm_executions SET last_seq = %s, updated_at = %s WHERE execution_id = %s",
                          [(env.stream_version, env.occurred_at, env.stream_id) for env in latest])
