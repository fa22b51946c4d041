"""Folds ledger entries into ``rm_credit_transactions`` and ``rm_credit_balances`` (snapshots
change nothing a reader sees)."""

from __future__ import annotations

from psycopg import AsyncCursor
from psycopg.types.json import Jsonb

from schemas.envelope import Envelope
from schemas.events.credits import LedgerEntry, LedgerEntryEvent

TABLES = ("rm_credit_transactions", "rm_credit_balances")


async def apply(cur: AsyncCursor, env: Envelope, event) -> None:
    if not isinstance(event, LedgerEntryEvent) or env.user_id is None:
        return
    entry = LedgerEntry.from_event(event, env.stream_version)
    await cur.execute(
        "INSERT INTO rm_credit_transactions (user_id, seq, transaction_key, transaction_type, amount, "
        "running_balance, reason, admin_id, usage, entry, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (env.user_id, env.stream_version, entry.transaction_key, entry.transaction_type.value, entry.amount,
         entry.running_balance, entry.reason, getattr(event, "admin_id", None),
         Jsonb(entry.usage.model_dump(mode="json")) if entry.usage else None,
         Jsonb(entry.model_dump(mode="json")), env.occurred_at))
    await cur.execute(
        "INSERT INTO rm_credit_balances (user_id, balance, updated_at) VALUES (%s, %s, %s) "
        "ON CONFLICT (user_id) DO UPDATE SET balance = EXCLUDED.balance, updated_at = EXCLUDED.updated_at",
        (env.user_id, entry.running_balance, env.occurred_at))
