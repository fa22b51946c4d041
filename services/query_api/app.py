"""The query API: serves reads from the read models, and the WebSocket.

It never imports the command side, the executor or eventsourcing; it reads PostgreSQL through
its own async pool.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from services.infra import db
from services.infra.auth import TokenVerifier
from services.infra.body_limits import BodyLimitMiddleware
from services.infra.http import use_token_verifier
from services.infra.http_errors import install_error_handlers, refusals
from services.infra.process_start import finish_start
from services.infra.route_index import index_routes
from services.infra.settings import Settings, load_settings
from services.query_api.api import (
    api_keys,
    audit,
    blocks,
    credentials,
    credits,
    executions,
    graphs,
    library,
    notifications,
    public,
    reviews,
    schedules,
    store,
)
from services.query_api.api.consistency import ReadBehindHeader
from services.query_api.read_models.stream_views import StreamViews
from services.query_api.ws import endpoint as ws_endpoint
from services.query_api.ws.hub import Hub


def routers(settings: Settings, verifier: TokenVerifier) -> list[APIRouter]:
    return [graphs.build_router(), executions.build_router(), blocks.build_router(), audit.build_router(),
            credits.build_router(), api_keys.build_router(), credentials.build_router(settings),
            notifications.build_router(), library.build_router(), store.build_router(), schedules.build_router(),
            reviews.build_router(), public.build_router(),
            ws_endpoint.build_router(verifier)]


async def open_pool(app: FastAPI, settings: Settings):
    """The read pool and the WebSocket hub that tails the executions log (where ``api/deps.py``
    and the WebSocket find them)."""
    pool = db.make_async_pool(settings, min_size=2, max_size=settings.db_pool_size)
    await pool.open()
    app.state.read_pool = pool
    app.state.read_fence_timeout_s = settings.read_fence_timeout_s
    app.state.execution_views = StreamViews()  # executions polled while they do not move
    app.state.list_views = StreamViews()  # lists read while their log does not move
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
    index_routes(app)  # dispatch looks only at the routes a path can match
    # reads take no bodies; the middleware refuses query strings no text parameter can carry
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth)
    app.add_middleware(ReadBehindHeader)
    verifier = use_token_verifier(app, TokenVerifier(settings))
    for router in routers(settings, verifier):
        app.include_router(router, responses=refusals(503))
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each API worker process builds its own app)."""
    app = create_app(load_settings())
    finish_start()
    return app
