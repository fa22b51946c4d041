"""The executor service: a consumer-group member that drives the executions of its partitions.

Every event of an execution is keyed by the execution id, so one partition (and one executor)
owns it. Any event of an execution this instance does not know and has not seen finish makes it
load the execution from the store and drive it: a fresh ``ExecutionQueued`` starts it, events
left by a previous owner (after a crash or rebalance) resume it. A stop request makes the owner
abandon its in-memory run and resume from the store, where the stop is now recorded, so the run
ends TERMINATED.

Fairness (audit F4): a run waits for an execution slot of its user (``Slots``: at most
``executor_max_running_per_user`` per user inside ``executor_max_concurrent_graphs``, freed slots
handed round-robin between users with waiting runs), and each node for one of its user's
``executor_max_nodes_per_user`` node slots. A parent waiting on a child lends its slot. A run
waiting for a slot is already registered, so it holds its partition's offset like a running one.

Kafka offsets are committed per partition only up to the first message of the oldest execution
still running or waiting there, so a crash hands every unfinished execution to the next owner.

Poison (DESIGN §2.7): an execution that keeps failing for a reason retrying will not cure is
parked as a dead letter and stops holding a slot and an offset (``poison.py``, which also runs
the loop that picks up operator decisions). On ``agentloom deadletters retry`` the owner of the
execution's partition drives it again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import orjson
import psycopg
from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from services.domain.blocks.base import RunContext
from services.domain.executions.reuse import ReuseTable
from services.domain.executions.state import ExecutionState, NodeExec
from services.domain.executions.status import TERMINAL_EVENT_TYPES, ExecutionStatus
from services.executor.poison import POISON_AFTER, RETRY_POLL_S, DeadLetters, control_loop, is_transient
from services.executor.ports import StoreChildRunner
from services.executor.resources import ExecutorResources
from services.executor.runner import ExecutionRunner
from services.executor.scheduling.fair import NodeQuota, RunLease, Slots
from services.infra import deadletters
from services.infra.checkpoints import Checkpoints
from services.infra.execution_refs import state_refs
from services.infra.execution_stream import load_state
from services.infra.kafka import ensure_topics, make_consumer, partition_for_key
from services.infra.kafka_records import record_type
from services.infra.kv import PostgresKeyValueStore
from services.infra.settings import Settings

log = logging.getLogger(__name__)
RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0)


def group_id(settings: Settings) -> str:
    return f"{settings.topic_prefix}.executor.runs"


@dataclass
class RunHandle:
    execution_id: str
    partition: TopicPartition
    first_offset: int | None  # None: holds no offset (a dead letter being retried)
    user_id: str = ""
    position: int | None = None  # log position of the first message seen (names a dead letter)
    event_type: str | None = None
    dead_letter_id: int | None = None  # set while driving a retried dead letter
    task: asyncio.Task | None = None


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: ExecutorService) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked) -> None:
        await self.service.release(set(revoked))

    async def on_partitions_assigned(self, assigned) -> None:
        log.info("executor assigned %s", sorted(tp.partition for tp in assigned))


class ExecutorService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topic("executions")
        self.running: dict[str, RunHandle] = {}  # driven or waiting for a slot
        self.finished: OrderedDict[str, None] = OrderedDict()
        self.consumed: dict[TopicPartition, int] = {}
        self.slots = Slots(settings.executor_max_concurrent_graphs, settings.executor_max_running_per_user)
        self.node_quota = NodeQuota(settings.executor_max_nodes_per_user)
        self.dead_letters = DeadLetters()  # its pool is set on start
        self.retry_poll_s = RETRY_POLL_S
        self.consumer = None
        self.ready = False
        self.started_runs = 0
        self._committed: dict[TopicPartition, int] = {}  # the offsets last committed per partition
        self.checkpoints = Checkpoints(settings, group_id(settings), {self.topic: "executions"})
        self.res: ExecutorResources | None = None  # opened by ``run``, closed when it ends

    def status(self) -> tuple[bool, dict]:
        commits = self.res.writer.commits if self.res else 0
        return self.ready, {"running": self.slots.held, "waiting": self.slots.waiting, "started": self.started_runs,
                            "commits": commits, "dead_letters": self.dead_letters.open}

    @property
    def parked(self) -> set[str]:
        """Dead-lettered executions: their messages are ignored."""
        return self.dead_letters.parked

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self.res = res = await ExecutorResources.open(self.settings)
        self.dead_letters.pool = res.control_pool
        control = asyncio.create_task(control_loop(stop, interval=lambda: self.retry_poll_s,
                                                   poll=self._poll_dead_letters, prune=res.counter.prune))
        try:
            while not stop.is_set():
                try:
                    await self._consume(stop)
                except (KafkaError, OSError) as exc:
                    log.warning("executor: broker trouble (%s); reconnecting", exc)
                    await asyncio.sleep(1.0)
        finally:
            self.ready = False
            control.cancel()
            await asyncio.gather(control, return_exceptions=True)
            await self.release(None)
            await res.aclose()
            self.res = None

    async def _consume(self, stop: asyncio.Event) -> None:
        await ensure_topics(self.settings, ("executions",))
        try:
            await self._poll_dead_letters()  # parked executions are known before their messages come
        except (psycopg.Error, OSError) as exc:
            log.warning("executor: could not read dead letters (%s); the next pass will", exc)
        await self.checkpoints.subscribe()
        consumer = make_consumer(self.settings, group_id=group_id(self.settings), max_poll_interval_ms=300_000)
        consumer.subscribe([self.topic], listener=_Rebalance(self))
        await consumer.start()
        self.consumer = consumer
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=100, max_records=1000)
                for tp, messages in batch.items():
                    for message in messages:
                        self.consumed[tp] = message.offset
                        self.checkpoints.seen(tp, message)
                        self._on_message(tp, message)
                self.ready = bool(consumer.assignment())
                await self._commit(consumer)
                await self.checkpoints.save()
            await self._drain()
            await self._commit(consumer)  # the runs that finished while draining
        finally:
            self.ready = False
            self.consumer = None
            await self.release(None)
            await consumer.stop()
            await self.checkpoints.close()

    async def _drain(self) -> None:
        """Graceful shutdown (SIGTERM): take no more work and let the nodes already running finish
        and record, for at most ``executor_drain_s``. A node inside its block is not cut short, so a
        shutdown never makes the next owner repeat its effects (an HTTP call, an email); the nodes
        that had not started, and any still running at the deadline, resume from the store there."""
        self.ready = False
        self.node_quota.close()
        try:
            async with asyncio.timeout(self.settings.executor_drain_s):
                await self.node_quota.idle()
                while True:  # a run whose last node just finished still records its end
                    await self.res.writer.idle()
                    await asyncio.sleep(0.02)
                    if self.res.writer.is_idle:
                        break
        except TimeoutError:
            log.warning("executor: %d node(s) still running after %gs; their next owner resumes them",
                        self.node_quota.held, self.settings.executor_drain_s)

    async def _commit(self, consumer) -> None:
        offsets = {}
        for tp, last in self.consumed.items():
            if tp not in consumer.assignment():
                continue
            pending = [h.first_offset for h in self.running.values()
                       if h.partition == tp and h.first_offset is not None]
            offset = min(pending) if pending else last + 1
            if self._committed.get(tp) != offset:  # unchanged offsets are not sent again (idle polls)
                offsets[tp] = offset
        if offsets:
            try:
                await self.checkpoints.commit(consumer, offsets)
                self._committed.update(offsets)
            except KafkaError as exc:
                log.info("offset commit skipped: %s", exc)

    # -- dispatch ------------------------------------------------------------------------------

    def _on_message(self, tp: TopicPartition, message) -> None:
        execution_id = message.key.decode() if message.key else ""
        event_type = record_type(message) or ""
        handle = self.running.get(execution_id)
        if handle is not None:
            # a stop, or decided reviews of a run whose drive is just letting go as it pauses
            if event_type in ("ExecutionStopRequested", "ExecutionResumed"):
                self._restart(handle)
            return
        if execution_id in self.finished or execution_id in self.parked:
            return
        if event_type in TERMINAL_EVENT_TYPES:
            self._remember_finished(execution_id)
            return
        if event_type == "ExecutionPausedForReview":
            return  # written by the run's last drive as it let go; its decisions come as new events
        user_id, position = _envelope_fields(message.value)
        handle = RunHandle(execution_id, tp, message.offset, user_id, position, event_type)
        self.running[execution_id] = handle
        # A stop needs no slot: the run only records its end.
        handle.task = asyncio.create_task(self._drive(handle, admit=event_type != "ExecutionStopRequested"))

    def _restart(self, handle: RunHandle) -> None:
        old = handle.task
        if old is not None:
            old.cancel()
        handle.task = asyncio.create_task(self._drive(handle, after=old, admit=False))

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
        for tp in list(self._committed):
            if partitions is None or tp in partitions:
                self._committed.pop(tp, None)  # another owner may commit it meanwhile
        if partitions is not None:
            self.checkpoints.forget(partitions)

    def _remember_finished(self, execution_id: str) -> None:
        self.finished[execution_id] = None
        while len(self.finished) > 100_000:
            self.finished.popitem(last=False)

    # -- driving one execution -----------------------------------------------------------------

    async def _drive(self, handle: RunHandle, after: asyncio.Task | None = None, admit: bool = True) -> None:
        if after is not None:
            await asyncio.gather(after, return_exceptions=True)
        lease = RunLease(self.slots, handle.user_id)
        try:
            if admit:
                await lease.admit()  # the user's fair turn
            done = await self._drive_admitted(handle, lease)
        finally:
            lease.close()
        if self.running.get(handle.execution_id) is handle and handle.task is asyncio.current_task():
            self.running.pop(handle.execution_id, None)
            if done:
                self._remember_finished(handle.execution_id)

    async def _drive_admitted(self, handle: RunHandle, lease: RunLease) -> bool:
        """Drive to the end (True), or until it waits for review or is parked as poison (False)."""
        attempt = failures = 0
        while True:
            try:
                self.res.writer.reset(uuid.UUID(handle.execution_id))
                state = await asyncio.to_thread(load_state, self.res.executions, handle.execution_id)
                if state.version == 0:
                    log.warning("execution %s has no events in the store; ignoring", handle.execution_id)
                    return True
                if not state.is_terminal:
                    self.started_runs += 1
                    await self._runner(state, lease, await self._reuse_table(state)).run()
                if handle.dead_letter_id is not None:
                    await self.dead_letters.resolve(handle)
                # a run paused for review is not finished: the decision's events bring it back
                return state.status != ExecutionStatus.REVIEW
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - lost a write race or the database: resume
                if not is_transient(exc):
                    failures += 1
                    if failures >= POISON_AFTER and await self.dead_letters.park(handle, exc):
                        return False
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                log.warning("execution %s interrupted (%s: %s); resuming from the store in %.2fs",
                            handle.execution_id, type(exc).__name__, exc, delay)
                attempt += 1
                await asyncio.sleep(delay)

    async def _reuse_table(self, state: ExecutionState) -> ReuseTable | None:
        """A retry's or fork's view of the run it branches off, as it stood at the branch point,
        with its large values read back (the outputs taken over are the values, not references)."""
        branch = state.branched_from
        if branch is None:
            return None
        source = await asyncio.to_thread(load_state, self.res.executions, branch.execution_id, upto=branch.at_seq)
        if source.user_id != state.user_id:  # the command checked this; never cross users
            return None
        refs = state_refs(source)
        if refs and self.res.blobs is not None:
            await refs.resolve(self.res.blobs, source.user_id)
        return ReuseTable(source, state)

    def _runner(self, state: ExecutionState, lease: RunLease | None = None,
                reuse: ReuseTable | None = None) -> ExecutionRunner:
        return ExecutionRunner(state, self.res.writer, context_factory=functools.partial(self._context, lease=lease),
                               node_timeout_s=self.settings.node_timeout_s,
                               max_node_executions=self.settings.max_node_executions, charge=self.res.charger,
                               credentials=self.res.node_credentials, blobs=self.res.blobs,
                               limits=self.res.output_limits, node_slots=self.node_quota, reuse=reuse,
                               safe_mode=self.res.safe_mode)

    def _context(self, state: ExecutionState, ne: NodeExec, lease: RunLease | None = None) -> RunContext:
        stats: dict = {}
        return RunContext(
            user_id=state.user_id, graph_id=state.graph_id, graph_version=state.graph_version,
            graph_exec_id=state.id, node_id=ne.node_id, node_exec_id=ne.id,
            kv_store=PostgresKeyValueStore(self.res.kv_pool),
            child_runner=StoreChildRunner(self.res.executions, self.res.graphs, state, ne.id, stats,
                                          blobs=self.res.blobs,
                                          limits=self.res.output_limits,
                                          child_limits=self.res.child_limits, lender=lease,
                                          publications=self.res.publications),
            http_allow_hosts=tuple(self.settings.http_allow_hosts), llm=self.res.llm, stats=stats,
            templates=self.res.templates)

    # -- retried dead letters ------------------------------------------------------------------

    async def _poll_dead_letters(self) -> None:
        for dead_letter in await self.dead_letters.poll():
            await self._retry(dead_letter)

    async def _retry(self, dead_letter: deadletters.DeadLetter) -> None:
        """Drive a retried dead letter again, if this instance owns its partition."""
        execution_id = dead_letter.stream_id
        tp = self._partition_of(execution_id)
        if tp is None or execution_id in self.running:
            return
        self.parked.discard(execution_id)
        self.finished.pop(execution_id, None)
        try:
            first = await asyncio.to_thread(self.res.executions.read_stream, uuid.UUID(execution_id), upto=1)
            user_id = (first[0].user_id or "") if first else ""
        except Exception:  # noqa: BLE001 - the run itself will fail and be parked again
            user_id = ""
        if execution_id in self.running:
            return
        handle = RunHandle(execution_id, tp, None, user_id, dead_letter.position, dead_letter.event_type,
                           dead_letter_id=dead_letter.id)
        self.running[execution_id] = handle
        handle.task = asyncio.create_task(self._drive(handle))

    def _partition_of(self, execution_id: str) -> TopicPartition | None:
        """The partition the relay sends this execution's events to, if this instance owns it."""
        consumer = self.consumer
        partitions = sorted(consumer.partitions_for_topic(self.topic) or ()) if consumer else []
        if not partitions:
            return None
        tp = TopicPartition(self.topic, partition_for_key(execution_id.encode(), partitions, partitions))
        return tp if tp in consumer.assignment() else None


def _envelope_fields(value: bytes | None) -> tuple[str, int | None]:
    """``(user_id, position)`` of a Kafka envelope; blanks if it does not decode (the run is then
    loaded from the store anyway, and parked if that fails too)."""
    try:
        data = orjson.loads(value or b"")
        position = data.get("position")
        return str(data.get("user_id") or ""), position if isinstance(position, int) else None
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        return "", None
