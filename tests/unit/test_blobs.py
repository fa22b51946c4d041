"""Large values out of line and size limits, through the real runner and planner in memory.

A blob store double records the order of writes, so the tests can check what the real store must
guarantee too: a blob is written before any event that references it.
"""

import asyncio

import orjson

from schemas.events.executions import ExecutionQueued, NodeInputAdded, NodeOutput, NodeQueued
from services.domain.blocks.base import RunContext
from services.domain.executions.state import ExecutionState
from services.domain.executions.views import execution_with_nodes
from services.executor.runner import ExecutionRunner, OutputLimits
from services.infra import blobs
from services.infra.execution_refs import Externaliser, payload_refs, state_refs, view_refs
from tests.unit.executor_harness import build_graph, nodes_of, queued_state
from tests.unit.fakes import MemoryKeyValueStore

REPLACE = "7e7c87ab-3469-4bcc-9abe-67705091b713"
COUNT = "ab2a782d-22cf-4587-8a70-55b59b3f9f90"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
LIMITS = OutputLimits(inline_value_bytes=1024, max_value_bytes=200_000, max_run_bytes=500_000,
                      max_event_bytes=64 * 1024)


class MemoryBlobs:
    def __init__(self, log: list) -> None:
        self.rows: dict[tuple[str, str], bytes] = {}
        self.log = log

    async def put(self, owner_id, items):
        await asyncio.sleep(0.01)  # a real commit takes a while: later writes must wait for it
        for sha, data in items.items():
            assert blobs.digest(data) == sha
            self.rows[(owner_id, sha)] = data
            self.log.append(("blob", sha))

    async def get(self, owner_id, shas):
        return {sha: self.rows[(owner_id, sha)] for sha in shas if (owner_id, sha) in self.rows}


class LoggingWriter:
    def __init__(self, log: list) -> None:
        self.events = [None]  # version 1: the ExecutionQueued the state was folded from
        self.log = log

    def write(self, stream_id, first_version, events, user_id):
        for i, (event, _at) in enumerate(events):
            assert first_version + i == len(self.events) + 1, "versions handed over in order, no gaps"
            self.events.append(event)
            for sha in _event_shas(event):
                self.log.append(("event-ref", sha))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def _event_shas(event):
    refs = blobs.Refs()
    payload_refs(event.TYPE, event.model_dump(mode="json"), refs)
    return refs.shas()


def replace_graph(new_len: int, *, count=True):
    nodes = [{"id": "r", "block_id": REPLACE, "input_default": {"text": "a" * 10, "old": "", "new": "b" * new_len}},
             {"id": "o", "block_id": OUTPUT, "input_default": {"name": "out"}}]
    links = [{"source_id": "r", "sink_id": "o", "source_name": "output", "sink_name": "value"}]
    if count:
        nodes.append({"id": "c", "block_id": COUNT, "input_default": {}})
        links.append({"source_id": "r", "sink_id": "c", "source_name": "output", "sink_name": "text"})
    return build_graph(nodes, links)


def runner_for(state, log, store=None, limits=LIMITS):
    writer = LoggingWriter(log)
    kv = MemoryKeyValueStore()
    store = store or MemoryBlobs(log)
    runner = ExecutionRunner(state, writer, context_factory=lambda s, ne: RunContext(
        user_id=s.user_id, graph_id=s.graph_id, graph_exec_id=s.id, node_id=ne.node_id, node_exec_id=ne.id,
        kv_store=kv), node_timeout_s=30, max_node_executions=100, blobs=store, limits=limits)
    return runner, writer, store


def replaced(new_len: int) -> str:
    return "a".join(["b" * new_len] * 11)


