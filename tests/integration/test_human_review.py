"""Human review over HTTP against the real stack (issue 17): a HumanInTheLoop node pauses its run
(REVIEW), the owner sees the review and decides it, the run resumes where it paused; a rejected
marked node fails; with safe mode off nothing waits; an HTTP POST interrupted by kill -9 goes to
"outcome unknown" instead of being sent twice (``test_outcome_unknown.py``). Another user can
neither see nor decide a review."""

from __future__ import annotations

import pytest
import pytest_asyncio

from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import eventually
from tests.integration.stack import running_stack
from tests.integration.test_graphs_api import INPUT, OUTPUT

HITL = "8b2a7b3c-6e9d-4a5f-8c1b-2e3f4a5b6c7d"
CALC = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
WEB = "6595ae1f-b924-42cb-9a41-551a0611c4b4"


def link(src, sink, source_name, sink_name):
    return {"source_id": src, "sink_id": sink, "source_name": source_name, "sink_name": sink_name}


def review_graph() -> dict:
    return {"name": "publish after review", "nodes": [
        {"id": "in", "block_id": INPUT, "input_default": {"name": "post"}},
        {"id": "h", "block_id": HITL, "input_default": {"name": "the post"}},
        {"id": "ok", "block_id": OUTPUT, "input_default": {"name": "published"}},
        {"id": "no", "block_id": OUTPUT, "input_default": {"name": "dropped"}},
    ], "links": [link("in", "h", "result", "data"), link("h", "ok", "approved_data", "value"),
                 link("h", "no", "rejected_data", "value")]}


def marked_graph() -> dict:
    return {"name": "checked sum", "nodes": [
        {"id": "in", "block_id": INPUT, "input_default": {"name": "x"}},
        {"id": "c", "block_id": CALC, "input_default": {"operation": "Add", "b": 1},
         "metadata": {"requires_human_review": True}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "result"}},
    ], "links": [link("in", "c", "result", "a"), link("c", "out", "result", "value")]}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    settings = isolated_settings(database_url, broker.bootstrap)
    async with running_stack(settings, executors=1, notifier=True) as running:
        yield running
    drop_schema(database_url, settings.db_schema)


async def _status(client, gid, exec_id, wanted, timeout=30.0) -> dict:
    async def check():
        r = (await client.get(f"/api/graphs/{gid}/executions/{exec_id}")).json()
        return r if r["status"] == wanted else None

    return await eventually(check, timeout=timeout, interval=0.05, message=f"execution {exec_id} is {wanted}")


async def _paused(client, graph: dict, inputs: dict) -> tuple[str, str, dict]:
    created = (await client.post("/api/graphs", json={"graph": graph})).json()
    run = (await client.post(f"/api/graphs/{created['id']}/execute/1", json={"inputs": inputs})).json()
    paused = await _status(client, created["id"], run["id"], "REVIEW")
    return created["id"], run["id"], paused


async def test_a_paused_run_is_reviewed_and_resumes_with_the_edited_data(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        gid, exec_id, paused = await _paused(alice, review_graph(), {"post": "draft"})
        assert (await alice.get(f"/api/graphs/{gid}")).json()["has_human_in_the_loop"] is True
        hitl, = [ne for ne in paused["node_executions"] if ne["block_id"] == HITL]
        assert hitl["status"] == "REVIEW"
        pending = (await alice.get("/api/review/pending")).json()
        mine, = [p for p in pending if p["graph_exec_id"] == exec_id]
        assert mine["node_exec_id"] == hitl["node_exec_id"] and mine["status"] == "WAITING"
        assert mine["payload"] == "draft" and mine["instructions"] == "the post" and mine["editable"] is True
        assert mine["graph_id"] == gid and mine["graph_version"] == 1 and mine["processed"] is False

        r = await alice.post("/api/review/action", json={"reviews": [
            {"node_exec_id": hitl["node_exec_id"], "approved": True, "reviewed_data": "final", "message": "ok"}]})
        assert r.status_code == 200, r.text
        assert r.json() == {"approved_count": 1, "rejected_count": 0, "failed_count": 0, "error": None}
        done = await _status(alice, gid, exec_id, "COMPLETED")
        assert done["outputs"] == {"published": ["final"]}

        again = await alice.post("/api/review/action", json={"reviews": [
            {"node_exec_id": hitl["node_exec_id"], "approved": True}]})
        assert again.status_code == 409, again.text  # the run no longer waits

        async def reviewed():
            rows = (await alice.get(f"/api/review/execution/{exec_id}")).json()
            return rows if rows and rows[0]["processed"] else None

        row, = await eventually(reviewed, timeout=10, message="the review is processed")
        assert row["status"] == "APPROVED" and row["was_edited"] is True and row["review_message"] == "ok"
        types = [e["type"] for e in (await alice.get(f"/api/executions/{exec_id}/events")).json()["events"]]
        for kind in ("NodeReviewRequested", "ExecutionPausedForReview", "NodeReviewed", "ExecutionResumed"):
            assert kind in types

        async def notified():
            items = (await alice.get("/api/notifications")).json()
            items = items.get("notifications", items) if isinstance(items, dict) else items
            return [n for n in items if n.get("type", n.get("notification_type")) == "REVIEW_REQUESTED"] or None

        note, = await eventually(notified, timeout=15, message="the owner is told a review waits")
        assert exec_id in str(note)


async def test_rejecting_a_marked_node_fails_it_with_the_message(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        gid, exec_id, paused = await _paused(alice, marked_graph(), {"x": 1})
        calc, = [ne for ne in paused["node_executions"] if ne["block_id"] == CALC]
        r = await alice.post("/api/review/action", json={"reviews": [
            {"node_exec_id": calc["node_exec_id"], "approved": False, "message": "not now"}]})
        assert r.status_code == 200 and r.json()["rejected_count"] == 1
        done = await _status(alice, gid, exec_id, "COMPLETED")
        calc, = [ne for ne in done["node_executions"] if ne["block_id"] == CALC]
        assert calc["status"] == "FAILED" and "not now" in str(calc["output_data"]["error"])
        assert done["outputs"] == {}


async def test_with_safe_mode_off_the_run_does_not_wait(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        gid = (await alice.post("/api/graphs", json={"graph": review_graph()})).json()["id"]
        r = await alice.patch(f"/api/graphs/{gid}/settings", json={"human_in_the_loop_safe_mode": False})
        assert r.status_code == 200, r.text
        run = (await alice.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"post": "as is"}})).json()
        done = await stack.wait_terminal(alice, gid, run["id"])
        assert done["status"] == "COMPLETED" and done["outputs"] == {"published": ["as is"]}


