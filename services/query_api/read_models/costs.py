"""The cost summary's SQL: a user's runs created in a window, each priced by its ledger entries.

Every figure is an aggregate in SQL over the one ``runs`` set (the user's runs in the window, each
with the credits its USAGE entries took), so a heavy user's month costs four index scans and a
few rows over the wire, never a row per run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from services.domain.executions.costs import MAX_BY_AGENT

# ``%(user)s``, ``%(since)s`` and ``%(until)s`` in every statement. A run's spends are recorded
# after it was created, so entries older than ``since`` cannot belong to a run in the window.
_RUNS = """
WITH spent AS (
    SELECT usage ->> 'graph_exec_id' AS execution_id, -sum(amount) AS cost
    FROM rm_credit_transactions
    WHERE user_id = %(user)s AND transaction_type = 'USAGE' AND usage IS NOT NULL
      AND usage ->> 'graph_exec_id' IS NOT NULL AND created_at >= %(since)s
    GROUP BY 1
), runs AS (
    SELECT e.execution_id, e.graph_id, e.status, e.created_at, coalesce(e.started_at, e.created_at) AS started_at,
           (e.stats ->> 'duration')::float8 AS duration, coalesce((e.stats ->> 'node_error_count')::int, 0) AS errors,
           coalesce(s.cost, 0)::bigint AS cost
    FROM rm_executions e LEFT JOIN spent s ON s.execution_id = e.execution_id::text
    WHERE e.user_id = %(user)s AND NOT e.is_deleted AND NOT e.is_dry_run
      AND e.created_at >= %(since)s AND e.created_at <= %(until)s
)
"""

_TOTALS = _RUNS + """
SELECT coalesce(sum(cost), 0)::bigint AS total_cents, count(*) AS run_count,
       count(*) FILTER (WHERE cost > 0) AS billable_run_count,
       coalesce(sum(cost) FILTER (WHERE status = 'FAILED'), 0)::bigint AS failed_cost_cents,
       count(*) FILTER (WHERE status = 'COMPLETED') AS success_run_count,
       count(*) FILTER (WHERE status = 'FAILED') AS failed_run_count,
       count(*) FILTER (WHERE status = 'REVIEW') AS review_run_count,
       coalesce(sum(duration) FILTER (WHERE duration > 0), 0)::float8 AS total_duration_seconds,
       count(*) FILTER (WHERE duration > 0) AS duration_run_count
FROM runs
"""

_BY_AGENT = _RUNS + """
SELECT graph_id::text AS graph_id, sum(cost)::bigint AS cost_cents, count(*) AS run_count
FROM runs GROUP BY graph_id ORDER BY cost_cents DESC, run_count DESC, graph_id LIMIT %(by_agent)s
"""

_TOP_RUNS = _RUNS + """
SELECT execution_id::text AS execution_id, graph_id::text AS graph_id, cost AS cost_cents, started_at, status,
       coalesce(duration, 0)::float8 AS duration_seconds, errors AS node_error_count
FROM runs ORDER BY cost DESC, created_at DESC, execution_id LIMIT %(top)s
"""

_DAILY = _RUNS + """
SELECT (created_at AT TIME ZONE 'UTC')::date AS date, sum(cost)::bigint AS cost_cents, count(*) AS run_count
FROM runs GROUP BY 1 ORDER BY 1
"""


async def cost_summary(pool: AsyncConnectionPool, user_id: str, since: datetime, until: datetime,
                       top_runs_limit: int) -> dict[str, Any]:
    """``UserExecutionCostSummary`` for ``user_id``'s runs created in ``[since, until]``."""
    params = {"user": user_id, "since": since, "until": until, "by_agent": MAX_BY_AGENT, "top": top_runs_limit}
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_TOTALS, params)
        summary = dict(await cur.fetchone())
        await cur.execute(_BY_AGENT, params)
        summary["by_agent"] = await cur.fetchall()
        await cur.execute(_TOP_RUNS, params)
        summary["top_runs"] = await cur.fetchall()
        await cur.execute(_DAILY, params)
        summary["daily"] = [{**row, "date": row["date"].isoformat()} for row in await cur.fetchall()]
    return summary
