"""``GET /api/blocks``: every enabled block in AutoGPT's block dict shape."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Depends

from services.common.auth import User
from services.common.http import json_response
from services.common.blocks.registry import enabled_blocks
from services.common.pricing import block_costs


@lru_cache(maxsize=1)
def _catalogue() -> list[dict[str, Any]]:
    items = []
    for block in sorted(enabled_blocks(), key=lambda b: b.name()):
        item = block.to_dict()
        item.pop("disabled", None)
        item["costs"] = block_costs(block.id)
        items.append(item)
    return items


def build_router(current_user) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["blocks"])

    @router.get("/blocks", summary="Every enabled block with its input and output schema")
    async def list_blocks(user: User = Depends(current_user)):
        return json_response(_catalogue())

    return router
