"""Size limits and large values out of line, through the real stack with the default settings:
store, relay, broker, executor, projector, REST, audit and WebSocket (audit F2, F5)."""

import time

import orjson
import websockets

from services.infra import blobs, db
from services.infra.blobs import BlobStore
from tests.integration.helpers import eventually
from tests.integration.test_executions_api import sample_graph
from tests.integration.test_websocket import collect_until_terminal, send, ws_url

REPLACE = "7e7c87ab-3469-4bcc-9abe-67705091b713"
COUNT = "ab2a782d-22cf-4587-8a70-55b59b3f9f90"
STORE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
AGENT_EXECUTOR = "e189baac-8c20-45a1-94a7-55177ea42565"
TERMINAL = ("COMPLETED", "FAILED", "TERMINATED")


def replace_graph(text_len: int, new_len: int):
    """TextReplace with ``old=""``: ``text_len + (text_len + 1) * new_len`` characters out, to an
    output node and to a character counter (a successor that must receive the whole value)."""
    return {"name": "big-output", "nodes": [
        {"id": "r", "block_id": REPLACE, "input_default": {"text": "a" * text_len, "old": "", "new": "b" * new_len}},
        {"id": "o", "block_id": OUTPUT, "input_default": {"name": "out"}},
        {"id": "c", "block_id": COUNT, "input_default": {}},
    ], "links": [
        {"source_id": "r", "sink_id": "o", "source_name": "output", "sink_name": "value"},
        {"source_id": "r", "sink_id": "c", "source_name": "output", "sink_name": "text"},
    ]}


def replaced(text_len: int, new_len: int) -> str:
    return ("a" * text_len).replace("", "b" * new_len)


async def start(client, graph, inputs=None):
    r = await client.post("/api/graphs", json={"graph": graph})
    assert r.status_code == 200, r.text
    gid = r.json()["id"]
    r = await client.post(f"/api/graphs/{gid}/execute/1", json={"inputs": inputs or {}})
    assert r.status_code == 200, r.text
    return gid, r.json()["id"]


async def wait_status(client, exec_id, timeout=30.0):
    """Poll the light list view (no node values) until the run ends."""
    async def ended():
        for meta in (await client.get("/api/executions")).json():
            if meta["id"] == exec_id and meta["status"] in TERMINAL:
                return meta["status"]
        return None
    return await eventually(ended, timeout=timeout, interval=0.1, message=f"execution {exec_id} ends")


def largest_event(settings, exec_id) -> int:
    with db.connect(settings) as conn:
        return conn.execute("SELECT max(length(state)) FROM executions_events WHERE originator_id = %s",
                            (exec_id,)).fetchone()[0]


async def test_a_5mb_output_works_end_to_end(stack, user_ids):
    alice = user_ids["alice"]
    big = replaced(1000, 5000)  # 5,006,000 characters
    async with stack.client(alice) as client:
        gid, exec_id = await start(client, replace_graph(1000, 5000))
        assert await wait_status(client, exec_id) == "COMPLETED"
        done = (await client.get(f"/api/graphs/{gid}/executions/{exec_id}")).json()
        assert done["outputs"] == {"out": [big]}
        by_block = {ne["block_id"]: ne for ne in done["node_executions"]}
        assert by_block[REPLACE]["output_data"] == {"output": [big]}
        assert by_block[COUNT]["input_data"]["text"] == big  # the successor got the whole value
        assert by_block[COUNT]["output_data"]["character_count"] == [len(big)]
        # audit: the history and the state show the value, not the reference
        events = (await client.get(f"/api/executions/{exec_id}/events")).json()["events"]
        outputs = [e["payload"]["value"] for e in events
                   if e["type"] == "NodeOutput" and e["payload"]["pin"] == "output"]
        assert big in outputs
        state = (await client.get(f"/api/executions/{exec_id}/state")).json()
        assert state["outputs"] == {"out": [big]}
    # the store holds references: every event stays under the event limit
    assert largest_event(stack.settings, exec_id) < stack.settings.max_event_bytes
    # the WebSocket shows the value too, both replayed event by event and as the final state
    async with websockets.connect(ws_url(stack, stack.token(alice)), max_size=None) as ws:
        await send(ws, "subscribe_graph_execution", {"graph_exec_id": exec_id, "after_seq": 0})
        messages = await collect_until_terminal(ws)
    node_updates = [m["data"] for m in messages if m["method"] == "node_execution_event"]
    assert any(d["output_data"].get("output") == [big] for d in node_updates if d["block_id"] == REPLACE)
    assert messages[-1]["data"]["outputs"] == {"out": [big]}


