"""Credits routes on the command side: the balance (which may apply the sign-up grant or the monthly
refill, as AutoGPT's does) and the admin grant."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.command_api.api.deps import CurrentUser, Ledger
from services.command_api.api.responses import GrantedCredits, UserCredits
from services.infra.http import AdminUser, json_response
from services.infra.http_errors import BODY_REFUSALS, refusals


class GrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=200)
    amount: int = Field(gt=0, le=2**31 - 1)
    comments: str = Field(default="", max_length=1000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


def get_credits(user: CurrentUser, ledger: Ledger) -> Response:
    """The balance; served at ``/api/credits`` and at the seed's ``/api/user/credits``."""
    return json_response({"credits": ledger.balance(user.id)})


BALANCE_ROUTE = {"summary": "The caller's credit balance (1 credit = 1 cent)", "response_model": UserCredits,
                 "methods": ["GET"]}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/credits", tags=["credits"], responses=refusals(401))
    router.add_api_route("", get_credits, **BALANCE_ROUTE)

    @router.post("/admin/add_credits", summary="Admin: grant credits to a user (idempotent by key)",
                 response_model=GrantedCredits, responses=refusals(*BODY_REFUSALS, 403, 409))
    def add_credits(body: GrantRequest, user: AdminUser, ledger: Ledger) -> Response:
        key = body.idempotency_key or f"ADMIN-GRANT-{uuid.uuid4()}"
        entry = ledger.grant(body.user_id, body.amount, key, body.comments or None, admin_id=user.id)
        return json_response({"new_balance": ledger.load(body.user_id).balance, "transaction_key": key,
                              "amount": entry.amount if entry else body.amount})

    user_paths = APIRouter(prefix="/api/user", tags=["credits"], responses=refusals(401))
    user_paths.add_api_route("/credits", get_credits, **BALANCE_ROUTE)
    both = APIRouter()
    both.include_router(router)
    both.include_router(user_paths)
    return both
