"""Folds execution events into ``rm_executions`` and ``rm_node_executions``.

One small statement per event, all derived from the event itself (times are the events'
``occurred_at``), so replaying the store rebuilds identical rows; a run's ``last_seq`` is written
once per batch (``finish``).
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
    NodeInputAdded,
    NodeOutput,
    NodeQueued,
    NodeReviewed,
    NodeReviewRequested,
    NodeStarted,
)
from services.domain.executions.status import STATUS_AFTER_NODE_END, STATUS_AFTER_RUN_END

TABLES = ("rm_executions", "rm_node_executions")
_NODE_END = STATUS_AFTER_NODE_END
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


async def _node(cur: AsyncCursor, env: Envelope, e) -> None:
    if isinstance(e, NodeInputAdded):
        await cur.execute(
            "INSERT INTO rm_node_executions (node_exec_id, execution_id, node_id, block_id, status, input_data, "
            "added_seq, add_time) VALUES (%s, %s, %s, %s, 'INCOMPLETE', jsonb_build_object(%s::text, %s::jsonb), "
            "%s, %s) "
            "ON CONFLICT (node_exec_id) DO UPDATE SET input_data = rm_node_executions.input_data "
            "|| jsonb_build_object(%s::text, %s::jsonb)",
            (e.node_exec_id, env.stream_id, e.node_id, e.block_id, e.pin, Jsonb(e.value), env.stream_version,
             env.occurred_at, e.pin, Jsonb(e.value)))
    elif isinstance(e, NodeQueued):
        await cur.execute(
            "INSERT INTO rm_node_executions (node_exec_id, execution_id, node_id, block_id, status, input_data, "
            "added_seq, add_time, queue_time) VALUES (%s, %s, %s, %s, 'QUEUED', %s, %s, %s, %s) "
            "ON CONFLICT (node_exec_id) DO UPDATE SET status = 'QUEUED', input_data = EXCLUDED.input_data, "
            "queue_time = EXCLUDED.queue_time",
            (e.node_exec_id, env.stream_id, e.node_id, e.block_id, Jsonb(e.input_data), env.stream_version,
             env.occurred_at, env.occurred_at))
    elif isinstance(e, NodeStarted):
        await cur.execute("UPDATE rm_node_executions SET status = 'RUNNING', start_time = coalesce(start_time, %s) "
                          "WHERE node_exec_id = %s", (env.occurred_at, e.node_exec_id))
    elif isinstance(e, NodeReviewRequested):
        await cur.execute("UPDATE rm_node_executions SET status = 'REVIEW' WHERE node_exec_id = %s", (e.node_exec_id,))
    elif isinstance(e, NodeReviewed):
        await cur.execute("UPDATE rm_node_executions SET status = 'QUEUED' WHERE node_exec_id = %s", (e.node_exec_id,))
    elif isinstance(e, NodeOutput):
        await cur.execute(
            "UPDATE rm_node_executions SET output_data = jsonb_set(output_data, ARRAY[%s::text], "
            "coalesce(output_data -> %s::text, '[]'::jsonb) || jsonb_build_array(%s::jsonb)) WHERE node_exec_id = %s",
            (e.pin, e.pin, Jsonb(e.value), e.node_exec_id))
    else:
        await cur.execute(
            "UPDATE rm_node_executions SET status = %s, end_time = %s, stats = %s, error = %s WHERE node_exec_id = %s",
            (_NODE_END[type(e)], env.occurred_at, Jsonb(getattr(e, "stats", None) or {}),
             getattr(e, "error", None) or getattr(e, "reason", None), e.node_exec_id))


async def apply(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, ExecutionQueued):
        await _queued(cur, env, event)
        return
    if isinstance(event, (NodeInputAdded, NodeQueued, NodeStarted, NodeOutput, NodeReviewRequested, NodeReviewed,
                          *_NODE_END)):
        await _node(cur, env, event)
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


async def finish(cur: AsyncCursor, latest: list[Envelope]) -> None:
    """Each run's ``last_seq`` and ``updated_at`` from the last of its events in the batch.

    Why once per batch: every event moves them, and writing them per event was the projector's
    costliest statement (a chain of 40 nodes writes ~210 events, mostly in a few batches). The batch
    commits as one transaction, so no reader sees the rows ahead of ``last_seq`` either way."""
    await cur.executemany("UPDATE rm_executions SET last_seq = %s, updated_at = %s WHERE execution_id = %s",
                          [(env.stream_version, env.occurred_at, env.stream_id) for env in latest])
