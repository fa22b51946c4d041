"""The query routes' typed dependencies: the read pool every read model query runs on, and the
read fence.

The providers are ``async`` because they only read attributes: FastAPI runs a plain ``def``
dependency in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool

from services.infra.http import CurrentUser
from services.query_api.read_models.fence import wait_for_read_models


async def read_pool(request: Request) -> AsyncConnectionPool:
    return request.app.state.read_pool


ReadPool = Annotated[AsyncConnectionPool, Depends(read_pool)]


def fenced(*contexts: str):
    """Dependency: the read waits until the read models of every one of ``contexts`` hold every
    event recorded before it arrived (``read_models/fence.py``; the contexts are waited for side by
    side). It asks for the user first, so a request without credentials is refused before it waits."""

    async def wait(request: Request, _: CurrentUser, pool: ReadPool) -> None:
        timeout = request.app.state.read_fence_timeout_s
        await asyncio.gather(*(wait_for_read_models(pool, context, timeout) for context in contexts))

    return wait
