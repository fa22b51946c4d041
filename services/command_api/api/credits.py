"""Credits routes on the command side: the balance (which may apply the sign-up grant or the monthly
refill, as AutoGPT's does) and the admin grant."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from services.infra.auth import User
from services.infra.http import BODY_REFUSALS, Forbidden, refusals


class GrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=200)
    amount: int = Field(gt=0, le=2**31 - 1)
    comments: str = Field(default="", max_length=1000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


def build_router(current_user) -> APIRouter:
    router = APIRouter(prefix="/api/credits", tags=["credits"], responses=refusals(401))

    def ledger(request: Request):
        return request.app.state.command_services.ledger

    @router.get("", summary="The caller's credit balance (1 credit = 1 cent)")
    def get_credits(request: Request, user: User = Depends(current_user)) -> dict[str, Any]:
        return {"credits": ledger(request).balance(user.id)}

    @router.post("/admin/add_credits", summary="Admin: grant credits to a user (idempotent by key)",
                 responses=refusals(*BODY_REFUSALS, 403, 409))
    def add_credits(body: GrantRequest, request: Request, user: User = Depends(current_user)) -> dict[str, Any]:
        if not user.is_admin:
            raise Forbidden("Admin access required")
        key = body.idempotency_key or f"ADMIN-GRANT-{uuid.uuid4()}"
        entry = ledger(request).grant(body.user_id, body.amount, key, body.comments or None, admin_id=user.id)
        return {"new_balance": ledger(request).load(body.user_id).balance, "transaction_key": key,
                "amount": entry.amount if entry else body.amount}

    return router
