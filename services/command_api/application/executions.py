"""Execution commands: queue a run of a graph version, stop a run.

Queuing records ``ExecutionQueued`` with the exact graph version in it; the executor that owns the
execution's partition takes it from there. Stopping records ``ExecutionStopRequested`` and waits
until the owner has recorded the end.
"""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace
from typing import Any

from schemas.events.executions import Branch, ExecutionBranched, ExecutionDeleted, ExecutionQueued
from schemas.graph import GraphVersionBody
from services.command_api.application.graphs import GraphCommands
from services.command_api.application.group_append import GroupAppender
from services.domain.errors import (
    ConflictError,
    InsufficientCredits,
    InvalidCommand,
    NotFoundError,
    PayloadTooLarge,
    TimedOut,
)
from services.domain.executions.rules import NoStartingNodes, prepare_run
from services.domain.executions.state import ExecutionState
from services.domain.executions.views import execution_meta
from services.domain.graphs.credentials import credential_slots, credentials_errors, node_credentials_masks
from services.domain.graphs.rules import AGENT_EXECUTOR_BLOCK_ID, GraphValidationError
from services.domain.integrations.credentials import CredentialsMeta
from services.domain.integrations.triggers import require_delivery
from services.infra.appending import decide_and_append
from services.infra.auth import User
from services.infra.blobs import BLOB_KEY, READ_BUDGET_BYTES, looks_like_reference
from services.infra.eventstore import EventStore
from services.infra.execution_refs import state_refs
from services.infra.execution_stream import load_state, request_stop
from services.infra.store_contract import ConcurrencyConflict, EventTooLarge, NewEvent

MAX_SUB_GRAPHS = 100


class StopTimeout(TimedOut):
    """A stop was recorded but the run did not end in time (it will end TERMINATED)."""


class NoCredits(InsufficientCredits):
    """A run refused up front because the balance is zero or less (HTTP 402)."""


