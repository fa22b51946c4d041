"""Running one block outside any graph (``POST /api/blocks/{id}/execute`` and the external API).

The same rules as a node in a graph run: credentials resolved from the caller's references, the
block's price charged first (the same ledger entry, ``services.infra.block_charge``), input the
block refuses answered 400 before anything is charged, and a time limit.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from services.domain.blocks.base import BlockInputError, BlockType, RunContext
from services.domain.blocks.registry import get_block
from services.domain.errors import Forbidden, InvalidCommand, NotFoundError
from services.infra.block_charge import charge_block_run
from services.infra.credentials_resolver import CredentialsUnavailable
from services.infra.ledger_service import LedgerService


class DirectRunCharger:
    def __init__(self, ledger: LedgerService, cost_table) -> None:
        self.ledger = ledger
        self.cost_table = cost_table

    async def __call__(self, user_id: str, block_cls: Any, data: dict[str, Any], run_id: str) -> int:
        return await charge_block_run(self.ledger, self.cost_table, user_id, block_cls.id, data, run_id)


DIRECT_RUN_TIMEOUT_S = 60.0
_NOT_DIRECT = {BlockType.AGENT, BlockType.NOTE}


async def run_block_directly(block_id: str, data: dict[str, Any], user_id: str, kv_store=None,
                             allow_hosts: tuple[str, ...] = (), *, credentials=None, llm=None,
                             charge=None, templates=None) -> dict[str, list[Any]]:
    """Run a block once. ``credentials`` resolves the input's credential references (as in a graph
    run) and ``charge(user_id, block_cls, data, run_id)`` takes the block's price first, so platform
    keys cost the same here as in a graph."""
    block_cls = get_block(block_id)
    if block_cls is None:
        raise NotFoundError(f"Block #{block_id} not found")
    if block_cls.disabled:
        raise Forbidden(f"Block #{block_id} is disabled")
    if block_cls.block_type in _NOT_DIRECT:
        raise InvalidCommand(f"Block {block_cls.name()} cannot run outside a graph")
    ctx = RunContext(user_id=user_id, graph_id="", graph_exec_id="", node_id="", node_exec_id=str(uuid.uuid4()),
                     kv_store=kv_store, http_allow_hosts=allow_hosts, llm=llm, templates=templates)
    if credentials is not None:
        try:
            ctx.credentials = await credentials(user_id, block_cls, data)
        except CredentialsUnavailable as exc:
            raise InvalidCommand(str(exc)) from None
    try:
        block_cls().parse_input(data)  # refuse bad input before anything is charged
    except BlockInputError as exc:
        raise InvalidCommand(f"Invalid input for {block_cls.name()}: {exc}") from None
    if charge is not None:
        ctx.stats["cost"] = await charge(user_id, block_cls, data, ctx.node_exec_id)
    outputs: dict[str, list[Any]] = {}
    try:
        async with asyncio.timeout(DIRECT_RUN_TIMEOUT_S):
            async for pin, value in block_cls().execute(data, ctx):
                outputs.setdefault(pin, []).append(value)
    except BlockInputError as exc:
        raise InvalidCommand(f"Invalid input for {block_cls.name()}: {exc}") from None
    except TimeoutError:
        outputs.setdefault("error", []).append(f"Block ran longer than {DIRECT_RUN_TIMEOUT_S:g}s")
    except Exception as exc:  # noqa: BLE001 - a block failure is an answer, not a server error
        outputs.setdefault("error", []).append(str(exc) or type(exc).__name__)
    return outputs
