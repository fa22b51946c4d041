"""``/ws?token=JWT``: the WebSocket route (AutoGPT's protocol, plus ``after_seq`` resumption)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from services.infra.auth import AuthError, NoSubject, TokenVerifier
from services.infra.blobs import READ_BUDGET_BYTES, BlobStore, Refs
from services.infra.execution_refs import view_refs
from services.infra.http import MAX_SEQ
from services.query_api.ws import protocol
from services.query_api.ws.hub import Socket
from services.query_api.ws.limits import Refused

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 64 * 1024


def build_router(verifier: TokenVerifier) -> APIRouter:
    router = APIRouter()

    @router.websocket("/ws")
    async def websocket_endpoint(websocket: WebSocket, token: str | None = None) -> None:
        await websocket.accept()
        if not token:
            await websocket.close(code=protocol.CLOSE_MISSING_TOKEN, reason="Missing token")
            return
        try:
            user = verifier.verify(token)
        except AuthError as exc:
            code = protocol.CLOSE_NO_SUBJECT if isinstance(exc, NoSubject) else protocol.CLOSE_INVALID_TOKEN
            await websocket.close(code=code, reason=str(exc)[:120])
            return
        hub = websocket.app.state.ws_hub
        socket = Socket(user.id, send=websocket.send_text)
        try:
            await hub.connect(socket)
        except Refused as exc:
            await websocket.close(code=protocol.CLOSE_TOO_MANY_SOCKETS, reason=str(exc)[:120])
            return
        writer = asyncio.create_task(_write(websocket, socket))
        try:
            while True:
                raw = await websocket.receive_text()
                reply = await _handle(hub, socket, raw)
                if reply is not None:
                    socket.queue.put_nowait(reply)
        except WebSocketDisconnect:
            pass
        finally:
            hub.drop(socket)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    return router


async def _write(websocket: WebSocket, socket: Socket) -> None:
    """Send the socket's queue in order. A writer that dies must take the connection with it:
    otherwise the read loop keeps a socket open that receives nothing, holding a place under the
    per-user cap while its queue fills."""
    try:
        while True:
            msg = await socket.queue.get()
            if msg is None:  # the client fell too far behind: close, it resumes with after_seq
                await websocket.close(code=1013, reason="too slow; reconnect with after_seq")
                return
            try:
                await _resolve_values(websocket, socket, msg)
            except Exception:  # the blob read failed: send the references as stored
                log.warning("websocket: could not resolve blob references; sending them as stored", exc_info=True)
            await websocket.send_text(orjson.dumps(msg).decode())
    except asyncio.CancelledError:
        raise
    except Exception:  # the transport is gone or broken
        log.info("websocket writer stopped; closing the connection", exc_info=True)
        with contextlib.suppress(Exception):
            await websocket.close(code=1011, reason="server error; reconnect with after_seq")


async def _resolve_values(websocket: WebSocket, socket: Socket, msg: dict[str, Any]) -> None:
    """Real values in place of blob references, just before sending (the hub's states keep the
    references, so a watched execution costs little memory). The hub only delivers the socket
    user's own executions, so that user is the owner the blobs are read for."""
    if isinstance(msg.get("data"), dict):
        refs = Refs(READ_BUDGET_BYTES)
        view_refs(msg["data"], refs)
        await refs.resolve(BlobStore(websocket.app.state.read_pool), socket.user_id)


async def _handle(hub, socket: Socket, raw: str) -> dict[str, Any] | None:
    if len(raw) > MAX_MESSAGE_BYTES:
        return protocol.refusal(protocol.ERROR, "message too large")
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return protocol.refusal(protocol.ERROR, "invalid JSON")
    if not isinstance(msg, dict) or not isinstance(msg.get("method"), str):
        return protocol.refusal(protocol.ERROR, "a message needs a 'method'")
    method, data = msg["method"], msg.get("data") or {}
    if method == protocol.HEARTBEAT:
        return protocol.pong()
    if not isinstance(data, dict):
        return protocol.refusal(method, "'data' must be an object")
    try:
        return await _subscription(hub, socket, method, data)
    except Refused as exc:  # a cap or a bad id: the connection stays, the subscription is refused
        return protocol.refusal(method, str(exc))


async def _subscription(hub, socket: Socket, method: str, data: dict[str, Any]) -> dict[str, Any] | None:
    if method == protocol.SUBSCRIBE_EXECUTION:
        after = data.get("after_seq")
        if after is not None and (not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_SEQ):
            return protocol.refusal(method, "after_seq must be a non-negative integer (a seq from this channel)")
        exec_id = data.get("graph_exec_id")
        channel = await hub.subscribe_execution(socket, exec_id, after) if isinstance(exec_id, str) else None
        if channel is None:
            return protocol.refusal(method, f"Graph execution #{str(exec_id)[:60]} not found")
        return _ack_first(socket, method, channel)
    if method == protocol.SUBSCRIBE_GRAPH:
        if not isinstance(data.get("graph_id"), str):
            return protocol.refusal(method, "graph_id is required")
        return protocol.ack(method, await hub.subscribe_graph(socket, data["graph_id"]))
    if method == protocol.UNSUBSCRIBE:
        channel = hub.unsubscribe(socket, graph_exec_id=data.get("graph_exec_id"), graph_id=data.get("graph_id"))
        return (protocol.ack(method, channel) if channel
                else protocol.refusal(method, "graph_exec_id or graph_id is required"))
    return protocol.refusal(protocol.ERROR, f"unknown method {method!r}")


def _ack_first(socket: Socket, method: str, channel: str) -> None:
    """The ack must precede the catch-up events the hub already queued: put it at the front."""
    pending = []
    while not socket.queue.empty():
        pending.append(socket.queue.get_nowait())
    socket.queue.put_nowait(protocol.ack(method, channel))
    for item in pending:
        socket.queue.put_nowait(item)
    return None