class ExecutionCommands:
    def __init__(self, store: EventStore, graphs: GraphCommands, *, stop_wait_s: float = 15.0,
                 ledger=None, credentials=None, on_refused_for_credits=None) -> None:
        self.store = store
        # called with (user, agent name) when a run is refused for a zero balance (ZERO_BALANCE)
        self.on_refused_for_credits = on_refused_for_credits
        self.appender = GroupAppender(store)  # concurrent runs queued in shared commits
        self.credentials = credentials  # CredentialsReader: who may use which credential
        self.ledger = ledger
        self.graphs = graphs
        self.stop_wait_s = stop_wait_s
        self._prepared_cache: dict[tuple[str, int], Any] = {}

    def execute(self, user: User, graph_id: str, version: int, inputs: dict[str, Any],
                credentials_inputs: dict[str, Any], preset_id: str | None = None,
                dry_run: bool = False, execution_id: uuid.UUID | None = None,
                nodes_input_masks: dict[str, dict[str, Any]] | None = None,
                source: str | None = None) -> dict[str, Any]:
        """Queue one run. ``execution_id`` is for callers that derive the id from what caused the
        run (a schedule's tick, a webhook delivery), so asking twice queues once: when that run is
        already recorded, its meta is returned and nothing is checked or recorded again.
        ``nodes_input_masks`` lays values over chosen nodes' inputs (a delivery's payload on the
        trigger node); a graph with a trigger node runs only with a payload there (400 otherwise)."""
        if execution_id is not None:
            existing = self.recorded(user, execution_id)
            if existing is not None:
                return existing
        queued = self._queued(user, graph_id, version, inputs, credentials_inputs, preset_id=preset_id,
                              dry_run=dry_run, nodes_input_masks=nodes_input_masks, source=source)
        execution_id = execution_id or uuid.uuid4()
        new = NewEvent(execution_id, 1, queued, user_id=user.id)
        try:
            self.appender.append([new])
        except ConcurrencyConflict:
            existing = self.recorded(user, execution_id)  # the same derived id, queued meanwhile
            if existing is None:
                raise
            return existing
        except EventTooLarge as exc:
            raise _too_large(exc) from None
        state = ExecutionState(str(execution_id))
        state.apply(queued, new.occurred_at)
        return execution_meta(state)

    def branch(self, user: User, source_id: str, kind: str, *, at_seq: int | None = None,
               inputs: dict[str, Any] | None = None, node_inputs: dict[str, dict[str, Any]] | None = None,
               graph_version: int | None = None) -> dict[str, Any]:
        """Queue a retry (from the source run's end; the source must have ended) or a fork (from
        its event ``at_seq``, with ``inputs`` and ``node_inputs`` laid over the source's). The new
        run takes over every node the source had completed by then with the same block and inputs
        (``domain/executions/reuse.py``). Its ``ExecutionQueued`` and the source's
        ``ExecutionBranched`` are one commit, so both histories name the branch or neither does."""
        source_stream = uuid.UUID(source_id)
        execution_id = uuid.uuid4()

        def record(source: ExecutionState) -> dict[str, Any]:
            if kind == "retry" and not source.is_terminal:
                raise ConflictError(f"Graph execution #{source_id} is {source.status}; only an ended run "
                                    "can be retried (fork it at a point instead)")
            point = source.version if at_seq is None else at_seq
            if point > source.version:
                raise InvalidCommand(f"at_seq {point} is past the last event (#{source.version})")
            branch = Branch(execution_id=source_id, kind=kind, at_seq=point)
            queued = self._queued(user, source.graph_id, graph_version or source.graph_version,
                                  {**source.inputs, **(inputs or {})}, source.credentials_inputs,
                                  preset_id=source.preset_id, dry_run=source.is_dry_run,
                                  nodes_input_masks=_laid_over(_without_credentials(source), node_inputs),
                                  branched_from=branch)
            new = NewEvent(execution_id, 1, queued, user_id=user.id)
            note = NewEvent(source_stream, source.version + 1,
                            ExecutionBranched(execution_id=str(execution_id), kind=kind, at_seq=point), user_id=user.id)
            try:
                self.store.append([new, note])
            except EventTooLarge as exc:
                raise _too_large(exc) from None
            state = ExecutionState(str(execution_id))
            state.apply(queued, new.occurred_at)
            return execution_meta(state)

        return decide_and_append(lambda: self.resolved_state(user, None, source_id), record)

    def _queued(self, user: User, graph_id: str, version: int, inputs: dict[str, Any],
                credentials_inputs: dict[str, Any], *, preset_id: str | None, dry_run: bool,
                nodes_input_masks: dict[str, dict[str, Any]] | None,
                branched_from: Branch | None = None, source: str | None = None) -> ExecutionQueued:
        """Every check a run must pass before it is queued, and the event that queues it."""
        body = self._prepared(self.graphs.version_for_run(user, graph_id, version))
        require_delivery(body, nodes_input_masks)
        # A dry run charges nothing, so it is the free way to check a graph end to end (COMPAT §2.3).
        if not dry_run and self.ledger is not None and self.ledger.balance(user.id) <= 0:
            if self.on_refused_for_credits is not None:
                self.on_refused_for_credits(user, body.name or "Untitled agent")
            raise NoCredits("Insufficient balance to execute the agent. Please top up your account.")
        _refuse_reference_lookalikes(inputs)
        for mask in (nodes_input_masks or {}).values():  # merged into node inputs: value positions too
            _refuse_reference_lookalikes(mask)
        credentials_inputs = credential_references(credentials_inputs)
        masks = _laid_over(self._credential_masks(user, body, credentials_inputs), nodes_input_masks)
        return ExecutionQueued(user_id=user.id, graph_id=graph_id, graph_version=body.version, graph=body,
                               inputs=inputs, credentials_inputs=credentials_inputs, nodes_input_masks=masks,
                               preset_id=preset_id, is_dry_run=dry_run, branched_from=branched_from,
                               source=source)

    def check_run(self, user: User, body: GraphVersionBody, credentials_inputs: dict[str, Any]) -> None:
        """The checks ``execute`` makes of a run that starts without a delivery, made ahead of time
        for a run that starts later (a schedule's): the version runs (a starting node, no trigger
        node) and every node can use the credentials it gets (400 with ``node_errors``)."""
        prepared = self._prepared(body)
        require_delivery(prepared, None)
        self._credential_masks(user, prepared, credential_references(credentials_inputs))

    def recorded(self, user: User, execution_id: uuid.UUID) -> dict[str, Any] | None:
        """The meta of a run queued under a derived id, or None if nothing is recorded under it."""
        state = load_state(self.store, execution_id)
        if state.version == 0:
            return None
        if state.user_id != user.id:  # a derived id names one user's run; never show another's
            raise ConflictError(f"Execution #{execution_id} belongs to another run")
        return execution_meta(state)

    def _credential_masks(self, user: User, body, credentials_inputs: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Map the run's credentials onto the nodes and check every node can use what it gets
        (AutoGPT's run-time credential checks; 400 with ``node_errors`` otherwise)."""
        graph = self._with_sub_graphs(user, body)
        slots = credential_slots(graph)  # found once, used by both steps
        if not slots:
            return {}
        masks = node_credentials_masks(graph, credentials_inputs, slots)
        if self.credentials is None:
            return masks
        errors = credentials_errors(graph, masks, lambda cred_id: self.credentials.meta_for(user.id, cred_id), slots)
        if errors:
            count = sum(len(e) for e in errors.values())
            raise GraphValidationError(f"Graph validation failed: {count} issues on {len(errors)} nodes", errors)
        return masks

    def _with_sub_graphs(self, user: User, body) -> SimpleNamespace:
        """The version plus every sub-graph version its AgentExecutor nodes run, recursively, so the
        credential checks cover the whole run (as AutoGPT aggregates sub-graph credentials). A
        missing sub-graph is left out: its node fails at run time with its own message."""
        subs, seen, queue = [], {(body.id, body.version)}, [body]
        while queue and len(subs) < MAX_SUB_GRAPHS:
            for node in queue.pop().nodes:
                target = (node.input_default.get("graph_id"), node.input_default.get("graph_version"))
                if (node.block_id != AGENT_EXECUTOR_BLOCK_ID or not isinstance(target[0], str)
                        or not isinstance(target[1], int) or target in seen):
                    continue
                seen.add(target)
                try:
                    sub = self.graphs.version_for_run(user, target[0], target[1])
                except (NotFoundError, ValueError):
                    continue
                subs.append(sub)
                queue.append(sub)
        return SimpleNamespace(nodes=body.nodes, sub_graphs=subs)

    def delete(self, user: User, execution_id: str) -> None:
        """Soft delete: hidden from the owner's lists and reads; the history stays in the store."""
        def record(state) -> None:
            if state.deleted:
                raise NotFoundError(f"Graph execution #{execution_id} not found")
            self.store.append([NewEvent(uuid.UUID(execution_id), state.version + 1,
                                        ExecutionDeleted(deleted_by=user.id), user_id=user.id)])

        decide_and_append(lambda: self.owned_state(user, None, execution_id), record)

    def _prepared(self, body):
        """Run validation of a graph version; versions never change, so the answer is kept."""
        key = (body.id, body.version)
        if key not in self._prepared_cache:
            try:
                self._prepared_cache[key] = prepare_run(body)
            except NoStartingNodes as exc:
                raise InvalidCommand(str(exc)) from None
            while len(self._prepared_cache) > 1000:
                self._prepared_cache.pop(next(iter(self._prepared_cache)))
        return self._prepared_cache[key]

    def owned_state(self, user: User, graph_id: str | None, execution_id: str) -> ExecutionState:
        state = load_state(self.store, execution_id)
        if state.version == 0 or state.user_id != user.id or state.deleted or (graph_id and state.graph_id != graph_id):
            raise NotFoundError(f"Graph execution #{execution_id} not found")
        return state

    def resolved_state(self, user: User, graph_id: str | None, execution_id: str) -> ExecutionState:
        """``owned_state`` with the real values in place of blob references (for result reads)."""
        state = self.owned_state(user, graph_id, execution_id)
        state_refs(state, READ_BUDGET_BYTES).resolve_sync(self.store.recorder.datastore, state.user_id)
        return state

    def stop(self, user: User, graph_id: str, execution_id: str) -> dict[str, Any]:
        state = self.owned_state(user, graph_id, execution_id)
        if state.is_terminal:
            return execution_meta(state)
        request_stop(self.store, execution_id, user.id)
        deadline = time.monotonic() + self.stop_wait_s
        delay = 0.02
        while time.monotonic() < deadline:
            state = load_state(self.store, execution_id)
            if state.is_terminal:
                return execution_meta(state)
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)
        raise StopTimeout(f"Graph execution #{execution_id} did not stop within {self.stop_wait_s:g}s; "
                          "the stop is recorded and it will end TERMINATED")


def credential_references(credentials_inputs: dict[str, Any]) -> dict[str, Any]:
    """Only the reference fields of each credentials input are kept: whatever else a client sends
    (a pasted key, say) must not be recorded in the execution's (or a preset's) events. A value that is not a
    reference is kept as given so the checks can name the problem."""
    cleaned: dict[str, Any] = {}
    for name, value in (credentials_inputs or {}).items():
        try:
            cleaned[name] = CredentialsMeta.model_validate(value).model_dump()
        except ValueError:
            cleaned[name] = {k: value[k] for k in ("id", "provider", "type", "title") if k in value} \
                if isinstance(value, dict) else None
    return cleaned


def _too_large(exc: EventTooLarge) -> PayloadTooLarge:
    return PayloadTooLarge(f"Execution inputs too large: the run (graph version and inputs) encodes to "
                           f"{exc.size} bytes, over the limit of {exc.limit} bytes")


def _without_credentials(state: ExecutionState) -> dict[str, dict[str, Any]]:
    """The source run's own input masks, less the credentials ones (the branch maps its
    credentials again, for the version it runs)."""
    return {node: {k: v for k, v in mask.items() if k != "credentials"}
            for node, mask in state.nodes_input_masks.items()}


def _laid_over(masks: dict[str, dict[str, Any]], given: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """The caller's node masks over the credential masks, node by node (the caller's keys win)."""
    merged = {node_id: dict(mask) for node_id, mask in masks.items()}
    for node_id, mask in (given or {}).items():
        merged[node_id] = {**merged.get(node_id, {}), **mask}
    return merged


def _refuse_reference_lookalikes(inputs: dict[str, Any]) -> None:
    """Run inputs are a value position of the execution's events (``services.infra.blobs``): an
    input object carrying the blob-reference key would be read as a reference, so it is refused."""
    for name, value in (inputs or {}).items():
        if looks_like_reference(value):
            raise InvalidCommand(f"Input {name[:60]!r} is an object with the reserved key {BLOB_KEY!r}")
