"""Node rows written once per node per batch equal the rows of applying the events one by one,
wherever the batches are cut (the live projector and a rebuild cut them differently).

The oracle is a plain model of each event's own effect on a row (the statement each event had
before the fold); the rows are read back from the real PostgreSQL."""

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from schemas.envelope import Envelope
from schemas.events.executions import (
    ExecutionQueued,
    NodeCompleted,
    NodeFailed,
    NodeInputAdded,
    NodeOutput,
    NodeQueued,
    NodeReviewed,
    NodeReviewRequested,
    NodeStarted,
    NodeTerminated,
)
from services.infra import db
from services.infra.migrations import migrate
from services.projector.applier import apply_envelopes
from tests.stories.builders import graph_body, stream_envelopes

BLOCK = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"  # any block id: the node rows do not look it up
COLUMNS = ("node_exec_id", "execution_id", "node_id", "block_id", "status", "input_data", "output_data",
           "added_seq", "add_time", "queue_time", "start_time", "end_time", "stats", "error")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _oracle(rows: dict, run: str, version: int, at: datetime, e) -> None:
    """One event's effect, as each event's own statement had it: creating events make a missing
    row, every other one moves only a row that exists."""
    row = rows.get(e.node_exec_id)
    if isinstance(e, (NodeInputAdded, NodeQueued)) and row is None:
        queued = isinstance(e, NodeQueued)
        rows[e.node_exec_id] = {
            "node_exec_id": uuid.UUID(e.node_exec_id), "execution_id": uuid.UUID(run), "node_id": e.node_id,
            "block_id": e.block_id, "status": "QUEUED" if queued else "INCOMPLETE",
            "input_data": dict(e.input_data) if queued else {e.pin: e.value}, "output_data": {},
            "added_seq": version, "add_time": at, "queue_time": at if queued else None, "start_time": None,
            "end_time": None, "stats": None, "error": None}
        return
    if row is None:
        return
    if isinstance(e, NodeInputAdded):
        row["input_data"] = {**row["input_data"], e.pin: e.value}
    elif isinstance(e, NodeQueued):
        row.update(status="QUEUED", input_data=dict(e.input_data), queue_time=at)
    elif isinstance(e, NodeStarted):
        row.update(status="RUNNING", start_time=row["start_time"] or at)
    elif isinstance(e, NodeReviewRequested):
        row["status"] = "REVIEW"
    elif isinstance(e, NodeReviewed):
        row["status"] = "QUEUED"
    elif isinstance(e, NodeOutput):
        row["output_data"] = {**row["output_data"], e.pin: [*row["output_data"].get(e.pin, []), e.value]}
    else:
        status = {NodeCompleted: "COMPLETED", NodeFailed: "FAILED", NodeTerminated: "TERMINATED"}[type(e)]
        row.update(status=status, end_time=at, stats=getattr(e, "stats", None) or {},
                   error=getattr(e, "error", None) or getattr(e, "reason", None))


def _queued() -> ExecutionQueued:
    body = graph_body(uuid.uuid4())
    return ExecutionQueued(user_id="u-node-rows", graph_id=body.id, graph_version=1, graph=body)


def _random_node_event(rng: random.Random, node_exec_id: str, node_id: str):
    values = [None, 0, 1.5, "text", [1, [2]], {"k": {"deep": [None]}}, True, ""]
    kind = rng.choice(["input", "input", "queued", "started", "output", "output", "output", "review", "reviewed",
                       "completed", "failed", "terminated"])
    if kind == "input":
        return NodeInputAdded(node_exec_id=node_exec_id, node_id=node_id, block_id=BLOCK, pin=rng.choice("abc"),
                              value=rng.choice(values))
    if kind == "queued":
        return NodeQueued(node_exec_id=node_exec_id, node_id=node_id, block_id=BLOCK,
                          input_data={p: rng.choice(values) for p in rng.sample("abcd", rng.randint(0, 3))})
    if kind == "started":
        return NodeStarted(node_exec_id=node_exec_id)
    if kind == "output":
        return NodeOutput(node_exec_id=node_exec_id, pin=rng.choice(["result", "error", "x"]),
                          value=rng.choice(values), seq=0)
    if kind == "review":
        return NodeReviewRequested(node_exec_id=node_exec_id)
    if kind == "reviewed":
        return NodeReviewed(node_exec_id=node_exec_id, approved=rng.random() < 0.5, reviewed_by="u-node-rows")
    if kind == "completed":
        return NodeCompleted(node_exec_id=node_exec_id, stats=rng.choice([{}, {"cost": 3, "walltime": 0.5}]))
    if kind == "failed":
        return NodeFailed(node_exec_id=node_exec_id, error=rng.choice(["boom", ""]))
    return NodeTerminated(node_exec_id=node_exec_id, reason=rng.choice(["", "stopped"]))


