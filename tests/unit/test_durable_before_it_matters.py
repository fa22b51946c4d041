"""The runner's durability rule: pure, free work does not wait for a commit (successors start
while the write carrying their inputs is still on its way), but nothing leaves the run (a block
with external effects, a spend) until everything the run wrote before it is in the store, and
the run ends only after its last write is durable."""

from __future__ import annotations

import asyncio

from services.domain.blocks.base import RunContext
from services.executor.runner import ExecutionRunner
from tests.unit.executor_harness import build_graph, queued_state
from tests.unit.fakes import MemoryKeyValueStore

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
CALC = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
PERSIST = "1d055e55-a2b9-4547-8311-907d05b0304d"


class SlowWriter:
    """Every write becomes durable 20 ms after it was handed over, in order (a group commit);
    ``pending`` counts the writes not durable yet, ``most_pending`` the most there were at once."""

    def __init__(self) -> None:
        self.events: list = []
        self.pending = 0
        self.most_pending = 0
        self.durable: list = []  # events in the store

    def write(self, stream_id, first_version, events, user_id):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending += 1
        self.most_pending = max(self.most_pending, self.pending)
        batch = [event for event, _at in events]
        self.events += batch

        def commit() -> None:
            self.pending -= 1
            self.durable += batch
            future.set_result(None)

        loop.call_later(0.02, commit)
        return future


def _chain(length: int, last_block: str | None = None) -> object:
    nodes = [{"id": "in", "block_id": INPUT, "input_default": {"name": "x"}}]
    links = []
    for i in range(length):
        nodes.append({"id": f"c{i}", "block_id": CALC, "input_default": {"operation": "Add", "b": 1}})
        links.append({"source_id": nodes[-2]["id"], "sink_id": f"c{i}", "source_name": "result", "sink_name": "a"})
    if last_block:
        nodes.append({"id": "keep", "block_id": last_block, "input_default": {"key": "k"}})
        links.append({"source_id": nodes[-2]["id"], "sink_id": "keep", "source_name": "result",
                      "sink_name": "value"})
    body, _ = build_graph(nodes, links)
    return body


def _runner(body, writer, kv=None, charge=None):
    state = queued_state(body, {"x": 1})
    runner = ExecutionRunner(state, writer, context_factory=lambda s, ne: RunContext(
        user_id=s.user_id, graph_id=s.graph_id, graph_exec_id=s.id, node_id=ne.node_id, node_exec_id=ne.id,
        kv_store=kv or MemoryKeyValueStore()), node_timeout_s=10, max_node_executions=100, charge=charge)
    return runner, state


async def test_a_chain_of_pure_blocks_runs_ahead_of_its_commits_and_ends_durable():
    writer = SlowWriter()
    runner, state = _runner(_chain(10), writer)
    assert await runner.run() == "COMPLETED"
    # Waiting for each node's commit would never have more than one write in flight; running ahead
    # of the commits, the chain's writes are on their way together (not a timing, so a loaded
    # machine cannot fail it).
    assert writer.most_pending > 2, writer.most_pending
    assert writer.pending == 0 and writer.durable == writer.events  # nothing left in flight
    assert type(writer.durable[-1]).__name__ == "ExecutionCompleted"
    final = [ne for ne in state.node_execs.values() if ne.node_id == state.graph.nodes[-1].id]
    assert final[0].outputs == [("result", 11)]


async def test_a_block_with_external_effects_starts_only_after_everything_before_it_is_durable():
    writer = SlowWriter()

    class WatchedStore(MemoryKeyValueStore):
        async def set(self, user_id, key, value):
            seen.append((writer.pending, [type(e).__name__ for e in writer.durable].count("NodeCompleted")))
            return await super().set(user_id, key, value)

    seen: list = []
    runner, _ = _runner(_chain(5, last_block=PERSIST), writer, kv=WatchedStore())
    assert await runner.run() == "COMPLETED"
    # When the effect happened: no write in flight, and the five sums and the input were recorded.
    assert seen == [(0, 6)]


async def test_money_moves_only_after_everything_before_it_is_durable():
    writer = SlowWriter()
    spends: list[int] = []

    async def charge(state, ne, input_data, before_spend=None):
        if ne.block_id == CALC:  # a priced block
            await before_spend()
            spends.append(writer.pending)
            return 1
        return 0

    runner, _ = _runner(_chain(3), writer, charge=charge)
    assert await runner.run() == "COMPLETED"
    assert spends == [0, 0, 0]
