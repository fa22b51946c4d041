"""WebSocket fan-out: every query-API process tails the executions log and pushes each committed
event to the sockets that subscribed to it.

The hub wakes on the store's NOTIFY (sent by every append) and reads the rows after the last
position it handled, so each process fans out on its own and any number of query-API instances
can serve sockets. For every watched execution it keeps the folded ``ExecutionState`` so each
event can be sent as AutoGPT's snapshot payload (node or graph execution), with ``seq`` = the
event's stream version.

A subscription first catches up from the store (everything after ``after_seq``, or the current
state when no ``after_seq`` is given) while live events for it are buffered; then buffered and live
events follow, filtered by ``seq``, so a client never misses an event or sees one twice, in order.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from schemas.events.executions import (
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionPausedForReview,
    ExecutionQueued,
    ExecutionResumed,
    ExecutionStarted,
    ExecutionStopRequested,
    ExecutionTerminated,
)
from services.domain.executions.state import ExecutionState
from services.domain.executions.views import execution_meta, node_result, state_outputs
from services.infra import event_log
from services.infra.event_codec import StoredRow, decode_row
from services.infra.settings import Settings
from services.query_api.read_models.history import read_history
from services.query_api.ws import protocol
from services.query_api.ws.limits import Limits, Refused
from services.query_api.ws.notifications import NotificationFeed

log = logging.getLogger(__name__)
GRAPH_LEVEL = (ExecutionQueued, ExecutionStarted, ExecutionPausedForReview, ExecutionResumed, ExecutionCompleted,
               ExecutionFailed, ExecutionTerminated)
GRAPH_LEVEL_TYPES = frozenset(cls.TYPE for cls in GRAPH_LEVEL)
RUN_ENDS = (ExecutionCompleted, ExecutionFailed, ExecutionTerminated)
LOG = "executions"
DRAIN_PAGE = 2000


@dataclass(eq=False)
class Socket:
    """One client connection; ``send`` is called in order from the hub's loop."""

    user_id: str
    send: Callable[[dict[str, Any]], Awaitable[None]]
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=20_000))
    channels: set[str] = field(default_factory=set)  # what it is subscribed to (bounded per socket)


@dataclass
class _Sub:
    socket: Socket
    channel: str
    last_seq: int
    catching_up: bool = True
    pending: list[tuple[int, dict]] = field(default_factory=list)


@dataclass
class _Watch:
    state: ExecutionState
    subs: list[_Sub] = field(default_factory=list)
    loading: bool = False  # its history is being read: events the tail meets meanwhile wait in ``buffer``
    buffer: list[tuple[int, Any, Any]] = field(default_factory=list)


def _event_message(state: ExecutionState, event, seq: int, channel: str) -> dict[str, Any] | None:
    node_exec_id = getattr(event, "node_exec_id", None)
    if node_exec_id is not None:
        ne = state.node_execs.get(node_exec_id)
        if ne is None:
            return None
        data = {**node_result(state, ne), "event_type": "node_execution_update", "seq": seq}
        return protocol.message(protocol.NODE_EVENT, data=data, channel=channel)
    if isinstance(event, (*GRAPH_LEVEL, ExecutionStopRequested)):
        return protocol.message(protocol.GRAPH_EVENT, data=_graph_payload(state, seq), channel=channel)
    return None


def _graph_payload(state: ExecutionState, seq: int) -> dict[str, Any]:
    return {**execution_meta(state), "outputs": state_outputs(state),
            "event_type": "graph_execution_update", "seq": seq}