async def test_stopping_a_waiting_run_terminates_it_and_closes_its_review(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        gid, exec_id, _ = await _paused(alice, review_graph(), {"post": "draft"})
        r = await alice.post(f"/api/graphs/{gid}/executions/{exec_id}/stop")
        assert r.status_code == 200 and r.json()["status"] == "TERMINATED", r.text

        async def closed():
            rows = (await alice.get(f"/api/review/execution/{exec_id}")).json()
            return rows if rows and rows[0]["status"] != "WAITING" else None

        row, = await eventually(closed, timeout=10, message="the review is closed")
        assert row["status"] == "REJECTED" and row["processed"] is True
        assert exec_id not in [p["graph_exec_id"] for p in (await alice.get("/api/review/pending")).json()]


async def test_another_user_can_neither_see_nor_decide_a_review(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        gid, exec_id, paused = await _paused(alice, review_graph(), {"post": "secret"})
        hitl, = [ne for ne in paused["node_executions"] if ne["block_id"] == HITL]
        assert exec_id not in [p["graph_exec_id"] for p in (await bob.get("/api/review/pending")).json()]
        assert (await bob.get(f"/api/review/execution/{exec_id}")).status_code == 404
        r = await bob.post("/api/review/action", json={"reviews": [
            {"node_exec_id": hitl["node_exec_id"], "approved": True, "reviewed_data": "hijacked"}]})
        assert r.status_code == 404, r.text
        assert (await alice.get(f"/api/graphs/{gid}/executions/{exec_id}")).json()["status"] == "REVIEW"
        r = await alice.post("/api/review/action", json={"reviews": [
            {"node_exec_id": hitl["node_exec_id"], "approved": False}]})
        assert r.status_code == 200
        assert (await _status(alice, gid, exec_id, "COMPLETED"))["outputs"] == {"dropped": ["secret"]}


@pytest.mark.parametrize("body, status", [
    ({"reviews": []}, 422),
    ({"reviews": [{"node_exec_id": "0b5e6a52-8a8e-4f0e-9d53-6c3a3f1f2a10", "approved": True}] * 101}, 422),
    ({"reviews": [{"node_exec_id": "0b5e6a52-8a8e-4f0e-9d53-6c3a3f1f2a10", "approved": True,
                   "message": "x" * 2001}]}, 422),
    ({"reviews": [{"node_exec_id": "not-a-uuid", "approved": True}]}, 400),
    ({"reviews": [{"node_exec_id": "0b5e6a52-8a8e-4f0e-9d53-6c3a3f1f2a10", "approved": True}]}, 404),
])
async def test_bad_actions_are_refused_with_a_clear_4xx(stack, user_ids, body, status):
    async with stack.client(user_ids["alice"]) as alice:
        r = await alice.post("/api/review/action", json=body)
        assert r.status_code == status, r.text
        assert "detail" in r.json()
        assert (await alice.get("/api/review/pending", params={"page_size": 101})).status_code in (400, 422)


async def test_the_websocket_shows_the_pause_and_the_resumed_run(stack, user_ids):
    import websockets

    from tests.integration.test_websocket import collect_until_terminal, recv, send, ws_url

    alice = user_ids["alice"]
    async with stack.client(alice) as client:
        gid, exec_id, paused = await _paused(client, review_graph(), {"post": "live"})
        hitl, = [ne for ne in paused["node_executions"] if ne["block_id"] == HITL]
        async with websockets.connect(ws_url(stack, stack.token(alice))) as ws:
            await send(ws, "subscribe_graph_execution", {"graph_exec_id": exec_id, "after_seq": 0})
            seen = []
            while not any(m["method"] == "graph_execution_event" and m["data"]["status"] == "REVIEW" for m in seen):
                seen.append(await recv(ws))
            assert any(m["method"] == "node_execution_event" and m["data"]["status"] == "REVIEW"
                       and m["data"]["node_exec_id"] == hitl["node_exec_id"] for m in seen)
            r = await client.post("/api/review/action", json={"reviews": [
                {"node_exec_id": hitl["node_exec_id"], "approved": True}]})
            assert r.status_code == 200
            after = await collect_until_terminal(ws)
    graph_statuses = [m["data"]["status"] for m in after if m["method"] == "graph_execution_event"]
    assert graph_statuses[0] == "RUNNING" and graph_statuses[-1] == "COMPLETED"
    assert after[-1]["data"]["outputs"] == {"published": ["live"]}
