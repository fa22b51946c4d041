"""Keep-alive connections for outbound requests, one pool per checked destination.

Why: ``http_fetch`` pins every hop to the address the outbound policy chose, and it used to open a
new transport, and so a new TCP (and TLS) connection, for each hop: one request after another to a
local server, ~2.1-2.8 ms of CPU each against ~1.5 ms on a kept connection, and the largest single
cost of an executor running HTTP-bound graphs.

What keeps the policy whole: a pool is keyed by (scheme, host name, pinned address, port), so a
connection is only ever reused for the address the policy has just approved for that host again,
and an https connection only for the name its certificate was verified against (the SNI name is
part of the key; httpcore itself keys its connections by the URL's origin, which is the address).
Nothing else carries over between requests: cookies live in the per-hop ``httpx.AsyncClient``,
which is discarded, so one user's response never sets a cookie another user's request sends.

Bounds: idle connections are kept for at most ``MAX_DESTINATIONS`` destinations per event loop (the
least recently used one's are closed first), ``MAX_IDLE_PER_DESTINATION`` each, and each is closed
once it has been ``IDLE_SECONDS`` unused (at the destination's next request: at most 256 idle
sockets per process wait that long). Connections in use are not limited here (as before: the executor's
slots bound how many requests run at once).

Why one transport per connection, lent to one request at a time, rather than one httpx pool per
destination shared by concurrent requests: httpcore's pool scans every connection and waiting
request on each request and response, and with 20 requests at once to one destination that cost
more CPU per request than the new connections it saved (measured here, 20 at once against a
server answering after 50 ms: 2.4-2.8 ms of client CPU per request with a shared pool, 1.7-2.1 ms
with a new connection each, 1.5-1.7 ms with a kept connection lent to one request at a time).

Connections belong to the event loop that opened them, so pools are kept per loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator

import httpx

MAX_DESTINATIONS = 16
MAX_IDLE_PER_DESTINATION = 16  # the executor's 20 slots per user, mostly
# Under the 5 s after which uvicorn and Node close an idle connection, so a request rarely meets a
# server closing it at that moment (a connection the server closed earlier reads as closed and is
# replaced, not used: gunicorn's 2 s).
IDLE_SECONDS = 4.0

Destination = tuple[str, str, str, int]  # scheme, host name, pinned address, port


class ConnectionPools:
    """The idle connections of one event loop, by destination; see the module docstring."""

    def __init__(self, make_transport, max_destinations: int = MAX_DESTINATIONS,
                 max_idle: int = MAX_IDLE_PER_DESTINATION, clock=time.monotonic) -> None:
        self._make_transport = make_transport
        self._max_destinations = max_destinations
        self._max_idle = max_idle
        self._clock = clock
        self._closed = False
        # per destination, (when kept, transport), oldest first
        self._idle: OrderedDict[Destination, list[tuple[float, httpx.AsyncBaseTransport]]] = OrderedDict()

    def idle_count(self, destination: Destination) -> int:
        return len(self._idle.get(destination, ()))

    def __len__(self) -> int:
        return len(self._idle)

    @contextlib.asynccontextmanager
    async def lease(self, destination: Destination) -> AsyncIterator[httpx.AsyncBaseTransport]:
        """A transport for one request to ``destination``: the idle one kept last, else a new one.
        It is kept again only when the request ended without an error (a connection in an unknown
        state is never reused)."""
        idle = self._idle.get(destination)
        if idle:
            await self._close_expired(idle)
        transport = idle.pop()[1] if idle else self._make_transport()
        try:
            yield transport
        except BaseException:
            await transport.aclose()
            raise
        await self._keep(destination, transport)

    async def _keep(self, destination: Destination, transport: httpx.AsyncBaseTransport) -> None:
        if self._closed:  # a request that ran while the process stopped
            await transport.aclose()
            return
        idle = self._idle.setdefault(destination, [])
        self._idle.move_to_end(destination)
        if len(idle) >= self._max_idle:
            await transport.aclose()
            return
        idle.append((self._clock(), transport))
        while len(self._idle) > self._max_destinations:
            _, oldest = self._idle.popitem(last=False)
            for _, kept in oldest:
                await kept.aclose()

    async def _close_expired(self, idle: list) -> None:
        cutoff = self._clock() - IDLE_SECONDS
        while idle and idle[0][0] < cutoff:
            await idle.pop(0)[1].aclose()

    async def aclose(self) -> None:
        """Close every idle connection (a process stopping); requests still running close theirs
        when they end."""
        self._closed = True
        idle, self._idle = list(self._idle.values()), OrderedDict()
        for kept in idle:
            for _, transport in kept:
                await transport.aclose()


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ConnectionPools] = weakref.WeakKeyDictionary()


def pools_for_this_loop(make_transport) -> ConnectionPools:
    loop = asyncio.get_running_loop()
    pools = _by_loop.get(loop)
    if pools is None:
        pools = _by_loop[loop] = ConnectionPools(make_transport)
    return pools


async def close_this_loops_connections() -> None:
    """Called by the processes that send requests (executor, notifier) when they stop."""
    pools = _by_loop.pop(asyncio.get_running_loop(), None)
    if pools is not None:
        await pools.aclose()


def one_connection() -> httpx.Limits:
    """The limits of a pooled transport: one connection, kept for ``IDLE_SECONDS`` unused."""
    return httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=IDLE_SECONDS)
