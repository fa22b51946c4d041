"""``GET /api/executions/cost-summary`` (AutoGPT's ``UserExecutionCostSummary``) against the real
stack: runs priced by their ledger entries, dry and deleted runs left out, one user's figures never
another's, and the window's bounds refused with 422 as AutoGPT refuses them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest_asyncio

from tests.conftest import drop_schema, isolated_settings
from tests.integration.stack import running_stack
from tests.integration.test_api_keys import adder_graph
from tests.integration.test_credits import CALC, priced_graph

SUMMARY = "/api/executions/cost-summary"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    settings = isolated_settings(database_url, broker.bootstrap)
    settings.signup_credits = 1000
    settings.block_costs = {CALC: [{"cost_amount": 2, "cost_filter": {}}]}
    async with running_stack(settings, executors=1) as running:
        yield running
    drop_schema(database_url, settings.db_schema)


async def _run(stack, client, graph_id: str, **body) -> dict:
    r = await client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"x": 1}, **body})
    assert r.status_code == 200, r.text
    return await stack.wait_terminal(client, graph_id, r.json()["id"])


async def test_runs_are_priced_by_their_ledger_entries_per_user(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        four = (await alice.post("/api/graphs", json={"graph": priced_graph()})).json()["id"]  # 4 × 2 credits
        one = (await alice.post("/api/graphs", json={"graph": adder_graph()})).json()["id"]  # 1 × 2 credits
        runs = [await _run(stack, alice, four), await _run(stack, alice, four), await _run(stack, alice, one)]
        await _run(stack, alice, four, dry_run=True)  # charges nothing and is left out, as AutoGPT does
        deleted = await _run(stack, alice, one)
        assert (await alice.delete(f"/api/executions/{deleted['id']}")).status_code == 204
        bobs = (await bob.post("/api/graphs", json={"graph": adder_graph()})).json()["id"]
        await _run(stack, bob, bobs)

        r = await alice.get(SUMMARY)
        assert r.status_code == 200, r.text
        s = r.json()
        assert (s["total_cents"], s["run_count"], s["billable_run_count"]) == (18, 3, 3)
        assert (s["success_run_count"], s["failed_run_count"], s["review_run_count"]) == (3, 0, 0)
        assert s["failed_cost_cents"] == 0 and s["duration_run_count"] == 3 and s["total_duration_seconds"] > 0
        assert s["by_agent"] == [{"graph_id": four, "cost_cents": 16, "run_count": 2},
                                 {"graph_id": one, "cost_cents": 2, "run_count": 1}]
        assert [t["cost_cents"] for t in s["top_runs"]] == [8, 8, 2]
        assert {t["execution_id"] for t in s["top_runs"]} == {run["id"] for run in runs}
        assert {t["status"] for t in s["top_runs"]} == {"COMPLETED"}
        today = datetime.now(UTC).date().isoformat()
        assert s["daily"] == [{"date": today, "cost_cents": 18, "run_count": 3}]

        limited = (await alice.get(SUMMARY, params={"top_runs_limit": 1})).json()
        assert [t["cost_cents"] for t in limited["top_runs"]] == [8] and limited["total_cents"] == 18
        b = (await bob.get(SUMMARY)).json()
        assert (b["total_cents"], b["run_count"], [a["graph_id"] for a in b["by_agent"]]) == (2, 1, [bobs])

        later = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()  # no offset: UTC
        empty = (await alice.get(SUMMARY, params={"since": later, "until": later})).json()
        assert (empty["total_cents"], empty["run_count"], empty["by_agent"], empty["daily"]) == (0, 0, [], [])


async def test_window_and_limit_bounds_are_422_and_no_id_lookup(stack, user_ids):
    now = datetime.now(UTC)
    async with stack.client(user_ids["alice"]) as alice, stack.client() as anon:
        inverted = await alice.get(SUMMARY, params={"since": now.isoformat(),
                                                    "until": (now - timedelta(1)).isoformat()})
        assert inverted.status_code == 422 and "earlier than" in str(inverted.json()["detail"])
        too_long = await alice.get(SUMMARY, params={"since": (now - timedelta(days=400)).isoformat()})
        assert too_long.status_code == 422 and "366 days" in str(too_long.json()["detail"])
        for limit in (0, 51, "many"):
            assert (await alice.get(SUMMARY, params={"top_runs_limit": limit})).status_code == 422
        assert (await alice.get(SUMMARY, params={"since": "yesterday"})).status_code == 422
        assert (await anon.get(SUMMARY)).status_code == 401
