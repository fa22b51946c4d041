"""Credit transaction history (AutoGPT's TransactionHistory), the caller's or, for admins, any user's."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from schemas.events.credits import TransactionType
from services.domain.credits.ledger import ledger_stream_id
from services.domain.errors import InvalidCommand
from services.infra.auth import User
from services.infra.http import AdminUser, CurrentUser, json_response
from services.infra.http_errors import refusals
from services.query_api.api.deps import ReadPool, fenced_stream
from services.query_api.api.responses import TransactionHistory
from services.query_api.read_models.credits import transaction_history

MAX_PAGE = 1000


def _kind(transaction_type: str | None) -> str | None:
    if transaction_type is None:
        return None
    try:
        return TransactionType(transaction_type.upper()).value
    except ValueError:
        raise InvalidCommand(f"transaction_type must be one of {[t.value for t in TransactionType]}") from None


def _path_user_ledger(request: Request, _: User) -> uuid.UUID:
    return ledger_stream_id(request.path_params.get("user_id", ""))


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/credits", tags=["credits"], responses=refusals(401, 400))

    @router.get("/transactions", summary="The caller's credit transactions, newest first",
                response_model=TransactionHistory,
                dependencies=[Depends(fenced_stream("credits", lambda _, user: ledger_stream_id(user.id)))])
    async def transactions(user: CurrentUser, pool: ReadPool, transaction_time: datetime | None = None,
                           transaction_type: str | None = None,
                           transaction_count_limit: int = Query(100, ge=1, le=MAX_PAGE)) -> Response:
        return json_response(await transaction_history(pool, user.id, transaction_time, _kind(transaction_type),
                                                       transaction_count_limit))

    @router.get("/admin/users/{user_id}/transactions", summary="Admin: any user's credit transactions",
                response_model=TransactionHistory, responses=refusals(403),
                dependencies=[Depends(fenced_stream("credits", _path_user_ledger))])
    async def admin_transactions(user_id: str, user: AdminUser, pool: ReadPool,
                                 transaction_time: datetime | None = None, transaction_type: str | None = None,
                                 transaction_count_limit: int = Query(100, ge=1, le=MAX_PAGE)) -> Response:
        return json_response(await transaction_history(pool, user_id, transaction_time, _kind(transaction_type),
                                                       transaction_count_limit))

    return router
