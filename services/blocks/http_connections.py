"""Keep-alive connections for outbound requests, one pool per checked destination.

Why: ``http_fetch`` pins every hop to the address the outbound policy chose, and it used to open a
new transport, and so a new TCP (and TLS) connection, for each hop. Measured on this machine, that
was ~2 ms of CPU per request against ~0.8 ms on a kept connection, and the largest single cost of
an executor running HTTP-bound graphs.

What keeps the policy whole: a pool is keyed by (scheme, host name, pinned address, port), so a
connection is only ever reused for the address the policy has just approved for that host again,
and an https connection only for the name its certificate was verified against (the SNI name is
part of the key; httpcore itself keys its connections by the URL's origin, which is the address).
Nothing else carries over between requests: cookies live in the per-hop ``httpx.AsyncClient``,
which is discarded, so one user's response never sets a cookie another user's request sends.

Bounds: at most ``MAX_DESTINATIONS`` pools per event loop (least recently used one retired first,
closed once its last request ends), ``MAX_IDLE_PER_DESTINATION`` idle connections each, closed
after ``IDLE_SECONDS``. Connections in use are not limited here (as before: the executor's slots
bound how many requests run at once).

Connections belong to the event loop that opened them, so pools are kept per loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

MAX_DESTINATIONS = 32
MAX_IDLE_PER_DESTINATION = 8
IDLE_SECONDS = 5.0  # httpx's default keep-alive expiry, below common servers' idle timeouts

Destination = tuple[str, str, str, int]  # scheme, host name, pinned address, port


@dataclass
class _Pool:
    transport: httpx.AsyncHTTPTransport
    in_use: int = 0
    retired: bool = False


class ConnectionPools:
    """The pools of one event loop; see the module docstring."""

    def __init__(self, make_transport, max_destinations: int = MAX_DESTINATIONS) -> None:
        self._make_transport = make_transport
        self._max = max_destinations
        self._pools: OrderedDict[Destination, _Pool] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pools)

    @contextlib.asynccontextmanager
    async def lease(self, destination: Destination) -> AsyncIterator[httpx.AsyncHTTPTransport]:
        pool = self._pools.get(destination)
        if pool is None:
            pool = self._pools[destination] = _Pool(self._make_transport())
            while len(self._pools) > self._max:
                _, oldest = self._pools.popitem(last=False)
                oldest.retired = True
                if oldest.in_use == 0:
                    await oldest.transport.aclose()
        else:
            self._pools.move_to_end(destination)
        pool.in_use += 1
        try:
            yield pool.transport
        finally:
            pool.in_use -= 1
            if pool.retired and pool.in_use == 0:
                await pool.transport.aclose()

    async def aclose(self) -> None:
        """Close every idle connection (a process stopping); requests still running keep theirs."""
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            pool.retired = True
            if pool.in_use == 0:
                await pool.transport.aclose()


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


def idle_limits() -> httpx.Limits:
    return httpx.Limits(max_connections=None, max_keepalive_connections=MAX_IDLE_PER_DESTINATION,
                        keepalive_expiry=IDLE_SECONDS)
