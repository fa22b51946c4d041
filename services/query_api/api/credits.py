"""Credit transaction history (AutoGPT's TransactionHistory), the caller's or, for admins, any user's."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from psycopg.rows import dict_row

from schemas.events.credits import LedgerEntry, TransactionType
from services.domain.errors import Forbidden, InvalidCommand
from services.infra.http import CurrentUser, json_response
from services.infra.http_errors import refusals
from services.query_api.api.deps import ReadPool, fenced
from services.query_api.api.responses import TransactionHistory
from services.query_api.read_models.credit_transactions import group_transactions

MAX_PAGE = 1000


async def transaction_history(pool, user_id: str, before: datetime | None, kind: str | None, limit: int) -> dict:
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


def _kind(transaction_type: str | None) -> str | None:
    if transaction_type is None:
        return None
    try:
        return TransactionType(transaction_type.upper()).value
    except ValueError:
        raise InvalidCommand(f"transaction_type must be one of {[t.value for t in TransactionType]}") from None


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/credits", tags=["credits"], responses=refusals(401, 400),
                       dependencies=[Depends(fenced("credits"))])

    @router.get("/transactions", summary="The caller's credit transactions, newest first",
                response_model=TransactionHistory)
    async def transactions(user: CurrentUser, pool: ReadPool, transaction_time: datetime | None = None,
                           transaction_type: str | None = None,
                           transaction_count_limit: int = Query(100, ge=1, le=MAX_PAGE)) -> Response:
        return json_response(await transaction_history(pool, user.id, transaction_time, _kind(transaction_type),
                                                       transaction_count_limit))

    @router.get("/admin/users/{user_id}/transactions", summary="Admin: any user's credit transactions",
                response_model=TransactionHistory, responses=refusals(403))
    async def admin_transactions(user_id: str, user: CurrentUser, pool: ReadPool,
                                 transaction_time: datetime | None = None, transaction_type: str | None = None,
                                 transaction_count_limit: int = Query(100, ge=1, le=MAX_PAGE)) -> Response:
        if not user.is_admin:
            raise Forbidden("Admin access required")
        return json_response(await transaction_history(pool, user_id, transaction_time, _kind(transaction_type),
                                                       transaction_count_limit))

    return router
