"""The command side's composition root: the stores, the ledger and every command handler, built
once per process from the settings.

It lives under ``application`` (not beside the app factory) so the routes' typed dependencies
(``api/deps.py``) can name ``CommandServices`` without the package importing itself in a circle.
"""

from __future__ import annotations

import asyncio

from schemas.topics import CONTEXTS
from services.blocks.llm_providers.gateway import LlmGateway
from services.blocks.sandbox import TemplatePool
from services.command_api.application.api_keys import ApiKeyCommands, KeyUsage
from services.command_api.application.callbacks import CallbackCommands
from services.command_api.application.credentials import CredentialsCommands
from services.command_api.application.direct_runs import DirectRunCharger
from services.command_api.application.executions import ExecutionCommands
from services.command_api.application.folders import FolderCommands
from services.command_api.application.graphs import GraphCommands
from services.command_api.application.library import LibraryCommands
from services.command_api.application.notifications import NotificationCommands
from services.command_api.application.onboarding import OnboardingCommands
from services.command_api.application.presets import PresetCommands
from services.command_api.application.reviews import ReviewCommands
from services.command_api.application.schedules import ScheduleCommands
from services.command_api.application.sharing import ShareCommands
from services.command_api.application.store import StoreCommands
from services.command_api.application.users import UserCommands
from services.command_api.application.webhooks import WebhookCommands
from services.domain.credits.pricing import cost_table_with
from services.domain.integrations.crypto import Keyring
from services.infra import db
from services.infra.credentials_resolver import NodeCredentials
from services.infra.credentials_store import CredentialsReader
from services.infra.eventstore import EventStore, make_datastore
from services.infra.idempotency import IdempotencyKeys
from services.infra.kv import PostgresKeyValueStore
from services.infra.ledger_service import LedgerService
from services.infra.publications import Publications
from services.infra.ratelimit import RateLimiter
from services.infra.read_model_reader import ReadModelReader
from services.infra.settings import Settings


class CommandServices:
    """The command side's resources, opened once per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.datastore = make_datastore(settings)
        self.stores = {ctx: EventStore(self.datastore, ctx, max_event_bytes=settings.max_event_bytes)
                       for ctx in CONTEXTS}
        self.ledger = LedgerService.from_settings(self.stores["credits"], settings)
        self.publications = Publications(self.stores["store"])  # the graph versions others may run
        self.graph_commands = GraphCommands(self.stores["graphs"], publications=self.publications)
        self.credentials_reader = CredentialsReader.from_settings(self.stores["integrations"], settings)
        self.credentials_commands = CredentialsCommands(self.stores["integrations"], self.credentials_reader)
        self.notification_commands = NotificationCommands(self.stores["notifications"], self.ledger,
                                                          settings.public_url)
        self.execution_commands = ExecutionCommands(self.stores["executions"], self.graph_commands,
                                                    ledger=self.ledger if settings.credits_enabled else None,
                                                    credentials=self.credentials_reader,
                                                    on_refused_for_credits=self.notification_commands.run_refused_for_credits)

        self.read_models = ReadModelReader.from_settings(settings)
        self.folder_commands = FolderCommands(self.stores["library"], self.read_models)
        self.library_commands = LibraryCommands(self.stores["library"], self.graph_commands, self.folder_commands,
                                                self.read_models)
        self.preset_commands = PresetCommands(self.stores["library"], self.graph_commands, self.execution_commands)
        self.webhook_commands = WebhookCommands(self.stores["integrations"], self.graph_commands, self.preset_commands,
                                                self.execution_commands, public_url=settings.public_url)
        self.graph_commands.after_delete.append(self.webhook_commands.end_for_graph)
        self.preset_commands.after_delete.append(self.webhook_commands.preset_deleted)
        self.store_commands = StoreCommands(self.stores["store"], self.graph_commands, self.library_commands)

        self.review_commands = ReviewCommands(self.stores["executions"], self.read_models)
        self.share_commands = ShareCommands(self.execution_commands, settings.public_url)
        self.api_key_commands = ApiKeyCommands(self.stores["apikeys"], settings.api_key_secret)
        self.callback_commands = CallbackCommands(self.stores["callbacks"], Keyring.parse(settings.credentials_keys),
                                                  allow_hosts=settings.http_allow_hosts)
        self.user_commands = UserCommands(self.stores["users"], self.stores["notifications"])
        self.schedule_commands = ScheduleCommands(self.stores["schedules"], self.graph_commands,
                                                  self.execution_commands, self.preset_commands, self.user_commands,
                                                  self.read_models)
        self.graph_commands.after_delete.append(self.schedule_commands.end_for_graph)
        self.store_commands.after_unpublish.append(self.schedule_commands.end_for_unpublished)
        self.store_commands.after_unpublish.append(self.webhook_commands.end_for_unpublished)
        self.onboarding_commands = OnboardingCommands(self.stores["users"], self.user_commands,
                                                      ledger=self.ledger if settings.credits_enabled else None,
                                                      rewards=settings.onboarding_rewards)

        self.block_charger = (DirectRunCharger(self.ledger, cost_table_with(settings.block_costs))
                              if settings.credits_enabled else None)
        self.llm: LlmGateway | None = None
        self.kv_pool = None
        self.counter_pool = None
        self.kv_store = None
        self.rate_limiter: RateLimiter | None = None
        self.idempotency_keys: IdempotencyKeys | None = None
        self.key_usage: KeyUsage | None = None
        self.templates = TemplatePool.from_settings(settings)  # template workers start on first render

    async def open(self) -> None:
        """Async resources: the key/value store used when blocks run directly, the shared rate
        limit counters, API key last-use records and Idempotency-Key answers (one small pool for all)."""
        self.read_models.open()
        self.kv_pool = db.make_async_pool(self.settings, min_size=1, max_size=8)
        await self.kv_pool.open()
        self.kv_store = PostgresKeyValueStore(self.kv_pool)
        # Rate-limit counters: commits that skip the WAL flush, on connections of their own
        self.counter_pool = db.make_async_pool(self.settings, min_size=1, max_size=4, durable_commits=False)
        await self.counter_pool.open()
        self.rate_limiter = RateLimiter(self.counter_pool, self.settings.rate_limit_execute_per_minute)
        self.key_usage = KeyUsage(self.kv_pool)
        # Idempotency-Key claims and answers, the answers sealed with the credentials keyring
        self.idempotency_keys = IdempotencyKeys(self.kv_pool, Keyring.parse(self.settings.credentials_keys))
        self.llm = LlmGateway.from_settings(self.settings)

    def block_ports(self) -> dict:
        """What a direct block run needs from this process (``run_block_directly`` keywords)."""
        return {"kv_store": self.kv_store, "allow_hosts": tuple(self.settings.http_allow_hosts),
                "credentials": NodeCredentials(self.credentials_reader), "llm": self.llm,
                "charge": self.block_charger, "templates": self.templates}

    async def aclose(self) -> None:
        await self.templates.aclose()
        await asyncio.to_thread(self.read_models.close)
        if self.llm is not None:
            await self.llm.aclose()
        for pool in (self.kv_pool, self.counter_pool):
            if pool is not None:
                await pool.close()
        self.datastore.close()
