"""The credits ledger and per-block charging against the real PostgreSQL (and, for executions, the
whole stack)."""

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.domain.credits.ledger import InsufficientBalance
from services.infra.eventstore import EventStore, make_datastore
from services.infra.ledger_service import LedgerService
from services.infra.migrations import migrate
from tests.integration.stack import running_stack
from tests.integration.test_graphs_api import INPUT, OUTPUT

CALC = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"


@pytest.fixture
def stores(settings):
    migrate(settings)
    datastores = [make_datastore(settings, pool_size=8) for _ in range(2)]
    yield [EventStore(ds, "credits") for ds in datastores]
    for ds in datastores:
        ds.close()


def test_concurrent_spends_never_overdraw_or_double_charge(stores):
    # two services (as two processes would be) sharing one ledger, 50 spends racing
    services = [LedgerService(store) for store in stores]
    user = f"u-{uuid.uuid4().hex[:6]}"
    services[0].grant(user, 30, "grant-1")

    def spend(i):
        try:
            services[i % 2].spend(user, 1, f"spend-{i}")
            return True
        except InsufficientBalance:
            return False

    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(spend, range(50)))
    ledger = services[0].load(user)
    assert ledger.balance == 0
    assert sum(results) == 30
    usage = [e for e in stores[0].read_stream(ledger_stream(user)) if e.type == "CreditsSpent"]
    assert len(usage) == 30
    assert len({e.payload["transaction_key"] for e in usage}) == 30


def ledger_stream(user):
    from services.domain.credits.ledger import ledger_stream_id

    return ledger_stream_id(user)


def test_repeated_keys_apply_once_and_snapshots_keep_answers(stores):
    service = LedgerService(stores[0], snapshot_every=10)
    user = f"u-{uuid.uuid4().hex[:6]}"
    first = service.grant(user, 100, "grant-A", "welcome")
    again = service.grant(user, 100, "grant-A", "welcome")
    assert first == again and service.load(user).balance == 100
    for i in range(25):
        service.spend(user, 1, f"s-{i}")
    service.spend(user, 1, "s-3")  # a repeat from before the latest snapshots
    ledger = service.load(user)
    assert ledger.balance == 75
    events = stores[0].read_stream(ledger_stream(user))
    assert any(e.type == "LedgerSnapshotTaken" for e in events)
    with pytest.raises(InsufficientBalance) as refused:
        service.spend(user, 1000, "too-much")
    assert str(refused.value).startswith("Insufficient balance of $0.75")


def priced_graph(steps=4):
    nodes = [{"id": "in", "block_id": INPUT, "input_default": {"name": "x"}}]
    links = []
    previous, pin = "in", "result"
    for i in range(steps):
        nodes.append({"id": f"c{i}", "block_id": CALC, "input_default": {"operation": "Add", "b": 1}})
        links.append({"source_id": previous, "sink_id": f"c{i}", "source_name": pin, "sink_name": "a"})
        previous, pin = f"c{i}", "result"
    nodes.append({"id": "out", "block_id": OUTPUT, "input_default": {"name": "result"}})
    links.append({"source_id": previous, "sink_id": "out", "source_name": pin, "sink_name": "value"})
    return {"name": "priced", "nodes": nodes, "links": links}


