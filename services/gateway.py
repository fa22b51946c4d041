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
from services.infra.auth import TokenVerifier
from services.infra.gc_tuning import tune_gc
from services.infra.heartbeat import component_status
from services.infra.http import use_token_verifier
from services.infra.settings import Settings, load_settings
from services.metrics import dead_letter_counts, relay_backlog
from services.metrics import render as render_metrics
from services.query_api import app as query_app
from services.query_api.api.deps import ReadPool

BACKGROUND_COMPONENTS = ["relay", "projector", "executor", "notifier", "scheduler"]


class ComponentHealth(BaseModel):
    """One component: ready or not, and why not (the keys a component has no value for are absent)."""

    ready: bool
    instances: int | None = None  # live heartbeats of a background component
    details: list[Any] | None = None  # what each instance reported with its heartbeat
    error: str | None = None  # why the database could not be reached
    reasons: list[str] | None = None  # why a live consumer is stuck all the same


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
    for router in [*command_app.routers(), *query_app.routers(settings, verifier)]:
        app.include_router(router)

    @app.get("/health", tags=["health"], response_model=Health,
             responses={503: {"model": Health, "description": "A component is down or stuck"}})
    async def health(pool: ReadPool) -> JSONResponse:
        """Red (503) when a component is down, when a consumer has open dead letters, or when a
        relay has left recorded events unpublished for longer than ``health_relay_behind_s``
        (audit F2: a wedged relay still heartbeats). Each red component says why."""
        components: dict[str, dict] = {}
        problems: dict[str, list[str]] = {}
        try:
            async with pool.connection() as conn:
                await conn.execute("SELECT 1")
                components["database"] = {"ready": True}
                problems = await _consumer_problems(conn, settings)
            components.update(await component_status(pool, expected))
        except Exception as exc:  # noqa: BLE001 - health reports, never raises
            components["database"] = {"ready": False, "error": str(exc)[:200]}
        components["command_api"] = {"ready": components["database"]["ready"]}
        components["query_api"] = {"ready": components["database"]["ready"]}
        for name, reasons in problems.items():
            components.setdefault(name, {}).update(ready=False, reasons=reasons)
        ok = not problems and all(c.get("ready") for name, c in components.items() if name in {*expected, "database"})
        return JSONResponse({"status": "ok" if ok else "unavailable", "components": components},
                            status_code=200 if ok else 503)

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics(pool: ReadPool) -> PlainTextResponse:
        return PlainTextResponse(await render_metrics(pool))

    return app


async def _consumer_problems(conn, settings: Settings) -> dict[str, list[str]]:
    """``{component: [reason, ...]}`` for consumers that are stuck whatever their heartbeat says."""
    problems: dict[str, list[str]] = {}
    for consumer, count in (await dead_letter_counts(conn)).items():
        if count:
            problems.setdefault(consumer, []).append(
                f"{count} open dead letter{'s' if count != 1 else ''} (`agentloom deadletters list`)")
    for context, lag in (await relay_backlog(conn)).items():
        if lag["behind_s"] > settings.health_relay_behind_s:
            problems.setdefault("relay", []).append(
                f"{context}: {lag['head'] - lag['position']} recorded events unpublished for {lag['behind_s']:.0f} s "
                f"(store head {lag['head']}, relay position {lag['position']})")
    return problems


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each API worker process builds its own app)."""
    app = create_app(load_settings())
    tune_gc()
    return app
