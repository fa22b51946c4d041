"""Charging a node before it runs (AutoGPT §2.7): the block's price for this input, spent from the
user's ledger with the node execution id as the idempotency key, so a node re-run after a crash is
never charged twice."""

from __future__ import annotations

import asyncio
from typing import Any

from schemas.events.credits import UsageMetadata
from services.common.blocks.registry import get_block
from services.common.credits.service import LedgerService
from services.common.executions.state import ExecutionState, NodeExec
from services.common.pricing import block_usage_cost


class NodeCharger:
    def __init__(self, ledger: LedgerService, cost_table) -> None:
        self.ledger = ledger
        self.cost_table = cost_table

    async def __call__(self, state: ExecutionState, ne: NodeExec, input_data: dict[str, Any]) -> int:
        cost, matched = block_usage_cost(ne.block_id, input_data, self.cost_table)
        if cost <= 0:
            return 0
        block = get_block(ne.block_id)
        name = block.name() if block else ne.block_id
        usage = UsageMetadata(graph_id=state.graph_id, graph_version=state.graph_version, graph_exec_id=state.id,
                              node_exec_id=ne.id, node_id=ne.node_id, block_id=ne.block_id, block=name,
                              input=matched)
        await asyncio.to_thread(self.ledger.spend, state.user_id, cost, f"USAGE-{ne.id}", usage,
                                f"Ran block {ne.block_id} {name}")
        return cost
