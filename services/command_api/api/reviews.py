"""``POST /api/review/action`` (AutoGPT's path and shapes): decide node executions waiting for
review. The reads (``/api/review/pending``, ``/api/review/execution/{id}``) are query routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.command_api.api.deps import CurrentUser, Reviews
from services.domain.executions import review
from services.infra.http import json_response, parse_uuid
from services.infra.http_errors import BODY_REFUSALS, refusals


class ReviewDecision(BaseModel):
    model_config = ConfigDict(extra="ignore")

    node_exec_id: str = Field(max_length=64)
    approved: bool
    reviewed_data: Any = Field(default=None, description="The reviewer's edit of what was shown (when editable)")
    message: str | None = Field(default=None, max_length=review.MAX_MESSAGE)
    auto_approve_future: bool = False


class ReviewActionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reviews: list[ReviewDecision] = Field(min_length=1, max_length=review.MAX_DECISIONS)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/review", tags=["review"], responses=refusals(401))

    @router.post("/action", summary="Approve or reject node executions waiting for review; resumes their runs",
                 responses=refusals(*BODY_REFUSALS, 404, 409))
    def review_action(body: ReviewActionRequest, user: CurrentUser, reviews: Reviews) -> Any:
        decisions = []
        for item in body.reviews:
            given = {"reviewed_data": item.reviewed_data} if "reviewed_data" in item.model_fields_set \
                and item.reviewed_data is not None else {}
            decisions.append(review.Decision(node_exec_id=parse_uuid(item.node_exec_id, "node_exec_id"),
                                             approved=item.approved, message=item.message,
                                             auto_approve_future=item.auto_approve_future, **given))
        return json_response(reviews.act(user, decisions))

    return router
