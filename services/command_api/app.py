"""The command API: validates commands and records events. It never reads a read model."""

from __future__ import annotations

from contextlib import asynccontextmanager

from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import APIRouter, FastAPI

from services.command_api.api import (
    api_keys,
    blocks,
    credentials,
    credits,
    email,
    executions,
    external,
    external_callbacks,
    external_owned,
    graphs,
    library,
    notifications,
    onboarding,
    reviews,
    schedules,
    store,
    users,
    webhooks,
)
from services.command_api.application.bootstrap import CommandServices
from services.infra.auth import TokenVerifier
from services.infra.body_limits import BodyLimitMiddleware
from services.infra.http import use_token_verifier
from services.infra.http_errors import database_unavailable, install_error_handlers, refusals
from services.infra.process_start import finish_start
from services.infra.route_index import index_routes
from services.infra.settings import Settings, load_settings

__all__ = ["CommandServices", "app_from_env", "attach", "configure", "create_app", "routers"]


def routers() -> list[APIRouter]:
    return [graphs.build_router(), executions.build_router(), blocks.build_router(), credits.build_router(),
            api_keys.build_router(), credentials.build_router(), external.build_router(),
            external_callbacks.build_router(), external_owned.build_router(), users.build_router(),
            onboarding.build_router(), email.build_router(),
            notifications.build_router(), library.build_router(), library.build_graph_settings_router(),
            store.build_router(), schedules.build_router(), webhooks.build_router(), reviews.build_router()]


def attach(app: FastAPI, services: CommandServices) -> None:
    """Where the routes' typed dependencies (``api/deps.py``) find the handlers."""
    app.state.command_services = services


def configure(app: FastAPI, settings: Settings) -> None:
    """What any app serving the command routes needs besides its routes: the body limits and the
    one error table (the gateway calls this too)."""
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth)
    install_error_handlers(app)
    index_routes(app)  # dispatch looks only at the routes a path can match
    # the event store's own names for a database that went away (after its retries)
    for error in (StoreOperationalError, StoreInterfaceError):
        app.add_exception_handler(error, database_unavailable)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services = CommandServices(settings)
        await services.open()
        attach(app, services)
        yield
        await services.aclose()

    app = FastAPI(title="agentloom command API", lifespan=lifespan)
    configure(app, settings)
    use_token_verifier(app, TokenVerifier(settings))
    for router in routers():
        app.include_router(router, responses=refusals(503))  # the database away
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each API worker process builds its own app)."""
    app = create_app(load_settings())
    finish_start()
    return app
