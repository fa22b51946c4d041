"""The executor service: a consumer-group member that drives the executions of its partitions.

Every event of an execution is keyed by the execution id, so one partition (and one executor)
owns it. Any event of an execution this instance does not know and has not seen finish makes it
load the execution from the store and drive it: a fresh ``ExecutionQueued`` starts it, events
left by a previous owner (after a crash or rebalance) resume it. A stop request makes the owner
abandon its in-memory run and resume from the store, where the stop is now recorded, so the run
ends TERMINATED.

Kafka offsets are committed per partition only up to the first message of the oldest execution
still running there, so a crash hands every unfinished execution to the next owner.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from services.common import db
from services.common.blocks.base import RunContext
from services.common.eventstore import EventStore
from services.common.executions.state import ExecutionState, NodeExec
from services.common.executions.stream import load_state
from services.common.kafka import ensure_topics, make_consumer
from services.common.settings import Settings
from services.common.credits.service import LedgerService
from services.common.kv import PostgresKeyValueStore
from services.common.pricing import cost_table_with
from services.common.integrations.store import CredentialsReader
from services.common.llm.gateway import LlmGateway
from services.common.sandbox import TemplatePool
from services.executor.charging import NodeCharger
from services.common.integrations.resolver import NodeCredentials
from services.executor.ports import StoreChildRunner
from services.common.blobs import BlobStore
from services.executor.runner import ExecutionRunner, OutputLimits
from services.executor.writer import GroupCommitWriter

log = logging.getLogger(__name__)
TERMINAL_TYPES = {"ExecutionCompleted", "ExecutionFailed", "ExecutionTerminated"}
RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0)


def group_id(settings: Settings) -> str:
    return f"{settings.topic_prefix}.executor.runs"


@dataclass
class RunHandle:
    execution_id: str
    partition: TopicPartition
    first_offset: int
    task: asyncio.Task | None = None


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: "ExecutorService") -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked) -> None:
        await self.service.release(set(revoked))

    async def on_partitions_assigned(self, assigned) -> None:
        log.info("executor assigned %s", sorted(tp.partition for tp in assigned))


class ExecutorService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topic("executions")
        self.running: dict[str, RunHandle] = {}
        self.finished: OrderedDict[str, None] = OrderedDict()
        self.consumed: dict[TopicPartition, int] = {}
        self.slots = asyncio.Semaphore(settings.executor_max_concurrent_graphs)
        self.ready = False
        self.started_runs = 0

    def status(self) -> tuple[bool, dict]:
        writer = getattr(self, "writer", None)
        return self.ready, {"running": len(self.running), "started": self.started_runs,
                            "commits": writer.commits if writer else 0}

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self.datastore = db.make_datastore(self.settings, pool_size=4)
        self.executions = EventStore(self.datastore, "executions", max_event_bytes=self.settings.max_event_bytes)
        self.graphs = EventStore(self.datastore, "graphs")
        self.writer = GroupCommitWriter(self.executions)
        self.writer.start()
        self.charger = None
        if self.settings.credits_enabled:
            ledger = LedgerService(EventStore(self.datastore, "credits"), signup_credits=self.settings.signup_credits,
                                   snapshot_every=self.settings.ledger_snapshot_every)
            self.charger = NodeCharger(ledger, cost_table_with(self.settings.block_costs))
        self.node_credentials = NodeCredentials(
            CredentialsReader.from_settings(EventStore(self.datastore, "integrations"), self.settings))
        self.llm = LlmGateway.from_settings(self.settings)
        self.templates = TemplatePool.from_settings(self.settings)  # workers start on first render
        self.kv_pool = db.make_async_pool(self.settings, min_size=1, max_size=4)
        await self.kv_pool.open()
        self.blobs = BlobStore(self.kv_pool)  # large node outputs, out of line
        try:
            while not stop.is_set():
                try:
                    await self._consume(stop)
                except (KafkaError, OSError) as exc:
                    log.warning("executor: broker trouble (%s); reconnecting", exc)
                    await asyncio.sleep(1.0)
        finally:
            self.ready = False
            await self.release(None)
            await self.writer.close()
            await self.llm.aclose()
            await self.templates.aclose()
            await self.kv_pool.close()
            self.datastore.close()

    async def _consume(self, stop: asyncio.Event) -> None:
        await ensure_topics(self.settings, ("executions",))
        consumer = make_consumer(self.settings, group_id=group_id(self.settings), max_poll_interval_ms=300_000)
        consumer.subscribe([self.topic], listener=_Rebalance(self))
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=100, max_records=1000)
                for tp, messages in batch.items():
                    for message in messages:
                        self.consumed[tp] = message.offset
                        self._on_message(tp, message)
                self.ready = bool(consumer.assignment())
                await self._commit(consumer)
        finally:
            self.ready = False
            await self.release(None)
            await consumer.stop()

    async def _commit(self, consumer) -> None:
        offsets = {}
        for tp, last in self.consumed.items():
            if tp not in consumer.assignment():
                continue
            pending = [h.first_offset for h in self.running.values() if h.partition == tp]
            offsets[tp] = min(pending) if pending else last + 1
        if offsets:
            try:
                await consumer.commit(offsets)
            except KafkaError as exc:
                log.info("offset commit skipped: %s", exc)

    # -- dispatch ------------------------------------------------------------------------------

    def _on_message(self, tp: TopicPartition, message) -> None:
        execution_id = message.key.decode() if message.key else ""
        event_type = dict(message.headers or ()).get("type", b"").decode()
        handle = self.running.get(execution_id)
        if handle is not None:
            if event_type == "ExecutionStopRequested":
                self._restart(handle)
            return
        if execution_id in self.finished:
            return
        if event_type in TERMINAL_TYPES:
            self._remember_finished(execution_id)
            return
        handle = RunHandle(execution_id, tp, message.offset)
        self.running[execution_id] = handle
        handle.task = asyncio.create_task(self._drive(handle))

    def _restart(self, handle: RunHandle) -> None:
        old = handle.task
        if old is not None:
            old.cancel()
        handle.task = asyncio.create_task(self._drive(handle, after=old))

    async def release(self, partitions: set[TopicPartition] | None) -> None:
        """Stop driving executions of lost partitions (or all): their next owner resumes them."""
        handles = [h for h in self.running.values() if partitions is None or h.partition in partitions]
        for handle in handles:
            if handle.task is not None:
                handle.task.cancel()
        await asyncio.gather(*(h.task for h in handles if h.task), return_exceptions=True)
        for handle in handles:
            self.running.pop(handle.execution_id, None)
        for tp in list(self.consumed):
            if partitions is None or tp in partitions:
                self.consumed.pop(tp, None)

    def _remember_finished(self, execution_id: str) -> None:
        self.finished[execution_id] = None
        while len(self.finished) > 100_000:
            self.finished.popitem(last=False)

    # -- driving one execution -----------------------------------------------------------------

    async def _drive(self, handle: RunHandle, after: asyncio.Task | None = None) -> None:
        if after is not None:
            await asyncio.gather(after, return_exceptions=True)
        attempt = 0
        async with self.slots:
            while True:
                try:
                    self.writer.reset(uuid.UUID(handle.execution_id))
                    state = await asyncio.to_thread(load_state, self.executions, handle.execution_id)
                    if state.version == 0:
                        log.warning("execution %s has no events in the store; ignoring", handle.execution_id)
                        break
                    if not state.is_terminal:
                        self.started_runs += 1
                        await self._runner(state).run()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - lost a write race or the database: resume
                    delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                    log.warning("execution %s interrupted (%s: %s); resuming from the store in %.2fs",
                                handle.execution_id, type(exc).__name__, exc, delay)
                    attempt += 1
                    await asyncio.sleep(delay)
        if self.running.get(handle.execution_id) is handle and handle.task is asyncio.current_task():
            self.running.pop(handle.execution_id, None)
            self._remember_finished(handle.execution_id)

    def _runner(self, state: ExecutionState) -> ExecutionRunner:
        return ExecutionRunner(state, self.writer, context_factory=self._context,
                               node_timeout_s=self.settings.node_timeout_s,
                               max_node_executions=self.settings.max_node_executions, charge=self.charger,
                               credentials=self.node_credentials, blobs=self.blobs,
                               limits=OutputLimits.from_settings(self.settings))

    def _context(self, state: ExecutionState, ne: NodeExec) -> RunContext:
        stats: dict = {}
        return RunContext(
            user_id=state.user_id, graph_id=state.graph_id, graph_version=state.graph_version,
            graph_exec_id=state.id, node_id=ne.node_id, node_exec_id=ne.id,
            kv_store=PostgresKeyValueStore(self.kv_pool),
            child_runner=StoreChildRunner(self.executions, self.graphs, state, ne.id, stats, blobs=self.blobs,
                                          limits=OutputLimits.from_settings(self.settings)),
            http_allow_hosts=tuple(self.settings.http_allow_hosts), llm=self.llm, stats=stats,
            templates=self.templates)

