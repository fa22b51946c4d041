"""``POST /api/blocks/{id}/execute``: run one block directly, outside any graph.

Body: the block's input as ``{pin: value}``. Answer: ``{output_pin: [values...]}`` (AutoGPT's
CompletedBlockOutput). 404 unknown block, 403 disabled, 400 input the block refuses.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Body

from services.command_api.api.deps import CurrentUser, Services
from services.command_api.api.responses import CompletedBlockOutput
from services.domain.blocks.base import BlockInputError, BlockType, RunContext
from services.domain.blocks.registry import get_block
from services.domain.errors import Forbidden, InvalidCommand, NotFoundError
from services.infra.credentials_resolver import CredentialsUnavailable
from services.infra.http_errors import BODY_REFUSALS, refusals

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


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["blocks"], responses=refusals(401))

    @router.post("/blocks/{block_id}/execute", summary="Run one block with the given input",
                 response_model=CompletedBlockOutput, responses=refusals(*BODY_REFUSALS, 402, 403, 404))
    async def execute_block(block_id: str, user: CurrentUser, services: Services,
                            data: dict[str, Any] = Body(default_factory=dict)) -> dict[str, list[Any]]:
        return await run_block_directly(block_id, data, user.id, **services.block_ports())

    return router
