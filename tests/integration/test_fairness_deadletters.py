"""Executor poison (DESIGN §2.7): an execution the executor cannot process is parked as a dead
letter (consumer ``executor``) instead of being retried forever; it stops holding a slot and an
offset, other runs go on, and ``agentloom deadletters retry`` drives it again."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import pytest

from schemas.events.executions import ExecutionQueued, NodeStarted
from services.executor.ports import find_graph_version
from services.infra import deadletters
from services.infra.store_contract import NewEvent
from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import eventually
from tests.integration.processes import ROOT, settings_env
from tests.integration.stack import running_stack
from tests.integration.test_fairness import opened, trivial_graph


@pytest.fixture
def settings(database_url, broker):
    s = isolated_settings(database_url, broker.bootstrap, db_pool_size=4)  # a shared server: few connections
    yield s
    drop_schema(database_url, s.db_schema)


async def entries(service, execution_id: str) -> list[deadletters.DeadLetter]:
    async with service.res.kv_pool.connection() as conn:  # the executor's pool: no extra connection
        return [d for d in await deadletters.list_open(conn, include_closed=True)
                if d.consumer == "executor" and d.stream_id == execution_id]


async def dead_letter(service, execution_id: str, status: str | None = None):
    async def check():
        rows = await entries(service, execution_id)
        if rows and (status is None or rows[-1].status == status):
            return rows[-1]
        return None
    return await eventually(check, timeout=30, interval=0.25, message=f"dead letter for {execution_id} ({status})")


async def cli(settings, *args: str) -> str:
    """``agentloom …`` as an operator runs it (again if the shared test server is out of connections)."""
    for _ in range(20):
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "services.cli.main", *args], cwd=ROOT, env=settings_env(settings),
            capture_output=True, text=True, timeout=60)
        if "too many clients" not in done.stderr:
            break
        await asyncio.sleep(1.0)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def started_executor(stack):
    service = stack.start_executor()
    service.retry_poll_s = 0.2

    async def ready():
        return service.ready
    await eventually(ready, timeout=30, message="executor ready")
    return service


async def test_f4_poison_execution_is_parked_and_everyone_else_goes_on(settings, user_ids):
    async with running_stack(settings, executors=0, projector=False) as stack, opened(settings) as store:
        service = await started_executor(stack)
        async with stack.client(user_ids["alice"]) as alice:
            graph = (await alice.post("/api/graphs", json={"graph": trivial_graph()})).json()
            poison = await asyncio.to_thread(_append_unfoldable_execution, store, graph["id"], user_ids["alice"])

            parked = await dead_letter(service, poison, "parked")
            assert parked.context == "executions" and "KeyError" in parked.error
            # it holds neither a slot nor its partition's offset, and others' runs go on
            assert poison not in service.running and service.slots.held == 0
            run = (await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={})).json()["id"]
            assert (await store.terminal(run)).status == "COMPLETED"

            async def counted():
                return service.status()[1]["dead_letters"] == 1
            await eventually(counted, timeout=10, message="heartbeat shows the open dead letter")

            await cli(settings, "deadletters", "retry", str(parked.id))  # driven again: still poison
            again = await eventually(lambda: _attempts(service, poison, 2), timeout=30, interval=0.25,
                                     message="the retried execution was driven and parked again")
            assert again.status == "parked"

            await cli(settings, "deadletters", "skip", str(parked.id))
            await dead_letter(service, poison, "skipped")
            await asyncio.sleep(3 * service.retry_poll_s)
            assert poison not in service.running and poison in service.parked


async def test_f4_retry_drives_a_parked_execution_to_its_end(settings, user_ids):
    """A runner that keeps failing with a non-transient error is parked after a few attempts;
    once the cause is gone, retry runs it to COMPLETED and the dead letter is resolved."""
    async with running_stack(settings, executors=0, projector=False) as stack, opened(settings) as store:
        service = await started_executor(stack)
        broken = {"graph": None}
        real_runner = service._runner

        def runner(state, lease=None, reuse=None):
            if state.graph_id == broken["graph"]:
                raise ValueError("the runner cannot handle this execution")
            return real_runner(state, lease, reuse)

        service._runner = runner
        async with stack.client(user_ids["alice"]) as alice:
            bad = (await alice.post("/api/graphs", json={"graph": trivial_graph()})).json()
            good = (await alice.post("/api/graphs", json={"graph": trivial_graph()})).json()
            broken["graph"] = bad["id"]
            stuck = (await alice.post(f"/api/graphs/{bad['id']}/execute/1", json={})).json()["id"]
            parked = await dead_letter(service, stuck, "parked")
            assert "ValueError: the runner cannot handle this execution" in parked.error
            ok = (await alice.post(f"/api/graphs/{good['id']}/execute/1", json={})).json()["id"]
            assert (await store.terminal(ok)).status == "COMPLETED"
            assert not (await store.state(stuck)).is_terminal

            broken["graph"] = None
            await cli(settings, "deadletters", "retry", str(parked.id))
            done = await store.terminal(stuck)
            assert done.status == "COMPLETED"
            await dead_letter(service, stuck, "resolved")


async def _attempts(service, execution_id: str, n: int):
    rows = await entries(service, execution_id)
    return rows[-1] if rows and rows[-1].attempts >= n and rows[-1].status == "parked" else None


def _append_unfoldable_execution(store, graph_id: str, user: str) -> str:
    """A queued run followed by an event about a node execution that does not exist: the stream
    decodes, but folding it fails every time."""
    body = find_graph_version(store.graphs, user, graph_id, 1)
    execution_id = uuid.uuid4()
    queued = ExecutionQueued(user_id=user, graph_id=graph_id, graph_version=1, graph=body, inputs={})
    store.executions.append([NewEvent(execution_id, 1, queued, user_id=user),
                             NewEvent(execution_id, 2, NodeStarted(node_exec_id="no-such-node"), user_id=user)])
    return str(execution_id)


pytestmark = pytest.mark.timeout(120)