class Hub:
    def __init__(self, settings: Settings, pool) -> None:
        self.settings = settings
        self.pool = pool
        self.position = 0
        self.watches: dict[str, _Watch] = {}
        self.graph_subs: dict[tuple[str, str], list[Socket]] = {}
        self.stream_graph: dict[str, tuple[str, str]] = {}  # executions queued under a watched graph
        self.limits = Limits(settings.ws_max_subscriptions_per_socket, settings.ws_max_sockets_per_user)
        self.notifications = NotificationFeed(settings, pool, self._push)  # every socket gets its user's
        self._wake = asyncio.Event()
        self._idle = False
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        async with self.pool.connection() as conn:
            self.position = await event_log.head(conn, LOG)
        self._task = asyncio.create_task(self._run())
        await self.notifications.start()

    async def close(self) -> None:
        await self.notifications.close()
        self._stop.set()
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        listener = asyncio.create_task(event_log.wake_on_commits(self.settings, LOG, self._wake, self._stop))
        try:
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=0.5)
                except TimeoutError:
                    pass
                self._wake.clear()
                if self.watches or self.graph_subs:
                    await self._drain()
                else:
                    self._idle = True  # nobody listens: don't read; catch up to the head on demand
        finally:
            listener.cancel()


    async def _skip_to_head(self) -> None:
        async with self.pool.connection() as conn:
            head = await event_log.head(conn, LOG)
        self.position = max(self.position, head)

    async def _drain(self) -> None:
        while True:
            async with self.pool.connection() as conn:
                rows = await event_log.rows_after(conn, LOG, self.position, DRAIN_PAGE)
            for row in rows:
                self.position = row.position
                await self._on_row(row)
            if len(rows) < DRAIN_PAGE:
                return

    # -- routing one committed event -----------------------------------------------------------

    async def _on_row(self, row: StoredRow) -> None:
        stream_id, version = str(row.stream_id), row.stream_version
        watch = self.watches.get(stream_id)
        graph_key = self.stream_graph.get(stream_id)
        if watch is None and (not self.graph_subs or row.type not in GRAPH_LEVEL_TYPES):
            return  # nobody can want it (only a graph-level event starts a graph socket's watch): not decoded
        recorded = decode_row(row)
        event, at = recorded.decode(), recorded.occurred_at
        if isinstance(event, ExecutionQueued):
            graph_key = (event.user_id, event.graph_id)
            self.stream_graph[stream_id] = graph_key
        graph_sockets = self.graph_subs.get(graph_key, []) if graph_key else []
        if watch is None and graph_sockets and isinstance(event, GRAPH_LEVEL):
            state = await self._load_state(stream_id, upto=version - 1)
            # an execution subscription may have created the watch while the history was read
            watch = self.watches.setdefault(stream_id, _Watch(state))
        if isinstance(event, RUN_ENDS):
            self.stream_graph.pop(stream_id, None)  # finished: no graph-level event follows, watched or not
        if watch is None:
            return
        if watch.loading:
            watch.buffer.append((version, event, at))
            if not (graph_sockets and isinstance(event, GRAPH_LEVEL)):
                return
            state = await self._load_state(stream_id, upto=version)  # graph sockets still get the event
        else:
            if version <= watch.state.version:
                return  # already folded from the store when the watch was loaded
            watch.state.apply(event, at)
            for sub in watch.subs:
                self._offer(sub, watch.state, event, version)
            state = watch.state
        if graph_sockets and isinstance(event, GRAPH_LEVEL):
            for socket in graph_sockets:
                channel = protocol.graph_channel(socket.user_id, graph_key[1])
                self._push(socket, protocol.message(protocol.GRAPH_EVENT, data=_graph_payload(state, version),
                                                    channel=channel))
        if not watch.loading and not watch.subs and watch.state.is_terminal:
            self.watches.pop(stream_id, None)

    def _offer(self, sub: _Sub, state: ExecutionState, event, seq: int) -> None:
        msg = _event_message(state, event, seq, sub.channel)
        if msg is None:
            return
        if sub.catching_up:
            sub.pending.append((seq, msg))
        elif seq > sub.last_seq:
            sub.last_seq = seq
            self._push(sub.socket, msg)

    def _push(self, socket: Socket, msg: dict[str, Any]) -> None:
        try:
            socket.queue.put_nowait(msg)
        except asyncio.QueueFull:
            socket.queue = asyncio.Queue(maxsize=1)
            socket.queue.put_nowait(None)  # the writer closes the socket; the client resumes with after_seq

    async def _load_state(self, stream_id: str, upto: int | None = None) -> ExecutionState:
        """The execution as of stream version ``upto`` (all of it when None); the read stops there."""
        events = await self._stream_events(stream_id, upto)
        return ExecutionState.from_events(stream_id, ((event, at) for _version, event, at in events))

    async def _stream_events(self, stream_id: str, upto: int | None = None) -> list[tuple[int, Any, Any]]:
        return [(seq, event, at) for seq, _type, at, event in await read_history(self.pool, stream_id, upto)]

    # -- subscriptions -------------------------------------------------------------------------

    async def _wake_up(self) -> None:
        """Leaving idle: skip what nobody was subscribed to (a new subscription catches up from the
        store itself, and live events start after the head)."""
        if self._idle and not self.watches and not self.graph_subs:
            await self._skip_to_head()
        self._idle = False

    async def connect(self, socket: Socket) -> None:
        """Count a new connection against its user's cap (``Refused`` over it); from then on it
        receives its user's notifications."""
        self.limits.connect(socket)
        try:
            await self.notifications.add(socket)
        except BaseException:  # the store unreachable, say: the place under the cap is given back
            self.limits.disconnect(socket)
            raise

    async def _owner(self, stream_id: str) -> str | None:
        first = await read_history(self.pool, stream_id, upto=1)
        return getattr(first[0][3], "user_id", None) if first else None

    async def subscribe_execution(self, socket: Socket, graph_exec_id: str, after_seq: int | None) -> str | None:
        """Returns the channel, or None if the execution is not the socket user's."""
        try:
            stream_id = str(uuid.UUID(graph_exec_id))
        except ValueError:
            return None
        # Ownership first, before any shared state: a stranger's refused subscription must never
        # touch the watch the owner's live feed runs on.
        if await self._owner(stream_id) != socket.user_id:
            return None
        channel = protocol.execution_channel(socket.user_id, stream_id)
        self.limits.claim(socket, channel)
        await self._wake_up()
        watch = self.watches.get(stream_id)
        new_watch = watch is None
        if new_watch:
            watch = self.watches[stream_id] = _Watch(ExecutionState(stream_id), loading=True)
        watch.subs = [s for s in watch.subs if s.socket is not socket]  # a re-subscription replaces
        sub = _Sub(socket, channel, last_seq=after_seq or 0)
        watch.subs.append(sub)  # registered before reading, so nothing committed meanwhile is lost
        events = await self._stream_events(stream_id)
        if new_watch:
            self._finish_loading(watch, events)  # whoever created the watch loads it, for everyone
        known = events[-1][0]
        later = [item for item in watch.buffer if item[0] > known] if not new_watch else []
        catch_up = self._catch_up(stream_id, [*events, *later], after_seq, channel)
        sub.catching_up = False
        for seq, msg in [*catch_up, *sorted(sub.pending, key=lambda item: item[0])]:
            if seq > sub.last_seq:
                sub.last_seq = seq
                self._push(socket, msg)
        sub.pending.clear()
        return channel

    def _finish_loading(self, watch: _Watch, events: list) -> None:
        for _version, event, at in events:
            watch.state.apply(event, at)
        buffered = sorted(watch.buffer, key=lambda item: item[0])
        watch.loading, watch.buffer = False, []
        for version, event, at in buffered:
            if version > watch.state.version:
                watch.state.apply(event, at)
                for other in watch.subs:
                    self._offer(other, watch.state, event, version)

    def _catch_up(self, stream_id: str, events: list, after_seq: int | None, channel: str) -> list[tuple[int, dict]]:
        """What a new subscriber is owed: every event after ``after_seq``; or, without it, the
        execution as it stands now (so a finished execution still shows its terminal event)."""
        state = ExecutionState(stream_id)
        out: list[tuple[int, dict]] = []
        for version, event, at in events:
            state.apply(event, at)
            if after_seq is not None and version > after_seq:
                msg = _event_message(state, event, version, channel)
                if msg is not None:
                    out.append((version, msg))
        if after_seq is None and events:
            last = events[-1][0]
            out.append((last, protocol.message(protocol.GRAPH_EVENT, data=_graph_payload(state, last),
                                               channel=channel)))
        return out

    async def subscribe_graph(self, socket: Socket, graph_id: str) -> str:
        """Channels are per user, so any graph id may be watched; only the user's own executions
        of it are ever sent."""
        try:
            graph_id = str(uuid.UUID(graph_id))
        except ValueError:
            raise Refused("graph_id must be a UUID") from None
        channel = protocol.graph_channel(socket.user_id, graph_id)
        self.limits.claim(socket, channel)
        await self._wake_up()
        sockets = self.graph_subs.setdefault((socket.user_id, graph_id), [])
        if socket not in sockets:
            sockets.append(socket)
        return channel

    def unsubscribe(self, socket: Socket, *, graph_exec_id: str | None = None,
                    graph_id: str | None = None) -> str | None:
        if graph_exec_id:
            graph_exec_id = _normal_id(graph_exec_id)
            watch = self.watches.get(graph_exec_id)
            if watch:
                watch.subs = [s for s in watch.subs if s.socket is not socket]
            channel = protocol.execution_channel(socket.user_id, graph_exec_id)
            socket.channels.discard(channel)
            return channel
        if graph_id:
            graph_id = _normal_id(graph_id)
            key = (socket.user_id, graph_id)
            self.graph_subs[key] = [s for s in self.graph_subs.get(key, []) if s is not socket]
            if not self.graph_subs[key]:
                self.graph_subs.pop(key)
            channel = protocol.graph_channel(socket.user_id, graph_id)
            socket.channels.discard(channel)
            return channel
        return None

    def drop(self, socket: Socket) -> None:
        """Forget a closed connection: its subscriptions and its place under the user's cap."""
        self.limits.disconnect(socket)
        self.notifications.remove(socket)
        for stream_id, watch in list(self.watches.items()):
            watch.subs = [s for s in watch.subs if s.socket is not socket]
            if not watch.subs and (watch.state.is_terminal or stream_id not in self.stream_graph):
                self.watches.pop(stream_id, None)
        for key in list(self.graph_subs):
            self.graph_subs[key] = [s for s in self.graph_subs[key] if s is not socket]
            if not self.graph_subs[key]:
                self.graph_subs.pop(key)


def _normal_id(value: Any) -> str:
    """An id as the hub keys it (a UUID's canonical form; anything else as given)."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        return str(value)[:200]
