"""Charging one run of a block (AutoGPT §2.7): the price for this input, spent from the user's
ledger under ``USAGE-{run id}``, so a run retried after a crash is never charged twice.

Shared by the executor (a node in a graph run) and the command API (``POST /api/blocks/{id}/execute``),
so a platform-paid block costs the same and leaves the same ledger entry on either path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from schemas.events.credits import UsageMetadata
from services.domain.blocks.registry import get_block
from services.domain.credits.pricing import block_usage_cost
from services.infra.ledger_service import LedgerService


async def charge_block_run(ledger: LedgerService, cost_table, user_id: str, block_id: str,
                           input_data: Mapping[str, Any], run_id: str,
                           before_spend: Callable[[], Awaitable[None]] | None = None, **usage: Any) -> int:
    """Spend the block's price (0: nothing recorded); ``usage`` adds graph/node fields to the
    entry's metadata. ``before_spend`` is awaited first when there is a price (the executor makes
    the node's start durable there, so its id, the spend's key, cannot change in a re-run).
    Raises ``InsufficientBalance`` when the balance cannot cover it."""
    cost, matched = block_usage_cost(block_id, input_data, cost_table)
    if cost <= 0:
        return 0
    if before_spend is not None:
        await before_spend()
    block = get_block(block_id)
    name = block.name() if block else block_id
    metadata = UsageMetadata(node_exec_id=run_id, block_id=block_id, block=name, input=matched, **usage)
    await asyncio.to_thread(ledger.spend, user_id, cost, f"USAGE-{run_id}", metadata, f"Ran block {block_id} {name}")
    return cost
