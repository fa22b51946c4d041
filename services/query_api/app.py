"""The query API: serves reads from the read models (and, later, the WebSocket).

It never imports the command side, the executor or eventsourcing; it reads PostgreSQL through
its own async pool.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from services.infra import db
from services.infra.auth import TokenVerifier
from services.infra.http import install_error_handlers, user_dependency
from services.infra.gc_tuning import tune_gc
from services.infra.settings import Settings, load_settings
from services.query_api.api import api_keys, audit, blocks, credentials, credits, executions, graphs
from services.query_api.read_models.fence import wait_for_read_models
from services.query_api.ws import endpoint as ws_endpoint
from services.query_api.ws.hub import Hub


def fence_dependency(settings: Settings):
    """``Depends(fenced("graphs"))`` makes a route wait until the read models caught up."""

    def fenced(context: str):
        async def wait(request: Request) -> None:
            await wait_for_read_models(request.app.state.read_pool, context, settings.read_fence_timeout_s)

        return wait

    return fenced


def routers(settings: Settings):
    verifier = TokenVerifier(settings)
    current_user = user_dependency(verifier)
    fenced = fence_dependency(settings)
    return [graphs.build_router(current_user, fenced), executions.build_router(current_user, fenced),
            blocks.build_router(current_user), audit.build_router(current_user), credits.build_router(current_user, fenced),
            api_keys.build_router(current_user, fenced), credentials.build_router(current_user, fenced, settings),
            ws_endpoint.build_router(verifier)]


async def open_pool(app: FastAPI, settings: Settings):
    """The read pool and the WebSocket hub that tails the executions log."""
    pool = db.make_async_pool(settings, min_size=2, max_size=settings.db_pool_size)
    await pool.open()
    app.state.read_pool = pool
    app.state.ws_hub = Hub(settings, pool)
    await app.state.ws_hub.start()
    return pool


async def close_pool(app: FastAPI) -> None:
    await app.state.ws_hub.close()
    await app.state.read_pool.close()


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await open_pool(app, settings)
        yield
        await close_pool(app)

    app = FastAPI(title="agentloom query API", lifespan=lifespan)
    install_error_handlers(app)
    for router in routers(settings):
        app.include_router(router)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each API worker process builds its own app)."""
    app = create_app(load_settings())
    tune_gc()
    return app
