"""Drives one graph execution: the I/O shell around the pure planner.

The runner asks the planner what is ready, records the planner's events through the writer and
runs blocks concurrently. Each yielded output is recorded together with the routing it caused
(inputs added, successors queued and started) in one write, and writes reach the store in the
order they were made. So every commit leaves a consistent prefix of the execution, and a new
owner can resume from it:

- QUEUED node executions run; RUNNING ones (interrupted) run once more, and the outputs they had
  already recorded are recognised by position and not recorded or routed again;
- completed node executions never run again;
- a stop request recorded in the stream ends the execution TERMINATED.

What waits for a commit (the durability rule, docs/architecture.md "Durable before it matters"):
pure work does not. Successors start as soon as an output is routed, and the write carrying it
rides in the next group commit, so a chain of pure, free blocks costs a handful of commits instead
of one per node; a crash before that commit loses only work nobody has seen, which the next owner
runs again. Everything this run wrote so far is durable (``_durable``) before anything that must
not happen twice: a block with external effects or a sub-agent starts, money moves (a block's price
or the surcharge), a review is asked for, the run ends. Readers never see an uncommitted event, and
the executor commits a run's Kafka offset only after its terminal write.

Any failure to record (lost ownership, database down) aborts the runner without a terminal event:
the service resumes the execution from the store.

Sizes (audit F2/F5): each yielded value is measured once. Over ``max_value_bytes``, or past the
run's budget of recorded output bytes (``max_run_bytes``), the node fails with a clear error and
the value is never recorded. A value over ``inline_value_bytes`` goes to the blob table and the
events (the output and the routing it caused) carry a reference; the in-memory state keeps the
real value, so the planner and the blocks never see references, and on resume the references in
the stored state are resolved before anything runs.

Dry runs (``ExecutionQueued.is_dry_run``): a block with external effects is not run; its node
yields the block's ``dry_run_output()`` (input still validated) and its stats say ``dry_run``, so
the history shows which outputs were simulated. Pure blocks run as usual. Nothing is charged: no
block price, no surcharge, and no node number is taken for the surcharge count.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from services.domain.blocks.base import BlockType, RunContext
from services.domain.credits.ledger import InsufficientBalance
from services.domain.executions import review as reviews
from services.domain.executions.reuse import REUSED_FROM
from services.domain.executions.state import ExecutionState, NodeExec
from services.domain.executions.status import PENDING_STATUSES, ExecutionStatus
from services.executor.scheduling.limits import RunLimitExceeded
from services.executor.scheduling.planner import Planner
from services.infra import blobs
from services.infra.deadletters import is_transient_db_error
from services.infra.execution_refs import Externaliser, encode, state_refs
from services.infra.settings import Settings

log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 16 * 1024  # a node's error is recorded twice (output and NodeFailed): keep it short
# Writes of one run queued and not yet durable before a yielding block waits for them (memory and
# the size of the work a crash can make the next owner repeat, for a block yielding fast).
MAX_WRITES_IN_FLIGHT = 64


@dataclass(frozen=True)
class OutputLimits:
    """The size settings the runner enforces (``Settings`` issue-10 block; defaults from there)."""

    inline_value_bytes: int = Settings.model_fields["inline_value_bytes"].default
    max_value_bytes: int = Settings.model_fields["max_value_bytes"].default
    max_run_bytes: int = Settings.model_fields["max_run_bytes"].default
    max_event_bytes: int = Settings.model_fields["max_event_bytes"].default

    @classmethod
    def from_settings(cls, settings: Settings) -> OutputLimits:
        return cls(settings.inline_value_bytes, settings.max_value_bytes, settings.max_run_bytes,
                   settings.max_event_bytes)


class ExecutionRunner:
    def __init__(self, state: ExecutionState, writer, *,
                 context_factory: Callable[[ExecutionState, NodeExec], RunContext],
                 node_timeout_s: float, max_node_executions: int, charge=None, credentials=None,
                 blobs=None, limits: OutputLimits | None = None, node_slots=None, reuse=None,
                 safe_mode=None) -> None:
        self.state = state
        # async (user_id, graph_id) -> the graph's ``human_in_the_loop_safe_mode``; None: on
        self.safe_mode_of = safe_mode
        self.safe_mode = True
        self.reuse = reuse  # a retry's or fork's ``ReuseTable``: completed work it takes over
        # The user's running-node quota (audit F4): ``await acquire(user, block) -> held``, ``release(user)``.
        self.node_slots = node_slots
        self.writer = writer
        self.context_factory = context_factory
        self.node_timeout_s = node_timeout_s
        self.planner = Planner(state, max_node_executions=max_node_executions)
        self.stream_id = uuid.UUID(state.id)
        self.next_version = state.version + 1
        self.charge = charge  # async (state, node_exec, input) -> credits spent; may raise InsufficientBalance
        self.credentials = credentials  # async (user_id, block_cls, input) -> {field: resolved credentials}
        self.tasks: dict[str, asyncio.Task] = {}
        self._failure: BaseException | None = None
        self._fatal: str | None = None  # ends the run FAILED (out of credits)
        self._out_of_credits = False
        # Large values out of line (a ``BlobStore``; None: everything inline, as in unit tests).
        self.blobs = blobs
        self.limits = limits or OutputLimits()
        self.externaliser = Externaliser(inline_bytes=self.limits.inline_value_bytes,
                                         max_event_bytes=self.limits.max_event_bytes)
        self.run_bytes = 0  # output bytes recorded by this run so far (max_run_bytes budget)
        self._handover: asyncio.Future | None = None  # the last write still waiting for its blobs
        self._tail: asyncio.Future | None = None  # the newest write: durable means all before it are
        self._in_flight = 0  # writes queued and not yet durable

    # -- recording -----------------------------------------------------------------------------

    def _record(self) -> asyncio.Future:
        events = self.planner.take()
        first = self.next_version
        self.next_version += len(events)
        pending: dict[str, bytes] = {}
        if self.blobs is not None and events:
            events, pending = self.externaliser.events(events)
        if not pending and self._handover is None:
            future = self.writer.write(self.stream_id, first, events, self.state.user_id)
        else:
            future = self._record_after_blobs(first, events, pending)
        if events:
            self._tail = future
        if not future.done():
            self._in_flight += 1
            future.add_done_callback(self._write_done)
        return future

    def _write_done(self, future: asyncio.Future) -> None:
        self._in_flight -= 1

    async def _durable(self) -> None:
        """Return once everything this run has written is in the store (the writer keeps a
        stream's writes in order, so the newest one's commit covers the rest)."""
        tail = self._tail
        if tail is not None and not tail.done():
            await asyncio.shield(tail)
        elif tail is not None and not tail.cancelled() and tail.exception() is not None:
            raise tail.exception()

    def _record_after_blobs(self, first: int, events: list, pending: dict[str, bytes]) -> asyncio.Future:
        """Blobs commit before the events that reference them. While a write waits for its blobs,
        this run's later writes queue behind it, so the writer still gets them in order; if it
        fails, they fail too (the stream never gets a gap) and the run resumes from the store."""
        previous = self._handover

        async def hand_over() -> asyncio.Future:
            if previous is not None:
                await previous
            if pending:
                await self.blobs.put(self.state.user_id, pending)
            return self.writer.write(self.stream_id, first, events, self.state.user_id)

        handover = asyncio.ensure_future(hand_over())
        self._handover = handover
        handover.add_done_callback(self._handover_done)

        async def durable() -> None:
            await (await asyncio.shield(handover))

        return asyncio.ensure_future(durable())

    def _handover_done(self, task: asyncio.Future) -> None:
        if task is self._handover and not task.cancelled() and task.exception() is None:
            self._handover = None  # a failed hand-over stays: every later write fails behind it

    async def _flush(self) -> None:
        """Record what the planner decided, then wait until everything this run wrote is durable."""
        self._record_in_background()
        await self._durable()

    def _record_in_background(self) -> None:
        """Record without waiting: later writes of this run queue behind it (order is kept), and
        the run's terminal write is awaited, so a failure still surfaces before the run ends."""
        future = self._record()
        future.add_done_callback(self._background_done)

    def _background_done(self, future: asyncio.Future) -> None:
        if not future.cancelled() and future.exception() is not None and self._failure is None:
            self._failure = future.exception()

    # -- driving -------------------------------------------------------------------------------

    async def run(self) -> str:
        """Run to a terminal state; returns it. Raises if events could not be recorded."""
        if self.state.is_terminal:
            return self.state.status
        await self._resolve_stored_values()
        if self.state.stop_requested:
            self.planner.finish()
            await self._flush()
            return self.state.status
        if self.state.status == ExecutionStatus.REVIEW:
            return self.state.status  # still waiting: its decisions resume it (review.py)
        await self._load_safe_mode()
        if self.state.status in (ExecutionStatus.QUEUED, ExecutionStatus.INCOMPLETE):
            ready = self.planner.start()
        else:
            ready = [ne.id for ne in self.state.node_execs.values()
                     if ne.status in PENDING_STATUSES and not self._outcome_unknown(ne)]
        ready = self._start(ready)
        self._record_in_background()  # pure so far: the nodes start while it commits
        self._launch(ready)
        try:
            while self.tasks:
                await asyncio.wait(list(self.tasks.values()), return_when=asyncio.FIRST_COMPLETED)
                if self._failure is not None:
                    raise self._failure
                if self.planner.cap_exceeded or self._fatal:
                    break
        finally:
            await self._cancel_tasks()
        error = self._fatal
        if self.planner.cap_exceeded:
            error = (f"Execution exceeded the limit of {self.planner.max_node_executions} node executions "
                     "(a runaway loop?)")
        elif error is None and self.state.awaiting_review():
            self.planner.pause_for_review()  # nothing runs: the run waits, holding nothing
            await self._flush()
            return self.state.status
        self.planner.finish(error=error, out_of_credits=self._out_of_credits and not self.planner.cap_exceeded)
        await self._flush()
        if self._failure is not None:
            raise self._failure
        return self.state.status

    async def _resolve_stored_values(self) -> None:
        """A resumed run: count the output bytes already recorded, then put the real values in
        place of the references the store holds (known to the externaliser, so a value written
        again, say by a static link, reuses its blob)."""
        self.run_bytes = sum(blobs.reference_size(v) if blobs.is_reference(v) else len(encode(v))
                             for ne in self.state.node_execs.values() for _pin, v in ne.outputs)
        refs = state_refs(self.state)
        if refs and self.blobs is not None:
            for value, ref in await refs.resolve(self.blobs, self.state.user_id):
                self.externaliser.known(value, ref)

    async def _cancel_tasks(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()

    def _start(self, node_exec_ids: list[str]) -> list[str]:
        """Record the start of each node execution, or its review request if it must wait for
        its owner first; returns the ones to launch."""
        # work the charge can start early (a count); a dry run counts nothing
        prepare = None if self.state.is_dry_run else getattr(self.charge, "prepare", None)
        launch = []
        for ne_id in node_exec_ids:
            ne = self.state.node_execs[ne_id]
            if self._asks_review(ne):
                continue
            # the surcharge's number for this node, recorded with its start when at hand
            self.planner.started(ne, node_number=prepare(self.state, ne) if prepare is not None else None)
            launch.append(ne_id)
        return launch

    # -- human review (review.py) --------------------------------------------------------------

    async def _load_safe_mode(self) -> None:
        """The graph's ``human_in_the_loop_safe_mode``, read once per drive and only for a graph
        with a node that would wait for review. The setting is read live (the owner may change it
        between runs); a review once asked is recorded, so a resumed run never asks again."""
        if self.safe_mode_of is None:
            return
        graph = self.state.graph
        if any(reviews.wants_review(n.block_id, n.metadata) for n in graph.nodes):
            self.safe_mode = await self.safe_mode_of(self.state.user_id, self.state.graph_id)

    def _asks_review(self, ne: NodeExec) -> bool:
        """Record a review request instead of starting ``ne``, if it must wait for one."""
        if ne.review is not None or not self.safe_mode or ne.node_id in self.state.auto_approved:
            return False
        node = self.planner.index.nodes[ne.node_id]
        if not reviews.wants_review(ne.block_id, node.metadata):
            return False
        if self.reuse is not None and self.reuse.has(ne.block_id, ne.input_data):
            return False  # a retry or fork takes the decided node over, as it was decided
        instructions, editable = reviews.request_terms(ne.block_id, node.metadata, ne.input_data)
        self.planner.request_review(ne, kind="review", instructions=instructions, editable=editable)
        return True

    def _outcome_unknown(self, ne: NodeExec) -> bool:
        """An interrupted node whose unrepeatable effect had begun asks its owner instead of
        running again: re-run it, or mark it done with given outputs."""
        if ne.status != ExecutionStatus.RUNNING or not ne.effect_begun:
            return False
        self.planner.request_review(ne, kind="outcome_unknown", editable=True, instructions=(
            "The run was interrupted while this node was running, and its block's effect (an HTTP POST, say) "
            "may or may not have happened. Approve to run it again; reject to mark it done, with reviewed_data "
            "as its outputs."))
        return True

    def _launch(self, node_exec_ids: list[str]) -> None:
        for ne_id in node_exec_ids:
            task = asyncio.create_task(self._run_node(self.state.node_execs[ne_id]))
            self.tasks[ne_id] = task
            task.add_done_callback(lambda t, i=ne_id: self._done(i, t))

    def _done(self, ne_id: str, task: asyncio.Task) -> None:
        self.tasks.pop(ne_id, None)
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()

    # -- one node ------------------------------------------------------------------------------

    def _block_input(self, ne: NodeExec) -> dict[str, Any]:
        data = dict(ne.input_data or {})
        decision = ne.review
        if decision is not None and decision.approved and decision.was_edited \
                and not reviews.is_human_in_the_loop(ne.block_id) and isinstance(decision.reviewed_data, dict):
            data = dict(decision.reviewed_data)  # the reviewer's edit of the node's input
        node = self.planner.index.nodes[ne.node_id]
        if self.planner.index.block_type(ne.node_id) == BlockType.AGENT:
            data = {**node.input_default, "inputs": data, "user_id": self.state.user_id}
        return data

    async def _run_node(self, ne: NodeExec) -> None:
        if self.reuse is not None:
            done = self.reuse.take(ne.block_id, ne.input_data)
            if done is not None:
                await self._take_over(ne, done)
                return
        decision = ne.review
        if decision is not None and not decision.approved and not reviews.is_human_in_the_loop(ne.block_id):
            await self._rejected(ne, decision)
            return
        block_cls = self.planner.index.blocks.get(ne.node_id)
        ctx = self.context_factory(self.state, ne)
        ctx.dry_run = self.state.is_dry_run
        ctx.review = decision
        started = time.monotonic()
        error: str | None = None
        finished_early = False
        held = False
        in_block = False
        try:
            if block_cls is None:
                raise ValueError(f"Block {ne.block_id} no longer exists")
            if block_cls.disabled:
                raise ValueError(f"Block {ne.block_id} is disabled")
            if self.node_slots is not None:
                held = await self.node_slots.acquire(self.state.user_id, block_cls)
            if self.credentials is not None:  # before charging: a node that cannot run costs nothing
                ctx.credentials = await self.credentials(self.state.user_id, block_cls, ne.input_data or {})
            if not await self._charged(ne, ctx):
                return
            block = block_cls()
            data = self._block_input(ne)
            if ctx.dry_run and block_cls.external_effects:
                in_block = True
                ctx.stats["dry_run"] = True
                outputs = block.simulate(data, ctx)
            else:
                if not block_cls.safe_to_repeat(data):
                    self.planner.effect_begun(ne)  # durable before the effect: see _outcome_unknown
                    await self._flush()
                elif block_cls.external_effects or self.planner.index.block_type(ne.node_id) == BlockType.AGENT:
                    await self._durable()  # its start and inputs, before anything leaves the run
                in_block = True
                outputs = block.execute(data, ctx)
            async with asyncio.timeout(self.node_timeout_s):
                error, finished_early = await self._drive_block(ne, outputs, ctx, started)
        except TimeoutError:
            error = f"Node timed out after {self.node_timeout_s:g}s"
        except asyncio.CancelledError:
            raise
        except RunLimitExceeded as exc:  # a sub-graph tree limit: the node and the whole run fail
            error = self._fatal = str(exc)
        except Exception as exc:  # a failing block fails its node, not the graph
            if not in_block and is_transient_db_error(exc):
                # the platform's own trouble before the block ran (resolving credentials, charging,
                # numbering with the database away): not the node's failure; the run resumes later
                raise
            error = str(exc) or type(exc).__name__
        finally:
            if held:
                self.node_slots.release(self.state.user_id)
        if finished_early:
            return
        if error is not None and len(error) > MAX_ERROR_CHARS:
            error = error[:MAX_ERROR_CHARS] + f"… ({len(error) - MAX_ERROR_CHARS} more characters)"
        if error is not None and not _has_error_output(ne):
            await self._emit_output(ne, "error", error)
        self.planner.finished(ne, error, self._stats(ctx, started))
        self._record_in_background()

    async def _rejected(self, ne: NodeExec, decision) -> None:
        """A rejected review: a marked node fails with the reviewer's message; a node whose outcome
        was unknown is marked done, the reviewer's ``reviewed_data`` being its outputs. Neither runs
        its block nor is charged. Outputs, routing and the node's end are one write, so a crash
        leaves all of it or none (and the rejection is acted on again)."""
        request = ne.review_request
        error = None
        if request is not None and request.kind == "outcome_unknown":
            stats: dict[str, Any] = {"marked_done_by_reviewer": True, "cost": 0, "walltime": 0.0}
            outputs = []
            for pin, value in (decision.reviewed_data or {}).items():
                value, error = self._admit(value)
                if error is not None:
                    outputs = [("error", error)]
                    break
                outputs.append((pin, value))
        else:
            stats = {"cost": 0, "walltime": 0.0}
            error = "Rejected by the reviewer" + (f": {decision.message}" if decision.message else "")
            outputs = [("error", error)]
        queued = [ne_id for pin, value in outputs for ne_id in self.planner.on_output(ne, pin, value)]
        self.planner.finished(ne, error, stats)
        queued = self._start(queued)
        await self._flush()
        self._launch(queued)

    async def _take_over(self, ne: NodeExec, done: NodeExec) -> None:
        """Record the outputs another run's node execution produced with the same block and
        inputs, in order and routed as if just yielded, and complete the node without running or
        charging it (``reuse.py``); its stats name where they came from. Outputs already recorded
        before an interruption are recognised by position, as for a block that runs. Nothing is
        awaited: taken-over work is pure (its results are already durable in the other run), so its
        events ride in the next group commit, in order, and a crash before it only takes it over
        again."""
        stats = {REUSED_FROM: done.id, "reused_from_execution": self.reuse.source_id, "cost": 0, "walltime": 0.0}
        recorded = len(ne.outputs)
        for i, (pin, value) in enumerate(done.outputs[recorded:], start=recorded):
            queued = self.planner.on_output(ne, pin, value)
            if i == len(done.outputs) - 1:
                self.planner.finished(ne, None, stats)
            queued = self._start(queued)
            self._record_in_background()
            self._launch(queued)
        if recorded >= len(done.outputs):  # nothing left to record: only the completion
            self.planner.finished(ne, None, stats)
            self._record_in_background()

    async def _charged(self, ne: NodeExec, ctx: RunContext) -> bool:
        """Charge before running; out of credits fails the node and, with it, the whole run. A dry
        run is never charged (COMPAT §2.7)."""
        if self.charge is None or self.state.is_dry_run:
            return True
        try:
            ctx.stats["cost"] = await self.charge(self.state, ne, ne.input_data or {}, before_spend=self._durable)
            return True
        except InsufficientBalance as exc:
            await self._emit_output(ne, "error", exc.message)
            self.planner.finished(ne, exc.message, {"cost": 0})
            self._fatal = exc.message
            self._out_of_credits = True
            await self._flush()
            return False

    async def _drive_block(self, ne: NodeExec, outputs, ctx: RunContext, started: float) -> tuple[str | None, bool]:
        """Route each output as it comes. After a yield the block is given one turn of the loop
        to reach its next yield or its end; a block that ended has its completion recorded in the
        same write as its last output (one commit per node instead of two). Outputs recorded
        before an interruption are recognised by position and neither recorded nor routed again.
        Returns ``(error, completion_already_recorded)``."""
        already, seen = len(ne.outputs), 0
        pending = asyncio.ensure_future(outputs.__anext__())
        try:
            while True:
                try:
                    pin, value = await pending
                except StopAsyncIteration:
                    return None, False
                seen += 1
                pending = asyncio.ensure_future(outputs.__anext__())
                if seen <= already:
                    continue
                if pin == "error":
                    return str(value), False
                value, refused = self._admit(value)
                if refused is not None:
                    return refused, False
                await asyncio.sleep(0)
                ended = (pending.done() and not pending.cancelled()
                         and isinstance(pending.exception(), StopAsyncIteration))
                await self._emit_output(ne, pin, value, finish=(ctx, started) if ended else None)
                if ended:
                    return None, True
        finally:
            if not pending.done():
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
            elif not pending.cancelled():
                pending.exception()  # retrieved: a StopAsyncIteration or an error already handled

    def _admit(self, value: Any) -> tuple[Any, str | None]:
        """``(value as JSON, None)``, or ``(None, why)`` if it is over a size limit (never recorded)."""
        data = encode(value)
        size = len(data)
        if size > self.limits.max_value_bytes:
            return None, f"Output of {size} bytes exceeds the limit of {self.limits.max_value_bytes} bytes"
        if self.run_bytes + size > self.limits.max_run_bytes:
            return None, (f"Output of {size} bytes exceeds the limit of {self.limits.max_run_bytes} bytes "
                          f"of recorded output per run ({self.run_bytes} bytes recorded so far)")
        self.run_bytes += size
        return orjson.loads(data), None

    def _stats(self, ctx: RunContext, started: float) -> dict[str, Any]:
        return {"walltime": round(time.monotonic() - started, 6), **ctx.stats}

    async def _emit_output(self, ne: NodeExec, pin: str, value: Any, finish=None) -> None:
        queued = self.planner.on_output(ne, pin, value)
        if finish is not None:
            self.planner.finished(ne, None, self._stats(*finish))
        queued = self._start(queued)
        self._record_in_background()
        self._launch(queued)
        if self._in_flight > MAX_WRITES_IN_FLIGHT:
            await self._durable()


def _has_error_output(ne: NodeExec) -> bool:
    return any(pin == "error" for pin, _ in ne.outputs)