async def test_a_large_output_is_recorded_as_a_reference_written_before_its_events():
    body, ids = replace_graph(2000)
    state, log = queued_state(body), []
    runner, writer, store = runner_for(state, log)
    assert await runner.run() == "COMPLETED"
    big = replaced(2000)
    # the state (what the planner and the blocks saw) holds the real value
    result = execution_with_nodes(state)
    assert result["outputs"] == {"out": [big]}
    assert nodes_of(result, ids["c"])[0]["output_data"]["character_count"] == [len(big)]
    # the events hold references: the output, the routed inputs and the queued inputs
    output = next(e for e in writer.events if isinstance(e, NodeOutput))
    assert blobs.is_reference(output.value)
    assert blobs.reference_size(output.value) == len(orjson.dumps(big))
    routed = [e for e in writer.events if isinstance(e, NodeInputAdded)]
    assert len(routed) == 2 and all(e.value == output.value for e in routed)
    queued = {e.node_id: e for e in writer.events if isinstance(e, NodeQueued)}
    assert queued[ids["o"]].input_data["value"] == output.value
    assert queued[ids["c"]].input_data["text"] == output.value
    # one blob for the one output value (the other: the node's own 2 KB input default), written
    # before the first event referencing it
    new_default = blobs.digest(orjson.dumps("b" * 2000))
    assert set(store.rows) == {(state.user_id, blobs.reference_sha(output.value)), (state.user_id, new_default)}
    assert (log.index(("blob", blobs.reference_sha(output.value)))
            < log.index(("event-ref", blobs.reference_sha(output.value))))
    # no stored event is over the event limit
    assert max(len(orjson.dumps(e.model_dump(mode="json"))) for e in writer.events[1:]) < LIMITS.max_event_bytes


async def test_small_values_stay_inline():
    body, _ = replace_graph(3)
    state, log = queued_state(body), []
    runner, writer, store = runner_for(state, log)
    assert await runner.run() == "COMPLETED"
    assert not store.rows
    assert next(e for e in writer.events if isinstance(e, NodeOutput)).value == replaced(3)


async def test_a_value_over_max_value_bytes_fails_its_node_without_being_recorded():
    body, ids = replace_graph(20_000)  # 220 KB > 200 KB
    state, log = queued_state(body), []
    runner, writer, store = runner_for(state, log)
    await runner.run()
    node = nodes_of(execution_with_nodes(state), ids["r"])[0]
    assert node["status"] == "FAILED"
    size = len(orjson.dumps(replaced(20_000)))
    assert node["output_data"] == {"error": [f"Output of {size} bytes exceeds the limit of 200000 bytes"]}
    assert (state.user_id, blobs.digest(orjson.dumps(replaced(20_000)))) not in store.rows
    assert not [e for e in writer.events if isinstance(e, NodeOutput) and e.pin == "output"]
    assert not nodes_of(execution_with_nodes(state), ids["o"])  # nothing was routed


async def test_the_run_budget_fails_the_output_that_would_pass_it():
    nodes = [{"id": f"r{i}", "block_id": REPLACE, "input_default": {"text": "a" * 10, "old": "", "new": "b" * 15_000}}
             for i in range(4)]  # 4 x 165 KB > 500 KB
    body, ids = build_graph(nodes, [])
    state, log = queued_state(body), []
    runner, _writer, _store = runner_for(state, log)
    await runner.run()
    statuses = sorted(ne.status for ne in state.node_execs.values())
    assert statuses == ["COMPLETED", "COMPLETED", "COMPLETED", "FAILED"]
    failed = next(ne for ne in state.node_execs.values() if ne.status == "FAILED")
    assert "of recorded output per run" in failed.error and "exceeds the limit of 500000 bytes" in failed.error
    assert runner.run_bytes <= LIMITS.max_run_bytes