async def test_f2_a_17mb_output_fails_its_node_and_wedges_nothing(stack, user_ids):
    """The audit's reproduction: an 18 KB request that made a 17 MB event wedged the executions
    relay, so every user's later runs stayed QUEUED. Now the node fails with a clear error."""
    bob, alice = user_ids["bob"], user_ids["alice"]
    async with stack.client(bob) as client:
        _gid, exec_id = await start(client, {"name": "big-output", "nodes": [
            {"id": "r", "block_id": REPLACE, "input_default": {"text": "a" * 1000, "old": "", "new": "b" * 17000}}],
            "links": []})
        await wait_status(client, exec_id)
        node = (await client.get(f"/api/executions/{exec_id}")).json()["node_executions"][0]
    # the block may refuse first (its own output cap) or the executor's value limit does: either
    # way the node fails with a clear error naming the limit, and the value is never recorded
    assert node["status"] == "FAILED"
    assert list(node["output_data"]) == ["error"]
    error = node["output_data"]["error"][0].replace(",", "")
    assert "17018000" in error or "17018002" in error
    assert str(stack.settings.max_value_bytes) in error
    assert largest_event(stack.settings, exec_id) < stack.settings.max_event_bytes
    # another user's run started after it completes promptly
    async with stack.client(alice) as client:
        started = time.monotonic()
        _gid, other = await start(client, sample_graph(), {"input_1": "Hello", "input_2": "World"})
        assert await wait_status(client, other, timeout=10) == "COMPLETED"
        assert time.monotonic() - started < 10


async def test_an_event_over_the_limit_is_refused_with_413(stack, user_ids):
    limit = stack.settings.max_event_bytes
    async with stack.client(user_ids["carol"]) as client:
        huge = {"name": "huge",
                "nodes": [{"id": "s", "block_id": STORE, "input_default": {"input": "x" * (limit + 1)}}],
                "links": []}
        r = await client.post("/api/graphs", json={"graph": huge})
        assert r.status_code == 413, r.text
        assert r.json()["detail"].startswith("Graph too large") and str(limit) in r.json()["detail"]
        gid = (await client.post("/api/graphs", json={"graph": sample_graph()})).json()["id"]
        r = await client.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"input_1": "x" * (limit + 1)}})
        assert r.status_code == 413, r.text
        assert r.json()["detail"].startswith("Execution inputs too large")
        # a reference look-alike in the run's inputs is refused, not read as a reference
        forged = {blobs.BLOB_KEY: {"sha256": "0" * 64, "size": 1}}
        r = await client.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"input_1": forged}})
        assert r.status_code == 400 and blobs.BLOB_KEY in r.json()["detail"]
        # and the API still works: nothing was recorded for the refused commands
        assert len((await client.get("/api/graphs")).json()) == 1
        assert (await client.get("/api/executions")).json() == []


async def test_blobs_are_isolated_between_users(stack, user_ids):
    alice, bob = user_ids["alice"], user_ids["bob"]
    secret = replaced(100, 500)  # ~50 KB: out of line
    async with stack.client(alice) as client:
        _gid, exec_id = await start(client, replace_graph(100, 500))
        assert await wait_status(client, exec_id) == "COMPLETED"
    sha = blobs.digest(orjson.dumps(secret))
    pool = db.make_async_pool(stack.settings, min_size=1, max_size=1)
    await pool.open()
    try:
        store = BlobStore(pool)
        assert (await store.get(alice, [sha])) == {sha: orjson.dumps(secret)}
        assert (await store.get(bob, [sha])) == {}  # the digest alone reads nothing of alice's
        # bob forges a reference to alice's blob in a node default: it is his own value, kept as he wrote it
        forged = blobs.reference(sha, len(orjson.dumps(secret)))
        async with stack.client(bob) as client:
            _gid, run = await start(client, {"name": "forge", "nodes": [
                {"id": "s", "block_id": STORE, "input_default": {"input": forged}},
                {"id": "o", "block_id": OUTPUT, "input_default": {"name": "got"}}],
                "links": [{"source_id": "s", "sink_id": "o", "source_name": "output", "sink_name": "value"}]})
            assert await wait_status(client, run) == "COMPLETED"
            done = (await client.get(f"/api/executions/{run}")).json()
            assert done["outputs"] == {"got": [forged]}
            events = (await client.get(f"/api/executions/{run}/events")).json()["events"]
            assert secret not in orjson.dumps(events).decode()
            assert (await client.get(f"/api/executions/{exec_id}")).status_code == 404
        assert (await store.get(bob, [sha])) == {}
    finally:
        await pool.close()


async def test_an_output_between_inline_and_the_event_limit_is_out_of_line(stack, user_ids):
    """~100 KB: over inline_value_bytes, so the events hold a reference (and one blob row)."""
    alice = user_ids["alice"]
    async with stack.client(alice) as client:
        gid, exec_id = await start(client, replace_graph(200, 500))
        assert await wait_status(client, exec_id) == "COMPLETED"
        done = (await client.get(f"/api/graphs/{gid}/executions/{exec_id}")).json()
    assert done["outputs"] == {"out": [replaced(200, 500)]}
    with db.connect(stack.settings) as conn:
        rows = conn.execute("SELECT state FROM executions_events WHERE originator_id = %s AND topic = 'NodeOutput'",
                            (exec_id,)).fetchall()
    values = [orjson.loads(bytes(r[0]))["payload"]["value"] for r in rows]
    assert any(blobs.is_reference(v) for v in values)


