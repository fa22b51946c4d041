"""The query API: serves reads from the read models (and, later, the WebSocket).

It never imports the command side, the executor or eventsourcing; it reads PostgreSQL through
its own async pool.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from services.common import db
from services.common.auth import TokenVerifier
from services.common.http import install_error_handlers, user_dependency
from services.common.settings import Settings
from services.query_api.api import blocks, executions, graphs
from services.query_api.read_models.fence import wait_for_read_models


def fence_dependency(settings: Settings):
    """``Depends(fenced("graphs"))`` makes a route wait until the read models caught up."""

    def fenced(context: str):
        async def wait(request: Request) -> None:
            await wait_for_read_models(request.app.state.read_pool, context, settings.read_fence_timeout_s)

        return wait

    return fenced


def routers(settings: Settings):
    current_user = user_dependency(TokenVerifier(settings))
    fenced = fence_dependency(settings)
    return [graphs.build_router(current_user, fenced), executions.build_router(current_user, fenced),
            blocks.build_router(current_user)]


async def open_pool(app: FastAPI, settings: Settings):
    pool = db.make_async_pool(settings, min_size=2, max_size=settings.db_pool_size)
    await pool.open()
    app.state.read_pool = pool
    return pool


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        pool = await open_pool(app, settings)
        yield
        await pool.close()

    app = FastAPI(title="agentloom query API", lifespan=lifespan)
    install_error_handlers(app)
    for router in routers(settings):
        app.include_router(router)
    return app
