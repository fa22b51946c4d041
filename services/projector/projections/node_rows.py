"""One write per node execution per batch: a node's events, folded, then written as one statement.

Why: a node's row in ``rm_node_executions`` is moved by its input pins, its queueing, its start,
each output and its end, about five events a node. Written one statement per event, they were
most of the projector's statements and of its time under a burst of runs.

What the fold keeps equal to applying the events one by one (``test_node_rows`` checks it over
random sequences and random batch boundaries against the real database):

- each column is changed in a way that composes: replaced (status, queue and end fields), merged
  key by key (``input_data``; a queueing replaces the inputs and later pins merge into them),
  appended to per pin (``output_data``), or set only while empty (``start_time``);
- ``NodeInputAdded`` and ``NodeQueued`` create a missing row; every other event moves a row that
  exists and does nothing to one that does not. So a fold carries both outcomes: the row its
  events create when there is none (``created``), and its change to a row that is already there
  (``change``); the statement is an upsert of the one with the other as its ``ON CONFLICT`` update,
  or a plain update when none of its events creates a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncCursor
from psycopg.types.json import Jsonb

from schemas.envelope import Envelope
from schemas.events.executions import (
    NodeInputAdded,
    NodeOutput,
    NodeQueued,
    NodeReviewed,
    NodeReviewRequested,
    NodeStarted,
)
from services.domain.executions.status import STATUS_AFTER_NODE_END

NODE_EVENTS = (NodeInputAdded, NodeQueued, NodeStarted, NodeOutput, NodeReviewRequested, NodeReviewed,
               *STATUS_AFTER_NODE_END)
_CREATING = (NodeInputAdded, NodeQueued)


@dataclass
class Change:
    """What a run of events does to a node's row that exists. ``None`` or empty means untouched."""

    status: str | None = None
    inputs_replaced: bool = False  # True: ``inputs`` is the whole new input_data, else merged in
    inputs: dict[str, Any] = field(default_factory=dict)
    queue_time: datetime | None = None
    first_start: datetime | None = None  # start_time only if it has none yet
    outputs: dict[str, list] = field(default_factory=dict)  # values appended to each pin, in order
    ended: bool = False
    end_time: datetime | None = None
    stats: dict | None = None
    error: str | None = None

    def add(self, env: Envelope, e) -> None:
        if isinstance(e, NodeInputAdded):
            self.inputs[e.pin] = e.value
        elif isinstance(e, NodeQueued):
            self.status, self.inputs_replaced, self.inputs = "QUEUED", True, dict(e.input_data)
            self.queue_time = env.occurred_at
        elif isinstance(e, NodeStarted):
            self.status = "RUNNING"
            self.first_start = self.first_start or env.occurred_at
        elif isinstance(e, NodeReviewRequested):
            self.status = "REVIEW"
        elif isinstance(e, NodeReviewed):
            self.status = "QUEUED"
        elif isinstance(e, NodeOutput):
            self.outputs.setdefault(e.pin, []).append(e.value)
        else:
            self.status, self.ended, self.end_time = STATUS_AFTER_NODE_END[type(e)], True, env.occurred_at
            self.stats = getattr(e, "stats", None) or {}
            self.error = getattr(e, "error", None) or getattr(e, "reason", None)

    def apply_to(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` after this change (changed in place and returned; the values are shared)."""
        if self.status is not None:
            row["status"] = self.status
        row["input_data"] = dict(self.inputs) if self.inputs_replaced else {**row["input_data"], **self.inputs}
        if self.queue_time is not None:
            row["queue_time"] = self.queue_time
        if row["start_time"] is None:
            row["start_time"] = self.first_start
        for pin, values in self.outputs.items():
            row["output_data"] = {**row["output_data"], pin: [*row["output_data"].get(pin, []), *values]}
        if self.ended:
            row["end_time"], row["stats"], row["error"] = self.end_time, self.stats, self.error
        return row


def created_row(env: Envelope, e) -> dict[str, Any]:
    """The row a creating event makes when the node has none."""
    queued = isinstance(e, NodeQueued)
    return {"node_exec_id": e.node_exec_id, "execution_id": env.stream_id, "node_id": e.node_id,
            "block_id": e.block_id, "status": "QUEUED" if queued else "INCOMPLETE",
            "input_data": dict(e.input_data) if queued else {e.pin: e.value}, "output_data": {},
            "added_seq": env.stream_version, "add_time": env.occurred_at,
            "queue_time": env.occurred_at if queued else None, "start_time": None, "end_time": None,
            "stats": None, "error": None}


@dataclass
class Fold:
    """One node's events of a batch: ``change`` to an existing row; ``created`` (the creating
    event's row) and ``after`` (the change of the events after it) for a row that was missing."""

    change: Change = field(default_factory=Change)
    created: dict[str, Any] | None = None
    after: Change = field(default_factory=Change)

    def add(self, env: Envelope, e) -> None:
        self.change.add(env, e)
        if self.created is not None:
            self.after.add(env, e)
        elif isinstance(e, _CREATING):
            self.created = created_row(env, e)

    def row_if_missing(self) -> dict[str, Any] | None:
        """The row these events leave when the node had none (``None``: they leave none). Once."""
        return None if self.created is None else self.after.apply_to(self.created)


_SET = (
    "status = coalesce(%(status)s, n.status), "
    "input_data = CASE WHEN %(inputs_replaced)s THEN %(inputs)s::jsonb ELSE n.input_data || %(inputs)s::jsonb END, "
    "queue_time = coalesce(%(queue_time)s, n.queue_time), "
    "start_time = coalesce(n.start_time, %(first_start)s), "
    "output_data = CASE WHEN %(outputs)s::jsonb IS NULL THEN n.output_data ELSE n.output_data || "
    "(SELECT jsonb_object_agg(o.pin, coalesce(n.output_data -> o.pin, '[]'::jsonb) || o.added) "
    " FROM jsonb_each(%(outputs)s::jsonb) AS o(pin, added)) END, "
    "end_time = CASE WHEN %(ended)s THEN %(end_time)s ELSE n.end_time END, "
    "stats = CASE WHEN %(ended)s THEN %(stats)s::jsonb ELSE n.stats END, "
    "error = CASE WHEN %(ended)s THEN %(error)s ELSE n.error END")
_INSERT = (
    "INSERT INTO rm_node_executions AS n (node_exec_id, execution_id, node_id, block_id, status, input_data, "
    "output_data, added_seq, add_time, queue_time, start_time, end_time, stats, error) VALUES "
    "(%(new_node_exec_id)s, %(new_execution_id)s, %(new_node_id)s, %(new_block_id)s, %(new_status)s, "
    "%(new_input_data)s, %(new_output_data)s, %(new_added_seq)s, %(new_add_time)s, %(new_queue_time)s, "
    "%(new_start_time)s, %(new_end_time)s, %(new_stats)s, %(new_error)s) "
    "ON CONFLICT (node_exec_id) DO UPDATE SET ")
# one SET clause for both statements; all of it constants, every value a parameter
UPSERT = _INSERT + _SET
UPDATE = "UPDATE rm_node_executions AS n SET " + _SET + " WHERE n.node_exec_id = %(node_exec_id)s"  # noqa: S608
_JSON_COLUMNS = {"input_data", "output_data", "stats"}


def _change_params(node_exec_id: str, c: Change) -> dict[str, Any]:
    return {"node_exec_id": node_exec_id, "status": c.status, "inputs_replaced": c.inputs_replaced,
            "inputs": Jsonb(c.inputs), "queue_time": c.queue_time, "first_start": c.first_start,
            "outputs": Jsonb(c.outputs) if c.outputs else None, "ended": c.ended, "end_time": c.end_time,
            "stats": Jsonb(c.stats) if c.ended else None, "error": c.error}


class NodeRows:
    """The node folds of one batch, in the order their nodes first appeared; ``write`` empties it."""

    def __init__(self) -> None:
        self.folds: dict[str, Fold] = {}

    def add(self, env: Envelope, event) -> None:
        fold = self.folds.get(event.node_exec_id)
        if fold is None:
            fold = self.folds[event.node_exec_id] = Fold()
        fold.add(env, event)

    async def write(self, cur: AsyncCursor) -> None:
        upserts, updates = [], []
        for node_exec_id, fold in self.folds.items():
            params = _change_params(node_exec_id, fold.change)
            row = fold.row_if_missing()
            if row is None:
                updates.append(params)
                continue
            params.update({f"new_{c}": Jsonb(v) if c in _JSON_COLUMNS and v is not None else v for c, v in row.items()})
            upserts.append(params)
        self.folds = {}
        if upserts:
            await cur.executemany(UPSERT, upserts)
        if updates:
            await cur.executemany(UPDATE, updates)
