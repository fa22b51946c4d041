"""``POST /api/blocks/{id}/execute``: run one block directly, outside any graph.

Body: the block's input as ``{pin: value}``. Answer: ``{output_pin: [values...]}`` (AutoGPT's
CompletedBlockOutput). 404 unknown block, 403 disabled, 400 input the block refuses.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from services.command_api.api.deps import CurrentUser, Services
from services.command_api.api.responses import CompletedBlockOutput
from services.command_api.application.direct_runs import run_block_directly
from services.infra.http_errors import BODY_REFUSALS, refusals


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["blocks"], responses=refusals(401))

    @router.post("/blocks/{block_id}/execute", summary="Run one block with the given input",
                 response_model=CompletedBlockOutput, responses=refusals(*BODY_REFUSALS, 402, 403, 404))
    async def execute_block(block_id: str, user: CurrentUser, services: Services,
                            data: dict[str, Any] = Body(default_factory=dict)) -> dict[str, list[Any]]:
        return await run_block_directly(block_id, data, user.id, **services.block_ports())

    return router
