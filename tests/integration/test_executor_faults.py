"""Crash safety and scale-out of executors, with real processes killed by SIGKILL, against the
real PostgreSQL and broker."""

import asyncio
import uuid
from collections import Counter

import pytest

from services.infra import db
from services.infra.eventstore import EventStore, make_datastore
from tests.integration.helpers import eventually
from tests.integration.processes import ServiceProcess
from tests.integration.stack import running_stack
from tests.integration.test_graphs_api import OUTPUT

STEP = "f66a3543-28d3-4ab5-8945-9b336371e2ce"
TIMER = "d67a9c52-5e4e-11e2-bcfd-0800200c9a71"
STORE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
CALC = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"


def slow_fanout_graph(items=6, seconds=1):
    """items -> each waits `seconds` -> collected as outputs; long enough to kill mid-run."""
    return {"name": "slow fan-out", "nodes": [
        {"id": "s", "block_id": STEP, "input_default": {"items": list(range(items))}},
        {"id": "t", "block_id": TIMER, "input_default": {"seconds": seconds}},
        {"id": "v", "block_id": STORE, "input_default": {}},
        {"id": "o", "block_id": OUTPUT, "input_default": {"name": "done"}},
        {"id": "c", "block_id": CALC, "input_default": {"operation": "Multiply", "b": 10}},
        {"id": "o2", "block_id": OUTPUT, "input_default": {"name": "tens"}},
    ], "links": [
        {"source_id": "s", "sink_id": "t", "source_name": "item", "sink_name": "input_message"},
        {"source_id": "t", "sink_id": "v", "source_name": "output_message", "sink_name": "input"},
        {"source_id": "v", "sink_id": "o", "source_name": "output", "sink_name": "value"},
        {"source_id": "s", "sink_id": "c", "source_name": "item", "sink_name": "a"},
        {"source_id": "c", "sink_id": "o2", "source_name": "result", "sink_name": "value"},
    ]}


def stream_events(settings, execution_id):
    datastore = make_datastore(settings, pool_size=1)
    try:
        return EventStore(datastore, "executions").read_stream(uuid.UUID(execution_id))
    finally:
        datastore.close()


def assert_no_duplicate_effects(events):
    """No completed node ran twice; every interrupted node ran at most once more; no output twice."""
    started = Counter(e.payload["node_exec_id"] for e in events if e.type == "NodeStarted")
    completed = Counter(e.payload["node_exec_id"] for e in events if e.type in ("NodeCompleted", "NodeFailed"))
    outputs = Counter((e.payload["node_exec_id"], e.payload["seq"]) for e in events if e.type == "NodeOutput")
    assert all(n == 1 for n in completed.values()), completed
    assert all(n <= 2 for n in started.values()), started
    assert all(n == 1 for n in outputs.values()), outputs
    assert [e.type for e in events].count("ExecutionCompleted") == 1
    return started


@pytest.fixture
def log_dir(tmp_path):
    return tmp_path


async def _start_executor(settings, log_dir):
    proc = ServiceProcess("executor", settings, log_dir).start()
    return proc


async def _wait_running_nodes(client, gid, exec_id, n):
    async def check():
        r = (await client.get(f"/api/graphs/{gid}/executions/{exec_id}")).json()
        done = [ne for ne in r.get("node_executions", []) if ne["status"] == "COMPLETED"]
        return len(done) >= n
    await eventually(check, timeout=60, message=f"{n} nodes completed")


async def test_kill_executor_mid_run_and_resume_elsewhere(settings, log_dir):
    async with running_stack(settings) as stack:
        first = await _start_executor(settings, log_dir)
        second = None
        try:
            async with stack.client("alice") as alice:
                gid = (await alice.post("/api/graphs", json={"graph": slow_fanout_graph()})).json()["id"]
                exec_id = (await alice.post(f"/api/graphs/{gid}/execute/1", json={})).json()["id"]
                await _wait_running_nodes(alice, gid, exec_id, 3)
                first.kill9()
                second = await _start_executor(settings, log_dir)
                done = await stack.wait_terminal(alice, gid, exec_id, timeout=90)
                assert done["status"] == "COMPLETED", second.log()
                assert sorted(done["outputs"]["done"]) == list(range(6))
                assert sorted(done["outputs"]["tens"]) == [i * 10 for i in range(6)]
            events = await asyncio.to_thread(stream_events, settings, exec_id)
            assert_no_duplicate_effects(events)
        finally:
            first.kill9()
            if second:
                second.stop()


async def test_broker_restart_mid_run(settings, log_dir, broker):
    if broker.proc is None:
        pytest.skip("needs the local broker to restart it")
    async with running_stack(settings) as stack:
        executor = await _start_executor(settings, log_dir)
        try:
            async with stack.client("alice") as alice:
                gid = (await alice.post("/api/graphs", json={"graph": slow_fanout_graph(4, 1)})).json()["id"]
                first_run = (await alice.post(f"/api/graphs/{gid}/execute/1", json={})).json()["id"]
                await _wait_running_nodes(alice, gid, first_run, 2)
                broker.restart()
                second_run = (await alice.post(f"/api/graphs/{gid}/execute/1", json={})).json()["id"]
                for exec_id in (first_run, second_run):
                    done = await stack.wait_terminal(alice, gid, exec_id, timeout=120)
                    assert done["status"] == "COMPLETED", executor.log()
                    assert sorted(done["outputs"]["tens"]) == [0, 10, 20, 30]
            for exec_id in (first_run, second_run):
                assert_no_duplicate_effects(await asyncio.to_thread(stream_events, settings, exec_id))
        finally:
            executor.stop()