async def test_a_resumed_run_resolves_references_before_blocks_run():
    """Fold the stored events (references) into a new state, as the next owner would, with the
    sink node still queued: it must receive the real value."""
    body, ids = replace_graph(2000, count=False)
    state, log = queued_state(body), []
    runner, writer, store = runner_for(state, log)
    await runner.run()
    stored = [ExecutionQueued(user_id="u", graph_id=body.id, graph_version=1, graph=body)]
    stored += writer.events[1:]
    cut = next(i for i, e in enumerate(stored) if isinstance(e, NodeQueued) and e.node_id == ids["o"])
    resumed = ExecutionState(state.id)
    for event in stored[:cut + 1]:
        resumed.apply(event)
    assert state_refs(resumed)  # the folded state holds references
    puts_before = sum(1 for entry in log if entry[0] == "blob")
    runner2, writer2, _ = runner_for(resumed, log, store=store)
    runner2.next_version = len(stored[:cut + 1]) + 1
    writer2.events = [None] * (cut + 1)
    assert await runner2.run() == "COMPLETED"
    assert execution_with_nodes(resumed)["outputs"] == {"out": [replaced(2000)]}
    assert runner2.run_bytes == sum(len(orjson.dumps(v)) for ne in resumed.node_execs.values() for _, v in ne.outputs)
    # the sink's own output (the same value) reuses the blob: nothing is written again
    assert sum(1 for entry in log if entry[0] == "blob") == puts_before


def test_reference_look_alikes_at_a_value_position_go_out_of_line():
    """A user value shaped like a reference is stored as a blob, so an inline reference at a value
    position is always one the executor wrote (and resolves back to the look-alike itself)."""
    fake = {blobs.BLOB_KEY: {"sha256": "0" * 64, "size": 1}}
    ext = Externaliser(inline_bytes=1024, max_event_bytes=64 * 1024)
    [(stored, _)], pending = ext.events([(NodeOutput(node_exec_id="n", pin="p", value=fake, seq=0), None)])
    assert blobs.is_reference(stored.value) and blobs.reference_sha(stored.value) != "0" * 64
    assert orjson.loads(pending[blobs.reference_sha(stored.value)]) == fake


def test_a_node_input_is_fitted_under_the_event_limit():
    ext = Externaliser(inline_bytes=32 * 1024, max_event_bytes=128 * 1024)
    data = {f"p{i}": "x" * 30_000 for i in range(10)}  # each under inline, 300 KB together
    [(stored, _)], pending = ext.events([(NodeQueued(node_exec_id="n", node_id="n", block_id="b", input_data=data),
                                          None)])
    assert len(orjson.dumps(stored.model_dump(mode="json"))) <= 128 * 1024
    assert pending and any(blobs.is_reference(v) for v in stored.input_data.values())


def test_views_are_resolved_on_copies():
    ref = blobs.reference("a" * 64, 5)
    inner = {"value": ref, "name": "out"}
    view = {"inputs": {}, "node_executions": [{"input_data": inner, "output_data": {"output": [ref]}}]}
    refs = blobs.Refs()
    view_refs(view, refs)
    refs.fill({"a" * 64: b'"hello"'})
    node = view["node_executions"][0]
    assert node["input_data"] == {"value": "hello", "name": "out"} and node["output_data"] == {"output": ["hello"]}
    assert inner["value"] is ref  # the state the view was built from is untouched


def test_only_well_formed_references_resolve():
    assert not blobs.is_reference({blobs.BLOB_KEY: {"sha256": "x", "size": 1}})
    assert not blobs.is_reference({blobs.BLOB_KEY: {"sha256": "a" * 64, "size": 1}, "other": 1})
    assert blobs.is_reference(blobs.reference("a" * 64, 1))


def test_a_response_resolves_at_most_its_budget_and_leaves_the_rest_as_references():
    # One stored value standing in many positions (a static link feeding a loop) must not make
    # one read build gigabytes: past the budget, positions keep their reference.
    ref = blobs.reference("b" * 64, 10)
    positions = [ref] * 5
    refs = blobs.Refs(budget=25)
    refs.each(positions)
    placed = refs.fill({"b" * 64: b'"0123456789"'})
    assert positions[:2] == ["0123456789"] * 2 and positions[2:] == [ref] * 3
    assert len(placed) == 2
    unbounded = [ref] * 5
    refs = blobs.Refs()
    refs.each(unbounded)
    refs.fill({"b" * 64: b'"0123456789"'})
    assert unbounded == ["0123456789"] * 5  # the executor resolves everything
