"""Runs one block to completion and collects its (pin, value) pairs: the shared helper of the block tests."""

from __future__ import annotations

import asyncio

from services.domain.blocks.base import RunContext


def run(block_cls, data, ctx=None):
    async def collect():
        return [pair async for pair in block_cls().execute(data, ctx or RunContext())]

    return asyncio.run(collect())