async def test_charging_402_and_running_out_mid_graph(settings):
    settings.signup_credits = 0
    settings.block_costs = {CALC: [{"cost_amount": 2, "cost_filter": {}}]}
    async with running_stack(settings, executors=1) as stack:
        async with stack.client("carol") as carol, stack.client("root", admin=True) as admin:
            gid = (await carol.post("/api/graphs", json={"graph": priced_graph()})).json()["id"]
            assert (await carol.get("/api/credits")).json() == {"credits": 0}
            r = await carol.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}})
            assert r.status_code == 402 and "Insufficient balance" in r.json()["detail"]

            r = await carol.post("/api/credits/admin/add_credits", json={"user_id": "carol", "amount": 5})
            assert r.status_code == 403
            grant = {"user_id": "carol", "amount": 5, "comments": "trial", "idempotency_key": "trial-1"}
            assert (await admin.post("/api/credits/admin/add_credits", json=grant)).json()["new_balance"] == 5
            assert (await admin.post("/api/credits/admin/add_credits", json=grant)).json()["new_balance"] == 5

            run = (await carol.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}})).json()
            done = await stack.wait_terminal(carol, gid, run["id"])
            assert done["status"] == "FAILED"
            calcs = [ne for ne in done["node_executions"] if ne["block_id"] == CALC]
            assert [ne["status"] for ne in calcs] == ["COMPLETED", "COMPLETED", "FAILED"]
            assert calcs[-1]["output_data"]["error"][0].startswith("Insufficient balance of $0.01")
            assert done["outputs"] == {}
            assert done["stats"]["cost"] == 4
            assert (await carol.get("/api/credits")).json() == {"credits": 1}

            history = (await carol.get("/api/credits/transactions")).json()
            kinds = sorted(t["transaction_type"] for t in history["transactions"])
            assert kinds == ["GRANT", "USAGE"]  # the two node charges of one run are grouped
            usage = next(t for t in history["transactions"] if t["transaction_type"] == "USAGE")
            assert usage["amount"] == -4 and usage["usage_execution_id"] == run["id"]
            assert (await carol.get("/api/credits/admin/users/carol/transactions")).status_code == 403
            assert (await admin.get("/api/credits/admin/users/carol/transactions")).status_code == 200

            # a re-run of a charged node (as after an executor crash) is not charged again
            from services.domain.credits.pricing import cost_table_with
            from services.executor.charging import NodeCharger
            from services.infra.execution_stream import load_state

            datastore = make_datastore(settings, pool_size=1)
            try:
                state = await asyncio.to_thread(load_state, EventStore(datastore, "executions"), run["id"])
                charger = NodeCharger(LedgerService(EventStore(datastore, "credits")),
                                      cost_table_with(settings.block_costs))
                first = next(ne for ne in state.node_execs.values() if ne.block_id == CALC)
                assert await charger(state, first, first.input_data) == 2
            finally:
                datastore.close()
            assert (await carol.get("/api/credits")).json() == {"credits": 1}


async def test_a_free_node_that_cannot_pay_its_surcharge_routes_nothing(settings):
    """Every 2nd node execution costs 1 credit and carol holds 1. A free calculator that owes a
    surcharge it cannot pay records nothing but its error: the node fails, nothing after it runs,
    the run fails."""
    settings.signup_credits = 0
    settings.execution_cost_count_threshold = 2
    settings.execution_cost_per_threshold = 1
    async with running_stack(settings, executors=1) as stack:
        async with stack.client("carol") as carol, stack.client("root", admin=True) as admin:
            grant = {"user_id": "carol", "amount": 1, "comments": "trial", "idempotency_key": "trial-1"}
            assert (await admin.post("/api/credits/admin/add_credits", json=grant)).status_code == 200
            gid = (await carol.post("/api/graphs", json={"graph": priced_graph(steps=6)})).json()["id"]
            run = (await carol.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}})).json()
            done = await stack.wait_terminal(carol, gid, run["id"])

            assert done["status"] == "FAILED" and done["outputs"] == {}
            # numbers 1 (the input), 2 (pays the one credit), 3, 4 (owes one more)
            nodes = done["node_executions"]
            assert [ne["status"] for ne in nodes] == ["COMPLETED", "COMPLETED", "COMPLETED", "FAILED"]
            assert [ne["output_data"] for ne in nodes[:3]] == [{"result": [1]}, {"result": [2.0]}, {"result": [3.0]}]
            assert set(nodes[3]["output_data"]) == {"error"}  # its 4 never recorded, c3 never ran
            assert nodes[3]["output_data"]["error"][0].startswith("Insufficient balance")
            assert (await carol.get("/api/credits")).json() == {"credits": 0}
