"""``PendingHumanReviewModel``: AutoGPT's shape of a review, the answer of ``/api/review/*``.
``kind`` (``review`` or ``outcome_unknown``) and ``node_id`` are agentloom's additions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class PendingHumanReview(BaseModel):
    node_exec_id: str
    user_id: str
    graph_exec_id: str
    graph_id: str
    graph_version: int
    node_id: str
    kind: str
    payload: Any = None
    instructions: str | None = None
    editable: bool
    status: str  # WAITING, APPROVED or REJECTED
    review_message: str | None = None
    was_edited: bool | None = None
    processed: bool
    created_at: datetime
    updated_at: datetime | None = None
    reviewed_at: datetime | None = None