async def test_two_executors_share_work_and_stop_reaches_the_owner(settings, log_dir):
    async with running_stack(settings) as stack:
        executors = [await _start_executor(settings, log_dir) for _ in range(2)]
        try:
            async with stack.client("alice") as alice:
                gid = (await alice.post("/api/graphs", json={"graph": slow_fanout_graph(2, 1)})).json()["id"]
                runs = [(await alice.post(f"/api/graphs/{gid}/execute/1", json={})).json()["id"] for _ in range(8)]
                for exec_id in runs:
                    done = await stack.wait_terminal(alice, gid, exec_id, timeout=90)
                    assert done["status"] == "COMPLETED"
                started = await asyncio.to_thread(_runs_started_per_executor, settings)
                assert len(started) == 2 and all(n > 0 for n in started), started
                # stop: a long run, stopped through the API, ends TERMINATED whichever executor owns it
                slow = (await alice.post("/api/graphs", json={"graph": slow_fanout_graph(1, 30)})).json()["id"]
                long_run = (await alice.post(f"/api/graphs/{slow}/execute/1", json={})).json()["id"]
                await _wait_running_nodes(alice, slow, long_run, 1)
                r = await alice.post(f"/api/graphs/{slow}/executions/{long_run}/stop")
                assert r.status_code == 200 and r.json()["status"] == "TERMINATED"
                # the other executor takes over when one dies
                executors[0].kill9()
                after = [(await alice.post(f"/api/graphs/{gid}/execute/1", json={})).json()["id"] for _ in range(4)]
                for exec_id in after:
                    done = await stack.wait_terminal(alice, gid, exec_id, timeout=90)
                    assert done["status"] == "COMPLETED", executors[1].log()
        finally:
            for e in executors:
                e.stop()


def _runs_started_per_executor(settings) -> list[int]:
    with db.connect(settings) as conn:
        rows = conn.execute("SELECT details FROM component_heartbeats WHERE component = 'executor'").fetchall()
    return [row[0].get("started", 0) for row in rows]


def timer_then_output(seconds):
    return {"name": "one slow node", "nodes": [
        {"id": "t", "block_id": TIMER, "input_default": {"seconds": seconds, "input_message": "waited"}},
        {"id": "o", "block_id": OUTPUT, "input_default": {"name": "done"}},
    ], "links": [{"source_id": "t", "sink_id": "o", "source_name": "output_message", "sink_name": "value"}]}


async def _wait_node_running(client, gid, exec_id):
    async def check():
        r = (await client.get(f"/api/graphs/{gid}/executions/{exec_id}")).json()
        return any(ne["status"] == "RUNNING" for ne in r.get("node_executions", []))
    await eventually(check, timeout=60, message="a node running")


def _node_events(events, block_id, kind):
    """The events of one kind for the nodes of one block (graph creation gives nodes new ids)."""
    ids = {e.payload["node_exec_id"] for e in events if e.type == "NodeQueued" and e.payload["block_id"] == block_id}
    return [e for e in events if e.type == kind and e.payload.get("node_exec_id") in ids]


async def test_sigterm_lets_the_running_node_finish_and_hands_over_the_rest(settings, log_dir):
    """SIGTERM drains: the node inside its block finishes and is recorded by the executor going
    away (so the next owner never repeats it), the node after it does not start there, and the
    next executor finishes the run."""
    settings = settings.model_copy(update={"executor_drain_s": 20.0})
    async with running_stack(settings) as stack:
        first = await _start_executor(settings, log_dir)
        second = None
        try:
            async with stack.client("alice") as alice:
                gid = (await alice.post("/api/graphs", json={"graph": timer_then_output(2)})).json()["id"]
                exec_id = (await alice.post(f"/api/graphs/{gid}/execute/1", json={})).json()["id"]
                await _wait_node_running(alice, gid, exec_id)
                first.proc.terminate()
                assert await asyncio.to_thread(first.proc.wait, 20) == 0, first.log()
                events = await asyncio.to_thread(stream_events, settings, exec_id)
                assert len(_node_events(events, TIMER, "NodeCompleted")) == 1
                assert "ExecutionCompleted" not in [e.type for e in events]
                second = await _start_executor(settings, log_dir)
                done = await stack.wait_terminal(alice, gid, exec_id, timeout=60)
                assert done["status"] == "COMPLETED", second.log()
                assert done["outputs"]["done"] == ["waited"]
            events = await asyncio.to_thread(stream_events, settings, exec_id)
            assert len(_node_events(events, TIMER, "NodeStarted")) == 1  # never run again
            assert_no_duplicate_effects(events)
        finally:
            first.kill9()
            if second:
                second.stop()


async def test_sigterm_drain_has_a_deadline(settings, log_dir):
    """A node longer than ``executor_drain_s`` does not hold the shutdown: the executor leaves
    after the deadline with the node unfinished in the store, for the next owner to resume (as
    after a crash: ``test_kill_executor_mid_run_and_resume_elsewhere``)."""
    settings = settings.model_copy(update={"executor_drain_s": 0.5})
    async with running_stack(settings) as stack:
        first = await _start_executor(settings, log_dir)
        try:
            async with stack.client("alice") as alice:
                gid = (await alice.post("/api/graphs", json={"graph": timer_then_output(30)})).json()["id"]
                exec_id = (await alice.post(f"/api/graphs/{gid}/execute/1", json={})).json()["id"]
                await _wait_node_running(alice, gid, exec_id)
                first.proc.terminate()
                assert await asyncio.to_thread(first.proc.wait, 10) == 0, first.log()
                assert "still running after 0.5s" in first.log()
                events = await asyncio.to_thread(stream_events, settings, exec_id)
                assert not _node_events(events, TIMER, "NodeCompleted")
                assert len(_node_events(events, TIMER, "NodeStarted")) == 1
        finally:
            first.kill9()
