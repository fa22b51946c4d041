"""The WebSocket against the real stack: AutoGPT's protocol, ordering, resumption, isolation."""

import asyncio
import time

import jwt
import orjson
import pytest
import websockets

from tests.integration.test_executions_api import sample_graph
from tests.integration.test_executor_faults import slow_fanout_graph

TERMINAL = {"COMPLETED", "FAILED", "TERMINATED"}


def ws_url(stack, token):
    return stack.base_url.replace("http://", "ws://") + f"/ws?token={token}"


async def send(ws, method, data=None):
    await ws.send(orjson.dumps({"method": method, "data": data}).decode())


async def recv(ws, timeout=30):
    return orjson.loads(await asyncio.wait_for(ws.recv(), timeout))


async def collect_until_terminal(ws, timeout=60):
    """Messages until the terminal event on an execution channel (graph channels may end first)."""
    messages = []
    while True:
        msg = await recv(ws, timeout)
        messages.append(msg)
        if msg["method"] == "graph_execution_event" and msg["data"]["status"] in TERMINAL \
                and "|graph_exec#" in (msg.get("channel") or ""):
            return messages


async def create_and_queue(client, graph, inputs=None):
    gid = (await client.post("/api/graphs", json={"graph": graph})).json()["id"]
    exec_id = (await client.post(f"/api/graphs/{gid}/execute/1", json={"inputs": inputs or {}})).json()["id"]
    return gid, exec_id


async def test_auth_close_codes_and_heartbeat(stack, user_ids):
    async with websockets.connect(stack.base_url.replace("http://", "ws://") + "/ws") as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd.code == 4001
    async with websockets.connect(ws_url(stack, "garbage")) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd.code == 4003  # AutoGPT: an invalid token
    no_sub = jwt.encode({"aud": stack.settings.jwt_audience, "exp": int(time.time()) + 60},
                        stack.settings.jwt_secret, algorithm="HS256")
    async with websockets.connect(ws_url(stack, no_sub)) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd.code == 4002 and "'sub'" in closed.value.rcvd.reason  # AutoGPT: no sub
    async with websockets.connect(ws_url(stack, stack.token(user_ids["alice"]))) as ws:
        await send(ws, "heartbeat")
        assert await recv(ws) == {"method": "heartbeat", "data": "pong", "success": True}
        await ws.send("not json")
        assert (await recv(ws))["success"] is False


async def test_every_node_event_in_order_and_the_terminal_event(stack, user_ids):
    alice = user_ids["alice"]
    async with stack.client(alice) as client:
        gid = (await client.post("/api/graphs", json={"graph": sample_graph()})).json()["id"]
        async with websockets.connect(ws_url(stack, stack.token(alice))) as ws:
            await send(ws, "subscribe_graph_executions", {"graph_id": gid})
            ack = await recv(ws)
            assert ack == {"method": "subscribe_graph_executions", "success": True,
                           "channel": f"{alice}|graph#{gid}|executions", "data": None, "error": None}
            exec_id = (await client.post(f"/api/graphs/{gid}/execute/1",
                                         json={"inputs": {"input_1": "Hello", "input_2": "World"}})).json()["id"]
            await send(ws, "subscribe_graph_execution", {"graph_exec_id": exec_id, "after_seq": 0})
            messages = await collect_until_terminal(ws)
    ack = next(m for m in messages if m["method"] == "subscribe_graph_execution")
    assert ack["channel"] == f"{alice}|graph_exec#{exec_id}" and ack["success"]
    exec_messages = [m for m in messages if m.get("channel") == ack["channel"] and m["data"] is not None]
    seqs = [m["data"]["seq"] for m in exec_messages]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    node_events = [m["data"] for m in exec_messages if m["method"] == "node_execution_event"]
    assert {e["event_type"] for e in node_events} == {"node_execution_update"}
    completed = {e["node_exec_id"] for e in node_events if e["status"] == "COMPLETED"}
    assert len(completed) == 5
    final = exec_messages[-1]["data"]
    assert final["status"] == "COMPLETED" and final["outputs"] == {"greeting": ["Hello, World!!!"]}
    rest = await_rest(stack, alice, gid, exec_id)
    assert {ne["node_exec_id"] for ne in (await rest)["node_executions"]} == completed


async def await_rest(stack, user, gid, exec_id):
    async with stack.client(user) as client:
        return await stack.wait_terminal(client, gid, exec_id)


async def test_reconnect_with_after_seq_misses_nothing(stack, user_ids):
    alice = user_ids["alice"]
    async with stack.client(alice) as client:
        gid, exec_id = await create_and_queue(client, slow_fanout_graph(4, 1))
    token = stack.token(alice)
    first: list[dict] = []
    async with websockets.connect(ws_url(stack, token)) as ws:
        await send(ws, "subscribe_graph_execution", {"graph_exec_id": exec_id, "after_seq": 0})
        assert (await recv(ws))["success"]
        while len(first) < 6:
            first.append(await recv(ws))
    last_seq = first[-1]["data"]["seq"]
    await asyncio.sleep(1.5)  # events happen while the client is away
    async with websockets.connect(ws_url(stack, token)) as ws:
        await send(ws, "subscribe_graph_execution", {"graph_exec_id": exec_id, "after_seq": last_seq})
        assert (await recv(ws))["success"]
        second = await collect_until_terminal(ws)
    async with websockets.connect(ws_url(stack, token)) as ws:
        await send(ws, "subscribe_graph_execution", {"graph_exec_id": exec_id, "after_seq": 0})
        assert (await recv(ws))["success"]
        everything = await collect_until_terminal(ws)
    seen = [m["data"]["seq"] for m in first + second]
    assert seen == [m["data"]["seq"] for m in everything]
    assert second[-1]["data"]["status"] == "COMPLETED"


async def test_terminal_event_for_a_finished_execution_and_isolation(stack, user_ids):
    alice, bob = user_ids["alice"], user_ids["bob"]
    async with stack.client(alice) as client:
        gid, exec_id = await create_and_queue(client, sample_graph(), {"input_1": "a", "input_2": "b"})
        await stack.wait_terminal(client, gid, exec_id)
    async with websockets.connect(ws_url(stack, stack.token(alice))) as ws:
        await send(ws, "subscribe_graph_execution", {"graph_exec_id": exec_id})
        assert (await recv(ws))["success"]
        final = await recv(ws)
        assert final["method"] == "graph_execution_event" and final["data"]["status"] == "COMPLETED"
    async with websockets.connect(ws_url(stack, stack.token(bob))) as ws:
        await send(ws, "subscribe_graph_execution", {"graph_exec_id": exec_id, "after_seq": 0})
        refused = await recv(ws)
        assert refused["success"] is False and refused["method"] == "subscribe_graph_execution"
        await send(ws, "subscribe_graph_executions", {"graph_id": gid})
        assert (await recv(ws))["success"]
        async with stack.client(alice) as client:
            run = (await client.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"input_1": "x"}})).json()
            await stack.wait_terminal(client, gid, run["id"])
        await send(ws, "heartbeat")
        assert (await recv(ws))["method"] == "heartbeat"  # nothing of alice's arrived before the pong
