"""The credit transaction history over ``rm_credit_transactions`` and ``rm_credit_balances``, in
AutoGPT's ``TransactionHistory`` shape (entries grouped by ``credit_transactions``)."""

from __future__ import annotations

from datetime import UTC, datetime

from psycopg.rows import dict_row

from schemas.events.credits import LedgerEntry
from services.query_api.read_models.credit_transactions import group_transactions


async def transaction_history(pool, user_id: str, before: datetime | None, kind: str | None, limit: int) -> dict:
    """A page of ``user_id``'s transactions older than ``before`` (default now), newest first, of one
    ``kind`` if given; each carries today's balance (AutoGPT's ``current_balance``), and
    ``next_transaction_time`` is where the next page starts (None on the last page)."""
    where = ["user_id = %s", "created_at < %s"]
    params: list = [user_id, before or datetime.now(UTC)]
    if kind:
        where.append("transaction_type = %s")
        params.append(kind)
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT entry, created_at FROM rm_credit_transactions WHERE {' AND '.join(where)} "  # noqa: S608
                          "ORDER BY created_at DESC, seq DESC LIMIT %s", (*params, limit))
        rows = await cur.fetchall()
        await cur.execute("SELECT balance FROM rm_credit_balances WHERE user_id = %s", (user_id,))
        balance_row = await cur.fetchone()
    entries = [(LedgerEntry.model_validate(r["entry"]), r["created_at"]) for r in rows]
    transactions = group_transactions(entries, user_id=user_id)
    balance = balance_row["balance"] if balance_row else 0
    for tx in transactions:
        tx["current_balance"] = balance
    next_time = rows[-1]["created_at"] if len(rows) == limit else None
    return {"transactions": transactions, "next_transaction_time": next_time}
