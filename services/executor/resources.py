"""What the executor opens at start and closes at stop, in one place.

The service drives runs; this builds what they run on: the stores and the group-commit writer,
the pools (key-value and control statements on one, the non-durable node counter on its own),
node charging with the deployment's ledger policy, child-execution limits, credentials, the LLM
gateway, the template worker pool, blobs and output limits. Built once per process, so every run
shares them, and nothing exists half-built: the service holds either all of them or none.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.blocks.http_connections import close_this_loops_connections
from services.blocks.llm_providers.gateway import LlmGateway
from services.blocks.sandbox import TemplatePool
from services.domain.credits.pricing import cost_table_with
from services.executor.charging import NodeCharger, NodeCounter
from services.executor.ports import ChildLimits
from services.executor.runner import OutputLimits
from services.executor.safe_mode import SafeModeReader
from services.executor.writer import GroupCommitWriter
from services.infra import db
from services.infra.blobs import BlobStore
from services.infra.credentials_resolver import NodeCredentials
from services.infra.credentials_store import CredentialsReader
from services.infra.eventstore import EventStore, make_datastore
from services.infra.ledger_service import LedgerService
from services.infra.publications import Publications
from services.infra.ratelimit import RateLimiter
from services.infra.settings import Settings


@dataclass
class ExecutorResources:
    datastore: object
    executions: EventStore
    graphs: EventStore
    publications: Publications  # the store's published graph versions (store agents' sub-agents)
    writer: GroupCommitWriter
    kv_pool: object  # also the control pool: dead letters and child limits are short statements
    counter_pool: object
    counter: NodeCounter
    charger: NodeCharger | None
    child_limits: ChildLimits
    node_credentials: NodeCredentials
    llm: LlmGateway
    templates: TemplatePool
    blobs: BlobStore
    output_limits: OutputLimits
    safe_mode: SafeModeReader  # a graph's human_in_the_loop_safe_mode (review nodes wait while on)

    @property
    def control_pool(self):
        return self.kv_pool

    @classmethod
    async def open(cls, settings: Settings) -> ExecutorResources:
        datastore = make_datastore(settings, pool_size=4)
        executions = EventStore(datastore, "executions", max_event_bytes=settings.max_event_bytes)
        writer = GroupCommitWriter(executions)
        writer.start()
        kv_pool = db.make_async_pool(settings, min_size=1, max_size=6, check=True)  # a block's own storage
        await kv_pool.open()
        # Node numbers (the surcharge count) are taken for every node: a pool of their own whose
        # commits skip the WAL flush, so they never queue behind blob or key-value writes.
        counter_pool = db.make_async_pool(settings, min_size=1, max_size=3, durable_commits=False)
        await counter_pool.open()
        counter = NodeCounter(counter_pool)
        charger = None
        if settings.credits_enabled:
            charger = NodeCharger(LedgerService.from_settings(EventStore(datastore, "credits"), settings),
                                  cost_table_with(settings.block_costs), counter=counter,
                                  count_threshold=settings.execution_cost_count_threshold,
                                  cost_per_threshold=settings.execution_cost_per_threshold)
        return cls(
            datastore=datastore, executions=executions, graphs=EventStore(datastore, "graphs"),
            publications=Publications(EventStore(datastore, "store")), writer=writer,
            kv_pool=kv_pool, counter_pool=counter_pool, counter=counter, charger=charger,
            child_limits=ChildLimits(kv_pool, max_descendants=settings.max_descendants_per_execution,
                                     rate_limiter=RateLimiter(counter_pool, settings.rate_limit_execute_per_minute)),
            node_credentials=NodeCredentials(
                CredentialsReader.from_settings(EventStore(datastore, "integrations"), settings)),
            llm=LlmGateway.from_settings(settings),
            templates=TemplatePool.from_settings(settings),  # workers start on first render
            blobs=BlobStore(kv_pool),  # large node outputs, out of line
            output_limits=OutputLimits.from_settings(settings),  # built once, shared by every run
            safe_mode=SafeModeReader(EventStore(datastore, "library")))

    async def aclose(self) -> None:
        await self.writer.close()
        await self.llm.aclose()
        await close_this_loops_connections()  # the web requests' kept connections
        await self.templates.aclose()
        await self.kv_pool.close()
        await self.counter_pool.close()
        self.datastore.close()
