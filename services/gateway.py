"""One base URL for the whole API: command routes, query routes, the WebSocket and ``/health``.

``agentloom up`` serves this app; a production deployment can instead run ``serve command-api``
and ``serve query-api`` separately behind a load balancer that routes reads (GET) to the query
API and writes to the command API, since both use the same AutoGPT paths.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel

from services.command_api import app as command_app
from services.health import BrokerProbe, check, health_gauges
from services.infra.auth import TokenVerifier
from services.infra.http import use_token_verifier
from services.infra.http_errors import refusals
from services.infra.process_start import finish_start
from services.infra.settings import Settings, load_settings
from services.metrics import render as render_metrics
from services.monitor.serve import mount_monitor
from services.query_api import app as query_app
from services.query_api.api.consistency import ReadBehindHeader
from services.query_api.api.deps import ReadPool

BACKGROUND_COMPONENTS = ["relay", "projector", "executor", "notifier", "scheduler"]


class ComponentHealth(BaseModel):
    """One component: ready or not, and why not (the keys a component has no value for are absent)."""

    ready: bool
    instances: int | None = None  # live heartbeats of a background component
    details: list[Any] | None = None  # what each instance reported with its heartbeat
    error: str | None = None  # why the database could not be reached
    reasons: list[str] | None = None  # why a live consumer is stuck all the same


class Liveness(BaseModel):
    status: Literal["ok"]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    components: dict[str, ComponentHealth]


def create_app(settings: Settings, *, background: list[str] | None = None) -> FastAPI:
    expected = BACKGROUND_COMPONENTS if background is None else background

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services = command_app.CommandServices(settings)
        await services.open()
        command_app.attach(app, services)
        await query_app.open_pool(app, settings)
        yield
        await query_app.close_pool(app)
        await services.aclose()

    app = FastAPI(title="agentloom", version="0.1.0", lifespan=lifespan)
    command_app.configure(app, settings)
    verifier = use_token_verifier(app, TokenVerifier(settings))
    app.add_middleware(ReadBehindHeader)
    for router in [*command_app.routers(), *query_app.routers(settings, verifier)]:
        app.include_router(router, responses=refusals(503))  # the database away, or reads behind

    broker = BrokerProbe(settings)

    @app.get("/health", tags=["health"], response_model=Health,
             responses={503: {"model": Health, "description": "A component is down or stuck"}})
    async def health(pool: ReadPool) -> JSONResponse:
        """Readiness: red (503), each red component with its reason, when the database or the
        broker is unreachable, a background component has no fresh heartbeat, a consumer has open
        dead letters, a relay is behind the store, or executions are stuck (``services/health.py``)."""
        report = await check(pool, settings, broker, expected)
        return JSONResponse({"status": "ok" if report.ok else "unavailable", "components": report.components},
                            status_code=200 if report.ok else 503)

    app.add_api_route("/health/ready", health, methods=["GET"], tags=["health"], response_model=Health,
                      summary="Readiness (the same report as /health)",
                      responses={503: {"model": Health, "description": "A component is down or stuck"}})

    @app.get("/health/live", tags=["health"], response_model=Liveness)
    async def live() -> JSONResponse:
        """Liveness: this process answers. It does not look at the database or the broker, so an
        orchestrator does not restart the API while they are away."""
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics(pool: ReadPool) -> PlainTextResponse:
        report = await check(pool, settings, broker, expected)
        text = await render_metrics(pool) if report.components["database"]["ready"] else ""
        return PlainTextResponse(text + health_gauges(report))

    mount_monitor(app)  # the run monitor's static bundle at / (docs/monitor.md)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each API worker process builds its own app)."""
    app = create_app(load_settings())
    finish_start()
    return app
