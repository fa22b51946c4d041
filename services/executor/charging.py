"""Charging a node before it runs: the block's price for this input, keyed by the node execution
id (see ``services.common.credits.block_charge``)."""

from __future__ import annotations

from typing import Any

from services.common.credits.block_charge import charge_block_run
from services.common.credits.service import LedgerService
from services.common.executions.state import ExecutionState, NodeExec


class NodeCharger:
    def __init__(self, ledger: LedgerService, cost_table) -> None:
        self.ledger = ledger
        self.cost_table = cost_table

    async def __call__(self, state: ExecutionState, ne: NodeExec, input_data: dict[str, Any]) -> int:
        return await charge_block_run(self.ledger, self.cost_table, state.user_id, ne.block_id, input_data, ne.id,
                                      graph_id=state.graph_id, graph_version=state.graph_version,
                                      graph_exec_id=state.id, node_id=ne.node_id)
