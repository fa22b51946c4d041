"""Audit F4/F5 across a kill -9 of the executor process: a run still waiting for its user's slot
is resumed by the next owner, and the per-threshold surcharge (every Nth node execution of a
user costs M credits, AutoGPT COMPAT §2.7 item 2) is charged exactly once per threshold although
interrupted nodes run again."""

from __future__ import annotations

import asyncio

import pytest

from services.domain.credits.ledger import ledger_stream_id
from services.infra import db
from services.infra.eventstore import EventStore, make_datastore
from tests.conftest import drop_schema, isolated_settings
from tests.integration.processes import ServiceProcess
from tests.integration.stack import running_stack
from tests.integration.test_executor_faults import _wait_running_nodes, slow_fanout_graph, stream_events
from tests.integration.test_fairness import trivial_graph

THRESHOLD = 5


@pytest.fixture
def settings(database_url, broker, monkeypatch):
    s = isolated_settings(database_url, broker.bootstrap, db_pool_size=4)
    # the executor subprocess reads these from its environment (ServiceProcess copies os.environ)
    monkeypatch.setenv("AGENTLOOM_EXECUTOR_MAX_RUNNING_PER_USER", "1")
    monkeypatch.setenv("AGENTLOOM_EXECUTION_COST_COUNT_THRESHOLD", str(THRESHOLD))
    monkeypatch.setenv("AGENTLOOM_EXECUTION_COST_PER_THRESHOLD", "1")
    yield s
    drop_schema(database_url, s.db_schema)


def ledger_events(settings, user: str):
    datastore = make_datastore(settings, pool_size=1)
    try:
        return EventStore(datastore, "credits").read_stream(ledger_stream_id(user))
    finally:
        datastore.close()


def node_numbers(settings, starts) -> dict[str, int]:
    """Each started node execution's surcharge number, as the charger finds it: recorded in its
    NodeStarted (one of the lease; every attempt that records one agrees), else in the executor's
    table (asked of the database)."""
    numbers: dict[str, int] = {}
    for e in starts:
        number = e.payload.get("node_number")
        if number is not None:
            assert numbers.setdefault(e.payload["node_exec_id"], number) == number, e.payload
    with db.connect(settings) as conn:
        rows = conn.execute("SELECT node_exec_id, seq FROM executor_node_numbers WHERE node_exec_id = ANY(%s)",
                            ([e.payload["node_exec_id"] for e in starts],)).fetchall()
    for node, seq in rows:
        numbers.setdefault(node, int(seq))
    return numbers


async def test_f4_waiting_run_and_surcharge_survive_kill9(settings, user_ids, tmp_path):
    alice_id = user_ids["alice"]
    async with running_stack(settings) as stack:
        first = ServiceProcess("executor", settings, tmp_path).start()
        second = None
        try:
            async with stack.client(alice_id) as alice:
                slow = (await alice.post("/api/graphs", json={"graph": slow_fanout_graph(6, 1)})).json()["id"]
                quick = (await alice.post("/api/graphs", json={"graph": trivial_graph()})).json()["id"]
                running = (await alice.post(f"/api/graphs/{slow}/execute/1", json={})).json()["id"]
                await _wait_running_nodes(alice, slow, running, 3)
                # alice may run one execution at a time: this one waits, holding its offset
                waiting = (await alice.post(f"/api/graphs/{quick}/execute/1", json={})).json()["id"]
                await asyncio.sleep(0.5)
                assert [e.type for e in await asyncio.to_thread(stream_events, settings, waiting)] \
                    == ["ExecutionQueued"], first.log()
                first.kill9()
                second = ServiceProcess("executor", settings, tmp_path).start()
                for exec_id, gid in ((running, slow), (waiting, quick)):
                    done = await stack.wait_terminal(alice, gid, exec_id, timeout=90)
                    assert done["status"] == "COMPLETED", second.log()
            starts = [e for exec_id in (running, waiting)
                      for e in await asyncio.to_thread(stream_events, settings, exec_id) if e.type == "NodeStarted"]
            numbers = await asyncio.to_thread(node_numbers, settings, starts)
            reran = len([e for e in starts if e.payload["attempt"] > 1])
            spent = [e for e in await asyncio.to_thread(ledger_events, settings, alice_id) if e.type == "CreditsSpent"]
            surcharges = sorted(e.payload["transaction_key"] for e in spent
                                if e.payload["transaction_key"].startswith("EXECUTION-COST-"))
            assert len(numbers) == 31 + 2  # slow fan-out: 31 node executions; trivial: 2
            assert len(set(numbers.values())) == len(numbers)  # every node its own number, on every attempt
            # charged for exactly the numbers its nodes hold that are a THRESHOLD-th (a lease lost
            # with the killed executor leaves a gap: a surcharge skipped, never one taken twice)
            due = sorted(f"EXECUTION-COST-{n // THRESHOLD}" for n in numbers.values() if n % THRESHOLD == 0)
            assert surcharges == due and len(due) >= (len(numbers) - 32) // THRESHOLD, (surcharges, numbers, reran)
            assert all(e.payload["amount"] == -1 for e in spent if e.payload["transaction_key"] in surcharges)
        finally:
            first.kill9()
            if second:
                second.stop()

