"""Charging a block run outside any graph (``POST /api/blocks/{id}/execute``): the same price and
ledger entry as a node in a graph run (``services.infra.block_charge``)."""

from __future__ import annotations

from typing import Any

from services.infra.block_charge import charge_block_run
from services.infra.ledger_service import LedgerService


class DirectRunCharger:
    def __init__(self, ledger: LedgerService, cost_table) -> None:
        self.ledger = ledger
        self.cost_table = cost_table

    async def __call__(self, user_id: str, block_cls: Any, data: dict[str, Any], run_id: str) -> int:
        return await charge_block_run(self.ledger, self.cost_table, user_id, block_cls.id, data, run_id)