def _story(rng: random.Random) -> tuple[str, list[Envelope], dict]:
    """A run's stream: its queueing, then random events over three nodes (in any order, events
    before a node's creation included); with the oracle's rows."""
    run = str(uuid.uuid4())
    nodes = [(str(uuid.uuid4()), f"node-{i}") for i in range(3)]
    events = [_queued()]
    events += [_random_node_event(rng, *rng.choice(nodes)) for _ in range(rng.randint(1, 40))]
    envelopes = stream_envelopes(run, events, user_id="u-node-rows", step=timedelta(milliseconds=1))
    rows = {}
    for env, event in zip(envelopes[1:], events[1:], strict=True):
        _oracle(rows, run, env.stream_version, env.occurred_at, event)
    return run, envelopes, rows


def _cuts(rng: random.Random, envelopes: list[Envelope]) -> list[list[Envelope]]:
    batches, i = [], 0
    while i < len(envelopes):
        size = rng.choice([1, 2, 3, 5, 8, len(envelopes)])
        batches.append(envelopes[i:i + size])
        i += size
    return batches


@pytest.fixture
async def conn(settings):
    migrate(settings)
    async with await db.aconnect(settings) as connection:
        yield connection


async def _apply(conn, batches: list[list[Envelope]]) -> None:
    for batch in batches:
        async with conn.transaction(), conn.cursor() as cur:
            await apply_envelopes(cur, "executions", batch)


async def _rows(conn, run: str) -> dict:
    cur = await conn.execute(f"SELECT {', '.join(COLUMNS)} FROM rm_node_executions WHERE execution_id = %s",
                             (run,))
    return {str(row[0]): dict(zip(COLUMNS, row)) for row in await cur.fetchall()}


@pytest.mark.parametrize("seed", range(6))
async def test_folded_rows_equal_the_rows_of_each_event_alone_for_any_batch_cut(conn, seed):
    rng = random.Random(seed)  # noqa: S311 - random event stories, not a secret
    for _ in range(25):
        run, envelopes, expected = _story(rng)
        await _apply(conn, _cuts(rng, envelopes))
        assert await _rows(conn, run) == expected, f"seed {seed}, run {run}"


async def test_a_batch_cut_through_a_node_continues_its_row(conn):
    """A node queued, started and half its outputs in one batch, the rest and its end in the next:
    the second batch's one statement moves the row the first one wrote."""
    run = str(uuid.uuid4())
    node = str(uuid.uuid4())
    events = [_queued(),
              NodeInputAdded(node_exec_id=node, node_id="n", block_id=BLOCK, pin="a", value=1),
              NodeQueued(node_exec_id=node, node_id="n", block_id=BLOCK, input_data={"a": 1, "b": 2}),
              NodeStarted(node_exec_id=node),
              NodeOutput(node_exec_id=node, pin="result", value=1, seq=0),
              NodeOutput(node_exec_id=node, pin="result", value=2, seq=1),
              NodeOutput(node_exec_id=node, pin="other", value=[3], seq=0),
              NodeStarted(node_exec_id=node),
              NodeCompleted(node_exec_id=node, stats={"cost": 1})]
    envelopes = stream_envelopes(run, events, user_id="u-node-rows")
    await _apply(conn, [envelopes[:6], envelopes[6:]])
    row = (await _rows(conn, run))[node]
    assert row["status"] == "COMPLETED"
    assert row["input_data"] == {"a": 1, "b": 2}
    assert row["output_data"] == {"result": [1, 2], "other": [[3]]}
    assert row["added_seq"] == 2 and row["add_time"] == T0 + timedelta(seconds=2)
    assert row["queue_time"] == T0 + timedelta(seconds=3)
    assert row["start_time"] == T0 + timedelta(seconds=4)  # the first start stays
    assert row["end_time"] == T0 + timedelta(seconds=9) and row["stats"] == {"cost": 1} and row["error"] is None
