"""Response shapes only the query API answers with (the shared ones live in ``services.domain``).

Every query route hands over the dict its read model built, serialised as is, and names its shape
for OpenAPI only; ``tests/integration/test_response_shapes.py`` proves the real bodies match.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from schemas.events.credits import TransactionType
from services.domain.executions.shapes import GraphExecutionMeta


class Pagination(BaseModel):
    total_items: int
    total_pages: int
    current_page: int
    page_size: int


class GraphExecutionsPage(BaseModel):
    executions: list[GraphExecutionMeta]
    pagination: Pagination


class UserTransaction(BaseModel):
    """AutoGPT's ``UserTransaction``. A row without usage has ``usage_start_time`` = the largest
    datetime; a grouped execution row sums its charges (``usage_node_count`` of them)."""

    transaction_key: str
    transaction_time: datetime
    transaction_type: TransactionType
    amount: int
    running_balance: int
    current_balance: int
    description: str | None
    usage_graph_id: str | None
    usage_execution_id: str | None
    usage_node_count: int
    usage_start_time: datetime
    user_id: str
    user_email: str | None
    reason: str | None
    admin_email: str | None
    extra_data: str | None


class TransactionHistory(BaseModel):
    transactions: list[UserTransaction]
    next_transaction_time: datetime | None
