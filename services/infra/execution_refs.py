"""Where an execution's values live, for the blob references of ``services.infra.blobs``.

The value positions of the executions context, defined once: ``NodeOutput.value``,
``NodeInputAdded.value``, each entry of ``NodeQueued.input_data`` and each entry of
``ExecutionQueued.inputs`` (a child run's inputs). The executor writes references there
(``Externaliser``); every reader resolves exactly those positions, in whichever shape it holds
them: a folded ``ExecutionState`` (executor resume, audit state), a stored payload (audit events)
or an AutoGPT view (REST, WebSocket). Pure: callers fetch the blobs.
"""

from __future__ import annotations

from typing import Any

from schemas.events.base import Event
from schemas.events.executions import ExecutionQueued, NodeInputAdded, NodeOutput, NodeQueued
from services.domain.executions.state import ExecutionState
from services.infra import blobs
from services.infra.blobs import Refs

# An event also holds ids, pin names and timestamps: room kept for them when entries of one
# container (a node's whole input) must share the event's budget.
EVENT_OVERHEAD_BYTES = 16 * 1024


def encode(value: Any) -> bytes:
    """A value as stored: JSON, with pydantic models and odd objects as the event codec has them."""
    import orjson

    return orjson.dumps(value, default=_fallback, option=orjson.OPT_NON_STR_KEYS)


def _fallback(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "__dict__"):
        return {k: v for k, v in vars(value).items() if not k.startswith("_")}
    return str(value)


# -- writing: values out of line ----------------------------------------------------------------

class Externaliser:
    """Turns events as the planner emitted them into events to store: a value over
    ``inline_bytes`` (or a reference look-alike) becomes a reference, and the entries of one
    container (a node's input) are moved out of line, largest first, until the event fits
    ``max_event_bytes``. The in-memory state keeps the real values.

    A value object already turned into a reference keeps it (``memo``, by identity: the same
    5 MB output routed to a successor is hashed once), and a blob already stored is not sent again.
    """

    def __init__(self, *, inline_bytes: int, max_event_bytes: int) -> None:
        self.inline_bytes = inline_bytes
        self.container_budget = max(1024, max_event_bytes - EVENT_OVERHEAD_BYTES)
        self._memo: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._stored: set[str] = set()

    def known(self, value: Any, ref: dict[str, Any]) -> None:
        """``value`` is stored as ``ref`` already (resolved on resume)."""
        self._memo[id(value)] = (value, ref)
        self._stored.add(blobs.reference_sha(ref))

    def events(self, events: list[tuple[Event, Any]]) -> tuple[list[tuple[Event, Any]], dict[str, bytes]]:
        """``(events to store, new blobs digest -> bytes)``. A blob handed out here counts as
        stored: the caller writes it before these events, and every later event of the run is
        written behind it (so nothing can reference it before it commits)."""
        pending: dict[str, bytes] = {}
        out = [(self._event(event, pending), at) for event, at in events]
        return out, pending

    def values(self, values: dict[str, Any], pending: dict[str, bytes]) -> dict[str, Any]:
        """A container of values (an input) with large entries as references."""
        out, sizes = {}, {}
        for key, value in values.items():
            out[key], sizes[key] = self._value(value, pending)
        total = sum(sizes.values())
        for key in sorted(sizes, key=sizes.get, reverse=True):
            if total <= self.container_budget:
                break
            if not blobs.is_reference(out[key]):
                out[key], size = self._value(values[key], pending, force=True)
                total += size - sizes[key]
        return out

    def _event(self, event: Event, pending: dict[str, bytes]) -> Event:
        if isinstance(event, (NodeOutput, NodeInputAdded)):
            value, _ = self._value(event.value, pending)
            return event if value is event.value else event.model_copy(update={"value": value})
        if isinstance(event, NodeQueued):
            return event.model_copy(update={"input_data": self.values(event.input_data, pending)})
        if isinstance(event, ExecutionQueued) and event.inputs:
            return event.model_copy(update={"inputs": self.values(event.inputs, pending)})
        return event

    def _value(self, value: Any, pending: dict[str, bytes], *, force: bool = False) -> tuple[Any, int]:
        """``(value or its reference, bytes it takes inline)``."""
        memo = self._memo.get(id(value))
        if memo is not None and memo[0] is value:
            return memo[1], len(encode(memo[1]))
        if value is None or isinstance(value, (bool, int, float)):
            return value, 8
        data = encode(value)
        if not force and not blobs.must_go_out_of_line(value, len(data), self.inline_bytes):
            return value, len(data)
        sha = blobs.digest(data)
        ref = blobs.reference(sha, len(data))
        self._memo[id(value)] = (value, ref)
        if sha not in self._stored:
            pending[sha] = data
            self._stored.add(sha)
        return ref, len(encode(ref))


# -- reading: where references can be ---------------------------------------------------------

def state_refs(state: ExecutionState, budget: int | None = None) -> Refs:
    """Every reference in a folded state (inputs, pins, node inputs, outputs), to resolve in place
    (readers pass ``blobs.READ_BUDGET_BYTES``; the executor resolves everything)."""
    refs = Refs(budget)
    refs.each(state.inputs)
    for ne in state.node_execs.values():
        refs.each(ne.pins)
        if ne.input_data:
            refs.each(ne.input_data)
        for index in range(len(ne.outputs)):
            refs.pair(ne.outputs, index)
    return refs


def payload_refs(kind: str, payload: dict[str, Any], refs: Refs) -> None:
    """The value positions of one stored event payload (``model_dump(mode="json")`` shape)."""
    if kind in (NodeOutput.TYPE, NodeInputAdded.TYPE) and "value" in payload:
        refs.slot(payload, "value")
    elif kind == NodeQueued.TYPE and isinstance(payload.get("input_data"), dict):
        refs.each(payload["input_data"])
    elif kind == ExecutionQueued.TYPE and isinstance(payload.get("inputs"), dict):
        refs.each(payload["inputs"])


def view_refs(view: dict[str, Any], refs: Refs) -> None:
    """An AutoGPT view: a graph execution (``inputs``, ``outputs``, ``node_executions``) or a node
    execution (``input_data``, ``output_data``). Containers that hold references are copied first,
    so a view built over a live state (the WebSocket hub's) never changes that state."""
    _copied_each(view, "inputs", refs)
    _copied_lists(view, "outputs", refs)
    _copied_each(view, "input_data", refs)
    _copied_lists(view, "output_data", refs)
    for node in view.get("node_executions") or ():
        view_refs(node, refs)


def _has_ref(values) -> bool:
    return any(blobs.is_reference(v) for v in values)


def _copied_each(parent: dict[str, Any], key: str, refs: Refs) -> None:
    container = parent.get(key)
    if isinstance(container, dict) and _has_ref(container.values()):
        parent[key] = dict(container)
        refs.each(parent[key])


def _copied_lists(parent: dict[str, Any], key: str, refs: Refs) -> None:
    """A dict of lists of values (``output_data``, graph ``outputs``)."""
    container = parent.get(key)
    if not isinstance(container, dict):
        return
    if not any(isinstance(v, list) and _has_ref(v) for v in container.values()):
        return
    parent[key] = {name: (list(values) if isinstance(values, list) else values) for name, values in container.items()}
    for values in parent[key].values():
        if isinstance(values, list):
            refs.each(values)
