"""Audit F7 (and the WebSocket part of F5): a stranger's refused subscription must not silence the
owner's live feed; subscriptions per socket and sockets per user are capped; the hub forgets
finished executions. The hub runs against the real store (PostgreSQL) with events appended to it,
as the executor would."""

import asyncio
import uuid

import orjson
import pytest
import websockets

from schemas.events.executions import (
    ExecutionCompleted,
    ExecutionQueued,
    ExecutionStarted,
    ExecutionStats,
    NodeQueued,
    NodeStarted,
)
from schemas.graph import GraphVersionBody
from services.infra import db
from services.infra.eventstore import EventStore, make_datastore
from services.infra.migrations import migrate
from services.infra.store_contract import NewEvent
from services.query_api.ws import protocol
from services.query_api.ws.hub import Hub, Socket
from services.query_api.ws.limits import Refused
from tests.integration.helpers import eventually


@pytest.fixture
async def hub_and_store(settings):
    await asyncio.to_thread(migrate, settings)
    pool = db.make_async_pool(settings, min_size=1, max_size=4)
    await pool.open()
    datastore = make_datastore(settings, pool_size=1)
    hub = Hub(settings.model_copy(update={"ws_max_subscriptions_per_socket": 3, "ws_max_sockets_per_user": 2}),
              pool)
    await hub.start()
    try:
        yield hub, EventStore(datastore, "executions")
    finally:
        await hub.close()
        await pool.close()
        datastore.close()


def queue_execution(store: EventStore, user: str, graph_id: str | None = None) -> uuid.UUID:
    exec_id = uuid.uuid4()
    graph_id = graph_id or str(uuid.uuid4())
    body = GraphVersionBody(id=graph_id, version=1, name="g")
    store.append([NewEvent(exec_id, 1, ExecutionQueued(user_id=user, graph_id=graph_id, graph_version=1, graph=body),
                           user_id=user)])
    return exec_id


def socket_for(user: str) -> Socket:
    async def send(_text):
        return None

    return Socket(user, send=send)


def drain(socket: Socket) -> list[dict]:
    out = []
    while not socket.queue.empty():
        out.append(socket.queue.get_nowait())
    return out


async def test_f7_a_strangers_failed_subscribe_does_not_drop_the_owners_watch(hub_and_store, user_ids):
    """The report's race, made deterministic: bob's subscription is held inside its history read
    while alice subscribes; then bob is refused. On the old code bob had created the watch and
    popped it on refusal, so alice's later live events went nowhere."""
    hub, store = hub_and_store
    alice, bob = user_ids["alice"], user_ids["bob"]
    exec_id = await asyncio.to_thread(queue_execution, store, alice)
    gate = asyncio.Event()
    real_stream_events = hub._stream_events

    async def held_for_bob(stream_id):
        if asyncio.current_task().get_name() == "bob":
            await gate.wait()
        return await real_stream_events(stream_id)

    hub._stream_events = held_for_bob
    bob_socket, alice_socket = socket_for(bob), socket_for(alice)
    bob_task = asyncio.create_task(hub.subscribe_execution(bob_socket, str(exec_id), None), name="bob")
    await asyncio.sleep(0.2)  # bob is either refused already or held in his history read
    assert await hub.subscribe_execution(alice_socket, str(exec_id), None) is not None
    gate.set()
    assert await bob_task is None
    drain(alice_socket)  # the catch-up snapshot

    await asyncio.to_thread(store.append, [NewEvent(exec_id, 2, ExecutionStarted(), user_id=alice)])

    async def live_event():
        return [m for m in drain(alice_socket) if m and m["method"] == protocol.GRAPH_EVENT]

    live = await eventually(live_event, timeout=10, message="alice's live event after bob's refused subscribe")
    assert live[0]["data"]["status"] == "RUNNING" and live[0]["data"]["seq"] == 2
    assert drain(bob_socket) == []


async def test_f7_subscriptions_per_socket_and_sockets_per_user_are_capped(hub_and_store, user_ids):
    hub, store = hub_and_store
    alice = user_ids["alice"]
    socket = socket_for(alice)
    execs = [await asyncio.to_thread(queue_execution, store, alice) for _ in range(3)]
    for exec_id in execs[:2]:
        assert await hub.subscribe_execution(socket, str(exec_id), None)
    graph_id = str(uuid.uuid4())
    assert await hub.subscribe_graph(socket, graph_id)  # the third channel (cap 3)
    assert await hub.subscribe_graph(socket, graph_id)  # the same channel again is no new one
    with pytest.raises(Refused, match="too many subscriptions on this connection"):
        await hub.subscribe_execution(socket, str(execs[2]), None)
    with pytest.raises(Refused, match="too many subscriptions"):
        await hub.subscribe_graph(socket, str(uuid.uuid4()))
    hub.unsubscribe(socket, graph_id=graph_id.upper())  # any spelling of the id frees its slot
    assert await hub.subscribe_execution(socket, str(execs[2]), None)
    with pytest.raises(Refused, match="graph_id must be a UUID"):
        await hub.subscribe_graph(socket, "x" * 60_000)

    first, second, third = socket_for(alice), socket_for(alice), socket_for(alice)
    await hub.connect(first)
    await hub.connect(second)
    with pytest.raises(Refused, match="too many connections for this user"):
        await hub.connect(third)
    await hub.connect(socket_for(user_ids["bob"]))  # other users are not affected
    hub.drop(first)
    await hub.connect(third)


