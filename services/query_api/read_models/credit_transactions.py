"""Ledger entries as AutoGPT's ``UserTransaction`` rows (COMPAT §5.2, ``GET /api/credits/transactions``).

The shape and defaults are AutoGPT's, because the frontend reads them: a row without usage has
``usage_start_time`` = the maximum datetime and ``usage_node_count`` = 0; a row without a time has
the minimum datetime.

Two mappings:
- ``to_user_transaction``: one entry, one row, with every field the caller can supply (the admin
  view's detail: reason, emails, current balance);
- ``group_transactions``: the user's history as AutoGPT shows it, where all USAGE entries of one
  graph execution collapse into a single "Graph #xxxxxxxx Execution" row whose amount is their
  sum and whose node count is how many charges it holds. Like AutoGPT's user view it leaves
  reason, emails, current balance and extra data empty, and grouped usage rows carry no key.

Transaction times come from the recorded events' ``occurred_at`` (the envelope), not the entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from schemas.events.credits import LedgerEntry, TransactionType

MIN_TIME = datetime.min.replace(tzinfo=UTC)
MAX_TIME = datetime.max.replace(tzinfo=UTC)


def _blank(user_id: str) -> dict[str, Any]:
    return {
        "transaction_key": "",
        "transaction_time": MIN_TIME,
        "transaction_type": TransactionType.USAGE.value,
        "amount": 0,
        "running_balance": 0,
        "current_balance": 0,
        "description": None,
        "usage_graph_id": None,
        "usage_execution_id": None,
        "usage_node_count": 0,
        "usage_start_time": MAX_TIME,
        "user_id": user_id,
        "user_email": None,
        "reason": None,
        "admin_email": None,
        "extra_data": None,
    }


def _execution_id(entry: LedgerEntry) -> str | None:
    if entry.transaction_type is TransactionType.USAGE and entry.usage is not None:
        return entry.usage.graph_exec_id or None
    return None


def _usage_description(graph_id: str | None) -> str:
    return f"Graph #{graph_id[:8] if graph_id else 'UNKNOWN'} Execution"


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def to_user_transaction(entry: LedgerEntry, *, user_id: str, transaction_time: datetime,
                        current_balance: int = 0, user_email: str | None = None,
                        admin_email: str | None = None, extra_data: str | None = None) -> dict[str, Any]:
    """One ledger entry as one ``UserTransaction`` dict."""
    row = _blank(user_id)
    moment = _as_utc(transaction_time)
    row.update(
        transaction_key=entry.transaction_key,
        transaction_time=moment,
        transaction_type=entry.transaction_type.value,
        amount=entry.amount,
        running_balance=entry.running_balance,
        current_balance=current_balance,
        description=f"{entry.transaction_type.value} Transaction",
        user_email=user_email,
        reason=entry.reason,
        admin_email=admin_email,
        extra_data=extra_data,
    )
    execution_id = _execution_id(entry)
    if execution_id is not None:
        graph_id = entry.usage.graph_id if entry.usage else None
        row.update(description=_usage_description(graph_id), usage_graph_id=graph_id,
                   usage_execution_id=execution_id, usage_node_count=1, usage_start_time=moment)
    return row


def group_transactions(rows: Iterable[tuple[LedgerEntry, datetime]], *, user_id: str) -> list[dict[str, Any]]:
    """The user's transaction history, grouped as AutoGPT groups it.

    ``rows`` are (entry, time) pairs, newest first (one page of history). Groups keep the order
    in which they first appear, so the newest activity comes first.
    """
    groups: dict[str, dict[str, Any]] = {}
    for entry, when in rows:
        moment = _as_utc(when)
        execution_id = _execution_id(entry)
        if execution_id is not None:
            row = groups.setdefault(f"exec:{execution_id}", _blank(user_id))
            graph_id = entry.usage.graph_id if entry.usage else None
            row["description"] = _usage_description(graph_id)
            row["usage_node_count"] += 1
            row["usage_start_time"] = min(row["usage_start_time"], moment)
            row["usage_execution_id"] = execution_id
            row["usage_graph_id"] = graph_id
        else:
            row = groups.setdefault(f"key:{entry.transaction_key}", _blank(user_id))
            row["description"] = f"{entry.transaction_type.value} Transaction"
            row["transaction_key"] = entry.transaction_key
        row["amount"] += entry.amount
        row["transaction_type"] = entry.transaction_type.value
        if moment > row["transaction_time"]:
            row["transaction_time"] = moment
            row["running_balance"] = entry.running_balance
    return list(groups.values())
