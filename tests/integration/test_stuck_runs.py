"""The stuck-run watchdog against the real store: a run nobody starts, and a run whose node never
finishes, are flagged once in their history (and in /health), and, when the watchdog is set to,
ended: every open node TERMINATED, the run FAILED with a message saying why."""

from __future__ import annotations

import asyncio
import uuid

import pytest_asyncio

from schemas.events.executions import ExecutionQueued, ExecutionStarted, NodeQueued, NodeStarted
from services.infra.eventstore import EventStore
from services.infra.read_model_reader import ReadModelReader
from services.infra.store_contract import NewEvent
from services.scheduler.watchdog import StuckRunWatchdog
from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import eventually
from tests.integration.stack import running_stack
from tests.integration.test_executions_api import sample_graph
from tests.stories.builders import graph_body


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    settings = isolated_settings(database_url, broker.bootstrap)
    async with running_stack(settings, executors=0) as running:  # nothing starts a queued run
        yield running
    drop_schema(database_url, settings.db_schema)


@pytest_asyncio.fixture(loop_scope="session")
async def read_models(stack):
    reader = ReadModelReader.from_settings(stack.settings)
    await asyncio.to_thread(reader.open)
    yield reader
    await asyncio.to_thread(reader.close)


def watchdog(stack, read_models, *, fail: bool) -> StuckRunWatchdog:
    settings = stack.settings.model_copy(update={"stuck_queued_s": 0.2, "stuck_running_s": 0.2,
                                                 "stuck_fail_runs": fail})
    return StuckRunWatchdog(settings, EventStore(stack.datastore, "executions"), read_models)


def types_of(stack, execution_id: str) -> list[str]:
    return [r.type for r in EventStore(stack.datastore, "executions").read_stream(uuid.UUID(execution_id))]


async def test_a_run_nobody_starts_is_flagged_once_then_failed(stack, read_models, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = (await alice.post("/api/graphs", json={"graph": sample_graph()})).json()
        run = (await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"input_1": "a"}})).json()
        await alice.get(f"/api/executions/{run['id']}")  # fence: in the read model
        await asyncio.sleep(0.4)
        assert await watchdog(stack, read_models, fail=False).run_once() >= 1
        await asyncio.sleep(0.4)
        await watchdog(stack, read_models, fail=False).run_once()  # flagged once per status
        assert types_of(stack, run["id"]) == ["ExecutionQueued", "ExecutionStuckDetected"]
        history = (await alice.get(f"/api/executions/{run['id']}/events")).json()
        flag = [e for e in history["events"] if e["type"] == "ExecutionStuckDetected"] \
            if isinstance(history, dict) else [e for e in history if e["type"] == "ExecutionStuckDetected"]
        assert flag and flag[0]["payload"]["status"] == "QUEUED"
        assert (await alice.get(f"/api/executions/{run['id']}")).json()["status"] == "QUEUED"

        await asyncio.sleep(0.4)
        assert await watchdog(stack, read_models, fail=True).run_once() >= 1
        assert types_of(stack, run["id"])[-1] == "ExecutionFailed"

        async def failed():
            got = (await alice.get(f"/api/executions/{run['id']}")).json()
            return got if got["status"] == "FAILED" else None

        got = await eventually(failed)
        assert "stuck-run watchdog" in got["stats"]["error"] and "QUEUED waiting to start" in got["stats"]["error"]


async def test_a_run_whose_node_never_ends_is_failed_with_its_nodes_terminated(stack, read_models, user_ids):
    owner = user_ids["bob"]
    gid, run, node_exec = uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4())
    body = graph_body(gid)
    events = [ExecutionQueued(user_id=owner, graph_id=str(gid), graph_version=1, graph=body), ExecutionStarted(),
              NodeQueued(node_exec_id=node_exec, node_id="n-in", block_id=body.nodes[0].block_id, input_data={}),
              NodeStarted(node_exec_id=node_exec, attempt=1)]
    await asyncio.to_thread(EventStore(stack.datastore, "executions").append,
                            [NewEvent(run, i + 1, e, user_id=owner) for i, e in enumerate(events)])
    async with stack.client(owner) as bob:
        await bob.get(f"/api/executions/{run}")  # fence: in the read model
        await asyncio.sleep(0.4)
        assert await watchdog(stack, read_models, fail=True).run_once() >= 1
        assert types_of(stack, str(run))[-3:] == ["ExecutionStuckDetected", "NodeTerminated", "ExecutionFailed"]

        async def ended():
            got = (await bob.get(f"/api/executions/{run}")).json()
            return got if got["status"] == "FAILED" else None

        got = await eventually(ended)
        assert [n["status"] for n in got["node_executions"]] == ["TERMINATED"]
        assert "RUNNING with no progress" in got["stats"]["error"]
        assert await watchdog(stack, read_models, fail=True).run_once() == 0  # a finished run is never stuck
