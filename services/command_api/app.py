"""The command API: validates commands and records events. It never reads a read model."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.command_api.api import api_keys, blocks, credentials, credits, errors, executions, external, graphs
from services.command_api.application.api_keys import ApiKeyCommands, KeyUsage
from services.command_api.application.credentials import CredentialsCommands
from services.command_api.application.direct_runs import DirectRunCharger
from services.command_api.application.executions import ExecutionCommands
from services.command_api.application.graphs import GraphCommands
from services.infra import db
from services.infra.eventstore import make_datastore
from schemas.topics import CONTEXTS
from services.infra.auth import TokenVerifier
from services.infra.ledger_service import LedgerService
from services.infra.kv import PostgresKeyValueStore
from services.infra.eventstore import EventStore
from services.infra.credentials_resolver import NodeCredentials
from services.infra.credentials_store import CredentialsReader
from services.blocks.llm_providers.gateway import LlmGateway
from services.domain.credits.pricing import cost_table_with
from services.infra.http import BodyLimitMiddleware, install_error_handlers, user_dependency
from services.infra.ratelimit import RateLimiter
from services.blocks.sandbox import TemplatePool
from services.infra.gc_tuning import tune_gc
from services.infra.settings import Settings, load_settings


class CommandServices:
    """The command side's resources, opened once per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.datastore = make_datastore(settings)
        self.stores = {ctx: EventStore(self.datastore, ctx, max_event_bytes=settings.max_event_bytes) for ctx in CONTEXTS}
        self.ledger = LedgerService.from_settings(self.stores["credits"], settings)
        self.graph_commands = GraphCommands(self.stores["graphs"])
        self.credentials_reader = CredentialsReader.from_settings(self.stores["integrations"], settings)
        self.credentials_commands = CredentialsCommands(self.stores["integrations"], self.credentials_reader)
        self.execution_commands = ExecutionCommands(self.stores["executions"], self.graph_commands,
                                                    ledger=self.ledger if settings.credits_enabled else None,
                                                    credentials=self.credentials_reader)

        self.api_key_commands = ApiKeyCommands(self.stores["apikeys"], settings.api_key_secret)

        self.block_charger = (DirectRunCharger(self.ledger, cost_table_with(settings.block_costs))
                              if settings.credits_enabled else None)
        self.llm: LlmGateway | None = None
        self.kv_pool = None
        self.kv_store = None
        self.rate_limiter: RateLimiter | None = None
        self.key_usage: KeyUsage | None = None
        self.templates = TemplatePool.from_settings(settings)  # template workers start on first render

    async def open(self) -> None:
        """Async resources: the key/value store used when blocks run directly, the shared rate
        limit counters and API key last-use records (one small pool for all three)."""
        self.kv_pool = db.make_async_pool(self.settings, min_size=1, max_size=8)
        await self.kv_pool.open()
        self.kv_store = PostgresKeyValueStore(self.kv_pool)
        self.rate_limiter = RateLimiter(self.kv_pool, self.settings.rate_limit_execute_per_minute)
        self.key_usage = KeyUsage(self.kv_pool)
        self.llm = LlmGateway.from_settings(self.settings)

    def block_ports(self) -> dict:
        """What a direct block run needs from this process (``run_block_directly`` keywords)."""
        return {"kv_store": self.kv_store, "allow_hosts": tuple(self.settings.http_allow_hosts),
                "credentials": NodeCredentials(self.credentials_reader), "llm": self.llm,
                "charge": self.block_charger, "templates": self.templates}

    async def aclose(self) -> None:
        await self.templates.aclose()
        if self.llm is not None:
            await self.llm.aclose()
        if self.kv_pool is not None:
            await self.kv_pool.close()
        self.datastore.close()


def routers(settings: Settings):
    current_user = user_dependency(TokenVerifier(settings))
    return [graphs.build_router(current_user), executions.build_router(current_user),
            blocks.build_router(current_user), credits.build_router(current_user),
            api_keys.build_router(current_user), credentials.build_router(current_user), external.build_router()]


def attach(app: FastAPI, services: CommandServices) -> None:
    app.state.command_services = services
    app.state.graph_commands = services.graph_commands
    app.state.execution_commands = services.execution_commands
    app.state.api_key_commands = services.api_key_commands
    app.state.credentials_commands = services.credentials_commands


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
    for router in routers(settings):
        app.include_router(router)
    return app


def configure(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth)
    install_error_handlers(app)
    errors.install(app)


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each API worker process builds its own app)."""
    app = create_app(load_settings())
    tune_gc()
    return app
