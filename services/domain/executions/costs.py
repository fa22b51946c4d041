"""AutoGPT's ``UserExecutionCostSummary``: what a user's runs in a window cost, in credits (AutoGPT
counts them in cents), and the rules of the window.

The figures come from two read models: the runs from ``rm_executions`` (created in the window, not
deleted, not dry runs, as AutoGPT counts them) and each run's cost from the ledger's USAGE entries
(``rm_credit_transactions``), so a run still going shows what it has been charged so far, not the
0 its stats hold until it ends.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel

from services.domain.errors import InvalidCommand
from services.domain.executions.status import ExecutionStatus

MAX_TOP_RUNS = 50  # AutoGPT's bound on top_runs_limit
MAX_BY_AGENT = 50  # the costliest graphs listed in by_agent
MAX_WINDOW = timedelta(days=366)  # a year of daily rows at most: every figure scans the window


class UserAgentCostRollup(BaseModel):
    graph_id: str
    cost_cents: int
    run_count: int


class UserTopRun(BaseModel):
    execution_id: str
    graph_id: str
    cost_cents: int
    started_at: datetime
    status: ExecutionStatus
    duration_seconds: float
    node_error_count: int


class UserDailyCost(BaseModel):
    date: date
    cost_cents: int
    run_count: int


class UserExecutionCostSummary(BaseModel):
    total_cents: int
    run_count: int
    billable_run_count: int
    failed_cost_cents: int
    success_run_count: int
    failed_run_count: int
    review_run_count: int
    total_duration_seconds: float
    duration_run_count: int
    by_agent: list[UserAgentCostRollup]
    top_runs: list[UserTopRun]
    daily: list[UserDailyCost]


def as_utc(moment: datetime) -> datetime:
    """A time without an offset is UTC (as AutoGPT reads one)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def cost_window(since: datetime | None, until: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The window a summary covers: from the start of the current calendar month (UTC) to now
    unless given; ``since`` after ``until``, or a window over ``MAX_WINDOW``, is refused."""
    end = as_utc(until) if until is not None else now
    start = as_utc(since) if since is not None else now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start > end:
        raise InvalidCommand("`since` must be earlier than or equal to `until`.")
    if end - start > MAX_WINDOW:
        raise InvalidCommand(f"The window may span at most {MAX_WINDOW.days} days.")
    return start, end
