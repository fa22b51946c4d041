"""Keeps each user's run figures per graph (``rm_library_run_counts``) from the executions log: how
many runs (deleted ones leave the count), how many of them completed, when the last one started.
Library entries read them instead of counting ``rm_executions`` on every list.

It runs before the executions projection for the same event, so a deletion still sees the run's
status before the run is marked deleted.
"""

from __future__ import annotations

from psycopg import AsyncCursor

from schemas.envelope import Envelope
from schemas.events.executions import ExecutionCompleted, ExecutionDeleted, ExecutionQueued

TABLES = ("rm_library_run_counts",)


async def apply(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, ExecutionQueued):
        await cur.execute(
            "INSERT INTO rm_library_run_counts (user_id, graph_id, runs, last_run_at) VALUES (%s, %s, 1, %s) "
            "ON CONFLICT (user_id, graph_id) DO UPDATE SET runs = rm_library_run_counts.runs + 1, "
            "last_run_at = greatest(rm_library_run_counts.last_run_at, EXCLUDED.last_run_at)",
            (event.user_id, event.graph_id, env.occurred_at))
    elif isinstance(event, ExecutionCompleted):
        await cur.execute(
            "UPDATE rm_library_run_counts c SET completed = c.completed + 1 FROM rm_executions e "
            "WHERE e.execution_id = %s AND NOT e.is_deleted AND c.user_id = e.user_id AND c.graph_id = e.graph_id",
            (env.stream_id,))
    elif isinstance(event, ExecutionDeleted):
        await cur.execute(
            "UPDATE rm_library_run_counts c SET runs = c.runs - 1, "
            "completed = c.completed - (e.status = 'COMPLETED')::int FROM rm_executions e "
            "WHERE e.execution_id = %s AND NOT e.is_deleted AND c.user_id = e.user_id AND c.graph_id = e.graph_id",
            (env.stream_id,))
