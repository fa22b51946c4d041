"""The block catalogue item (``GET /api/blocks`` on the query side, ``/blocks`` on the external API):
AutoGPT's block dict with the block's prices, built by ``pricing.block_catalogue``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.domain.credits.pricing import BlockCost


class BlockCategory(BaseModel):
    category: str
    description: str


class BlockInfo(BaseModel):
    id: str
    name: str
    inputSchema: dict[str, Any]  # noqa: N815 - AutoGPT's field names
    outputSchema: dict[str, Any]  # noqa: N815
    description: str
    categories: list[BlockCategory]
    contributors: list[dict[str, Any]]
    staticOutput: bool  # noqa: N815
    uiType: str  # noqa: N815
    costs: list[BlockCost]
