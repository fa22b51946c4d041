"""The database going away while a node is being charged is the platform's trouble, not the node's:
the run stops (to resume from the store later) and the node is never recorded as FAILED. A block
that fails with a connection error of its own still fails its node."""

from __future__ import annotations

import psycopg
import pytest

from services.domain.blocks.base import RunContext
from services.executor.runner import ExecutionRunner
from tests.unit.executor_harness import MemoryWriter, build_graph, queued_state

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
PERSIST = "1d055e55-a2b9-4547-8311-907d05b0304d"


class LostStore:
    """A block's own storage whose connection the server dropped."""

    async def set(self, user_id, key, value):
        raise psycopg.OperationalError("terminating connection due to unexpected postmaster exit")

    async def get(self, user_id, key):
        raise psycopg.OperationalError("terminating connection due to unexpected postmaster exit")


def _runner(body, charge) -> tuple[ExecutionRunner, MemoryWriter, object]:
    state = queued_state(body, {"x": 1})
    writer = MemoryWriter()
    runner = ExecutionRunner(state, writer, context_factory=lambda s, ne: RunContext(
        user_id=s.user_id, graph_id=s.graph_id, graph_exec_id=s.id, node_id=ne.node_id, node_exec_id=ne.id,
        kv_store=LostStore()), node_timeout_s=10, max_node_executions=100, charge=charge)
    return runner, writer, state


async def test_a_lost_database_while_charging_stops_the_run_without_failing_the_node():
    body, _ = build_graph([{"id": "in", "block_id": INPUT, "input_default": {"name": "x"}},
                           {"id": "out", "block_id": OUTPUT, "input_default": {"name": "y"}}],
                          [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}])

    async def charge(state, ne, input_data, before_spend=None):
        raise psycopg.OperationalError("terminating connection due to unexpected postmaster exit")

    runner, writer, _ = _runner(body, charge)
    with pytest.raises(psycopg.OperationalError):
        await runner.run()
    kinds = [type(event).__name__ for _, event in writer.events]
    assert "NodeFailed" not in kinds and "ExecutionFailed" not in kinds and "ExecutionCompleted" not in kinds


async def test_a_blocks_own_connection_error_still_fails_its_node():
    body, _ = build_graph([{"id": "keep", "block_id": PERSIST, "input_default": {"key": "k", "value": 1}}], [])

    async def charge(state, ne, input_data, before_spend=None):
        return 0

    runner, writer, state = _runner(body, charge)
    await runner.run()
    (node,) = state.node_execs.values()
    assert node.status == "FAILED" and "postmaster exit" in dict(node.outputs)["error"]