async def test_f5_finished_executions_leave_no_graph_bookkeeping(hub_and_store, user_ids):
    hub, store = hub_and_store
    alice = user_ids["alice"]
    graph_id = str(uuid.uuid4())
    socket = socket_for(alice)
    await hub.subscribe_graph(socket, graph_id)
    execs = [await asyncio.to_thread(queue_execution, store, alice, graph_id) for _ in range(5)]

    async def all_tracked():
        return all(str(e) in hub.stream_graph for e in execs)

    await eventually(all_tracked, timeout=10, message="queued executions mapped to their graph")
    for exec_id in execs:
        await asyncio.to_thread(store.append,
                                [NewEvent(exec_id, 2, ExecutionCompleted(stats=ExecutionStats()), user_id=alice)])

    async def pruned():
        return not any(str(e) in hub.stream_graph for e in execs)

    await eventually(pruned, timeout=10, message="finished executions pruned from stream_graph")
    events = [m for m in drain(socket) if m and m["method"] == protocol.GRAPH_EVENT]
    assert sum(m["data"]["status"] == "COMPLETED" for m in events) == 5


async def test_f7_over_the_socket_cap_the_connection_is_closed_with_a_clear_code(stack, user_ids):
    """Over ``ws_max_sockets_per_user`` (20 by default) a new connection is closed with 4029 and a
    reason; the user's other connections keep working."""
    url = stack.base_url.replace("http://", "ws://") + f"/ws?token={stack.token(user_ids['carol'])}"
    limit = stack.settings.ws_max_sockets_per_user
    # uvicorn here runs one process, so the per-process cap is the cap
    open_sockets = [await websockets.connect(url) for _ in range(limit)]
    try:
        for ws in open_sockets[:1]:
            await ws.send(orjson.dumps({"method": "heartbeat"}).decode())
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["data"] == "pong"
            await ws.send(orjson.dumps({"method": "subscribe_graph_execution", "data": {
                "graph_exec_id": str(uuid.uuid4()), "after_seq": 2 ** 63}}).decode())
            refused = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            assert refused["success"] is False and "after_seq" in refused["error"]  # bounded like at_seq (F6)
        async with websockets.connect(url) as extra:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(extra.recv(), 10)
            assert closed.value.rcvd.code == protocol.CLOSE_TOO_MANY_SOCKETS
            assert "too many connections" in closed.value.rcvd.reason
        await open_sockets[-1].send(orjson.dumps({"method": "heartbeat"}).decode())
        assert orjson.loads(await asyncio.wait_for(open_sockets[-1].recv(), 10))["data"] == "pong"
    finally:
        for ws in open_sockets:
            await ws.close()


async def test_runs_of_graphs_nobody_watches_are_not_decoded_and_leave_no_bookkeeping(hub_and_store, user_ids,
                                                                                      monkeypatch):
    """One socket watches alice's graph while bob runs another: bob's node events are never
    decoded, and his finished runs leave nothing in ``stream_graph`` (it grew with every run of
    every user for as long as any graph was watched)."""
    from services.query_api.ws import hub as hub_module

    hub, store = hub_and_store
    alice, bob = user_ids["alice"], user_ids["bob"]
    await hub.subscribe_graph(socket_for(alice), str(uuid.uuid4()))
    decoded = []
    real_decode = hub_module.decode_row
    monkeypatch.setattr(hub_module, "decode_row", lambda row: decoded.append(row.type) or real_decode(row))
    runs = [await asyncio.to_thread(queue_execution, store, bob) for _ in range(5)]
    for exec_id in runs:
        node = str(uuid.uuid4())
        await asyncio.to_thread(store.append, [
            NewEvent(exec_id, 2, NodeQueued(node_exec_id=node, node_id="n", block_id="b", input_data={}), user_id=bob),
            NewEvent(exec_id, 3, NodeStarted(node_exec_id=node), user_id=bob),
            NewEvent(exec_id, 4, ExecutionCompleted(stats=ExecutionStats()), user_id=bob)])

    async def done():
        return hub.position >= (await asyncio.to_thread(store.head)) and decoded.count("ExecutionCompleted") == 5

    await eventually(done, timeout=10, message="the hub read bob's runs")
    assert not any(str(e) in hub.stream_graph for e in runs)
    assert "NodeQueued" not in decoded and "NodeStarted" not in decoded