async def test_a_large_value_crosses_into_a_sub_graph_and_back(stack, user_ids):
    """A child run's inputs are a value position too: the child's ExecutionQueued carries a
    reference, the child resolves it, and its large output comes back to the parent."""
    alice = user_ids["alice"]
    big = replaced(200, 500)  # ~100 KB
    async with stack.client(alice) as client:
        child = (await client.post("/api/graphs", json={"graph": {"name": "echo", "nodes": [
            {"id": "i", "block_id": INPUT, "input_default": {"name": "x"}},
            {"id": "o", "block_id": OUTPUT, "input_default": {"name": "y"}}],
            "links": [{"source_id": "i", "sink_id": "o", "source_name": "result", "sink_name": "value"}]}})).json()
        gid, exec_id = await start(client, {"name": "parent", "nodes": [
            {"id": "r", "block_id": REPLACE, "input_default": {"text": "a" * 200, "old": "", "new": "b" * 500}},
            {"id": "a", "block_id": AGENT_EXECUTOR, "input_default": {
                "graph_id": child["id"], "graph_version": 1, "inputs": {},
                "input_schema": child["input_schema"], "output_schema": child["output_schema"]}},
            {"id": "o", "block_id": OUTPUT, "input_default": {"name": "back"}}],
            "links": [{"source_id": "r", "sink_id": "a", "source_name": "output", "sink_name": "x"},
                      {"source_id": "a", "sink_id": "o", "source_name": "y", "sink_name": "value"}]})
        assert await wait_status(client, exec_id) == "COMPLETED"
        done = (await client.get(f"/api/graphs/{gid}/executions/{exec_id}")).json()
        assert done["outputs"] == {"back": [big]}
        children = (await client.get(f"/api/graphs/{child['id']}/executions")).json()["executions"]
        assert len(children) == 1 and children[0]["inputs"] == {"x": big}
    with db.connect(stack.settings) as conn:
        raw = conn.execute("SELECT state FROM executions_events WHERE originator_id = %s AND originator_version = 1",
                           (children[0]["id"],)).fetchone()[0]
    assert blobs.is_reference(orjson.loads(bytes(raw))["payload"]["inputs"]["x"])


async def test_the_external_api_answers_413_and_resolves_results(stack, user_ids):
    from tests.integration.test_api_keys import EXT, external, new_key

    limit = stack.settings.max_event_bytes
    big = replaced(200, 500)
    async with stack.client(user_ids["carol"]) as client:
        _info, key = await new_key(client)
        gid = (await client.post("/api/graphs", json={"graph": sample_graph()})).json()["id"]
    async with external(stack, key) as ext:
        huge = {"name": "huge",
                "nodes": [{"id": "s", "block_id": STORE, "input_default": {"input": "x" * (limit + 1)}}],
                "links": []}
        r = await ext.post(f"{EXT}/graphs", json={"graph": huge})
        assert r.status_code == 413 and r.json()["detail"].startswith("Graph too large")
        r = await ext.post(f"{EXT}/graphs/{gid}/execute/1", json={"node_input": {"input_1": "x" * (limit + 1)}})
        assert r.status_code == 413 and r.json()["detail"].startswith("Execution inputs too large")
        r = await ext.post(f"{EXT}/graphs", json=replace_graph(200, 500))
        assert r.status_code == 201, r.text
        big_gid = r.json()["id"]
        run = (await ext.post(f"{EXT}/graphs/{big_gid}/execute/1", json={"node_input": {}})).json()["id"]
        async with stack.client(user_ids["carol"]) as client:
            assert await wait_status(client, run) == "COMPLETED"
        results = (await ext.get(f"{EXT}/graphs/{big_gid}/executions/{run}/results")).json()
    assert results["output"] == [{"out": big}]
    assert {"output": [big]} in [node["output"] for node in results["nodes"]]


async def test_an_oversized_execute_fails_alone_in_a_shared_commit(stack, user_ids):
    """Concurrent execute commands share store commits: the one too large gets 413, the others
    are recorded and run."""
    import asyncio

    limit = stack.settings.max_event_bytes
    async with stack.client(user_ids["alice"]) as client:
        gid = (await client.post("/api/graphs", json={"graph": sample_graph()})).json()["id"]
        bodies = [{"inputs": {"input_1": "x" * (limit + 1)}}] + [{"inputs": {"input_1": "Hi", "input_2": str(i)}}
                                                                 for i in range(5)]
        answers = await asyncio.gather(*(client.post(f"/api/graphs/{gid}/execute/1", json=b) for b in bodies))
        assert [r.status_code for r in answers] == [413] + [200] * 5
        for r in answers[1:]:
            assert await wait_status(client, r.json()["id"]) == "COMPLETED"
