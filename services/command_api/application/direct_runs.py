"""Charging a block run outside any graph (``POST /api/blocks/{id}/execute``): the same price and
ledger entry as a node in a graph run, so platform-paid blocks cost the same on either path."""

from __future__ import annotations

import asyncio
from typing import Any

from schemas.events.credits import UsageMetadata
from services.common.credits.service import LedgerService
from services.common.pricing import block_usage_cost


class DirectRunCharger:
    def __init__(self, ledger: LedgerService, cost_table) -> None:
        self.ledger = ledger
        self.cost_table = cost_table

    async def __call__(self, user_id: str, block_cls: Any, data: dict[str, Any], run_id: str) -> int:
        cost, matched = block_usage_cost(block_cls.id, data, self.cost_table)
        if cost <= 0:
            return 0
        usage = UsageMetadata(node_exec_id=run_id, block_id=block_cls.id, block=block_cls.name(), input=matched)
        await asyncio.to_thread(self.ledger.spend, user_id, cost, f"USAGE-{run_id}", usage,
                                f"Ran block {block_cls.id} {block_cls.name()}")
        return cost
