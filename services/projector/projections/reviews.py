"""Folds human-review events into ``rm_human_reviews`` (``GET /api/review/*``).

A request opens a WAITING row with the node's resolved input as its payload (a HumanInTheLoop
block's ``data``), read from the node's row that this same projection pass keeps; a decision
makes it APPROVED or REJECTED; the node's end marks it processed. A node that ends while still
waiting (its run was stopped) closes its review as REJECTED with the reason.
"""

from __future__ import annotations

from psycopg import AsyncCursor
from psycopg.types.json import Jsonb

from schemas.envelope import Envelope
from schemas.events.executions import NodeReviewed, NodeReviewRequested
from services.domain.executions.review import review_payload
from services.domain.executions.status import STATUS_AFTER_NODE_END

TABLES = ("rm_human_reviews",)


async def _requested(cur: AsyncCursor, env: Envelope, e: NodeReviewRequested) -> None:
    await cur.execute(
        "SELECT n.block_id, n.input_data, n.node_id, x.user_id, x.graph_id, x.graph_version "
        "FROM rm_node_executions n JOIN rm_executions x ON x.execution_id = n.execution_id "
        "WHERE n.node_exec_id = %s", (e.node_exec_id,))
    row = await cur.fetchone()
    if row is None:  # never: the node's rows are projected before its review (one stream, in order)
        return
    block_id, input_data, node_id, user_id, graph_id, graph_version = row
    await cur.execute(
        "INSERT INTO rm_human_reviews (node_exec_id, execution_id, user_id, graph_id, graph_version, node_id, "
        "block_id, kind, payload, instructions, editable, status, created_at, updated_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'WAITING', %s, %s) "
        "ON CONFLICT (node_exec_id) DO UPDATE SET kind = EXCLUDED.kind, payload = EXCLUDED.payload, "
        "instructions = EXCLUDED.instructions, editable = EXCLUDED.editable, status = 'WAITING', "
        "review_message = NULL, reviewed_data = NULL, was_edited = false, processed = false, "
        "created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, reviewed_at = NULL",
        (e.node_exec_id, env.stream_id, user_id, graph_id, graph_version, node_id, block_id, e.kind,
         Jsonb(review_payload(block_id, input_data)), e.instructions, e.editable, env.occurred_at,
         env.occurred_at))


async def apply(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, NodeReviewRequested):
        await _requested(cur, env, event)
    elif isinstance(event, NodeReviewed):
        await cur.execute(
            "UPDATE rm_human_reviews SET status = %s, review_message = %s, reviewed_data = %s, was_edited = %s, "
            "reviewed_at = %s, updated_at = %s WHERE node_exec_id = %s",
            ("APPROVED" if event.approved else "REJECTED", event.message,
             Jsonb(event.reviewed_data) if event.was_edited else None, event.was_edited, env.occurred_at,
             env.occurred_at, event.node_exec_id))
    elif type(event) in STATUS_AFTER_NODE_END:
        await cur.execute(
            "UPDATE rm_human_reviews SET processed = true, updated_at = %s, "
            "status = CASE WHEN status = 'WAITING' THEN 'REJECTED' ELSE status END, "
            "review_message = CASE WHEN status = 'WAITING' THEN %s ELSE review_message END "
            "WHERE node_exec_id = %s AND NOT processed",
            (env.occurred_at, getattr(event, "reason", None) or "The node ended without a decision",
             event.node_exec_id))
