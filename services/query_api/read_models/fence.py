"""Read fences: a read waits until the read models include every event recorded before it.

The query API captures the store's head position when a request arrives and waits (bounded by
``read_fence_timeout_s``) until the relay has published past it and, on every partition the
relay wrote to, the projector has applied either everything the relay published there or
something past the head. So a client that wrote and then reads sees its write, whichever API
instance it talks to, without carrying a token. A read of one stream (an execution, a graph, a
user's ledger) waits for that stream only (``wait_for_stream``). A fence not met in time is the
caller's to report (503, ``api/deps.py``): stale data is never served as current.
"""

from __future__ import annotations

import asyncio
import time
import weakref

from psycopg_pool import AsyncConnectionPool

from services.infra import event_log
from services.projector.names import PROJECTION_NAME

_CHECK = """
SELECT coalesce((SELECT position FROM relay_positions WHERE log = %(log)s), 0) >= %(head)s
   AND coalesce(bool_and(coalesce(pp.position, 0) >= least(rp.position, %(head)s)), true)
FROM relay_partitions rp
LEFT JOIN projection_partitions pp
       ON pp.projection = %(projection)s AND pp.log = rp.log AND pp.partition = rp.partition
WHERE rp.log = %(log)s
"""


def _first_check(context: str) -> str:
    """Head and caught-up test in one round trip (the common case needs nothing more)."""
    head = event_log.head_expression(context)
    return f"SELECT {head} AS head, " + _CHECK.replace("SELECT", "", 1).replace("%(head)s", head)


async def caught_up(pool: AsyncConnectionPool, context: str, head: int) -> bool:
    async with pool.connection() as conn:
        row = await (await conn.execute(_CHECK, {"log": context, "head": head,
                                                 "projection": PROJECTION_NAME})).fetchone()
        return bool(row[0])


class _SharedChecks:
    """Concurrent reads share head checks. A check answers every request that arrived before it
    was sent, so requests arriving while one runs wait for the next one, which starts as soon as
    the running one ends: under load one query serves a whole wave of requests, and a fence is
    never answered by a check older than the request."""

    def __init__(self, pool: AsyncConnectionPool, context: str) -> None:
        self.pool, self.context = pool, context
        self.running: asyncio.Future | None = None
        self.waiting: asyncio.Future | None = None

    async def check(self) -> tuple[int, bool]:
        if self.running is None:
            self._start()
            flight = self.running
        else:
            if self.waiting is None:
                self.waiting = asyncio.get_running_loop().create_future()
            flight = self.waiting
        return await asyncio.shield(flight)  # one request giving up must not cancel the others

    def _start(self, into: asyncio.Future | None = None) -> None:
        task = asyncio.ensure_future(self._query())
        self.running = task

        def done(finished: asyncio.Future) -> None:
            if into is not None:
                if finished.cancelled():
                    into.cancel()
                elif finished.exception() is not None:
                    into.set_exception(finished.exception())
                else:
                    into.set_result(finished.result())
            elif not finished.cancelled():
                finished.exception()  # retrieved here; the awaiting requests get it too
            self.running = None
            if self.waiting is not None:
                waiting, self.waiting = self.waiting, None
                self._start(into=waiting)

        task.add_done_callback(done)
        if into is not None:
            self.running = into

    async def _query(self) -> tuple[int, bool]:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(_first_check(self.context),
                                            {"log": self.context, "projection": PROJECTION_NAME})).fetchone()
        return int(row[0]), bool(row[1])


_shared: weakref.WeakKeyDictionary[AsyncConnectionPool, dict[str, _SharedChecks]] = weakref.WeakKeyDictionary()


def _checks(pool: AsyncConnectionPool, context: str) -> _SharedChecks:
    by_context = _shared.setdefault(pool, {})
    if context not in by_context:
        by_context[context] = _SharedChecks(pool, context)
    return by_context[context]


_STREAM_CHECK = """
SELECT {version} AS recorded,
       coalesce((SELECT version FROM projection_streams WHERE projection = %(projection)s
                 AND stream_id = %(stream_id)s), 0) AS applied
"""

_BEHIND = """
SELECT {head} - coalesce((SELECT max(position) FROM projection_partitions
                          WHERE projection = %(projection)s AND log = %(log)s), 0)
"""


async def _poll(probe, met, timeout_s: float):
    """``probe()`` until ``met`` holds of its answer or ``timeout_s`` ran out, backing off from 5 ms
    to 50 ms between tries (both fences' wait); its last answer."""
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        answer = await probe()
        if met(answer) or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.05)


class _StreamChecks(_SharedChecks):
    """The same sharing for one stream's fence (many clients polling one run share each check);
    dropped from the registry once idle, so it holds only streams being read right now."""

    def __init__(self, pool: AsyncConnectionPool, context: str, stream_id) -> None:
        super().__init__(pool, context)
        self.sql = _STREAM_CHECK.format(version=event_log.stream_version_expression(context))
        self.params = {"projection": PROJECTION_NAME, "stream_id": stream_id}

    async def _query(self) -> tuple[int, int]:
        """(recorded version, applied version) of the stream."""
        async with self.pool.connection() as conn:
            row = await (await conn.execute(self.sql, self.params)).fetchone()
        return int(row[0]), int(row[1])

    @property
    def idle(self) -> bool:
        return self.running is None and self.waiting is None


_streams: weakref.WeakKeyDictionary[AsyncConnectionPool, dict[tuple, _StreamChecks]] = weakref.WeakKeyDictionary()


async def wait_for_stream(pool: AsyncConnectionPool, context: str, stream_id,
                          timeout_s: float) -> tuple[int | None, int]:
    """Block until the read models hold every event recorded on one stream before the call.
    Answers the stream version the read must include (None: no fence) and the events still
    missing when ``timeout_s`` ran out (0: the fence is met). Two point lookups per try, whatever
    else the store is recording: another user's writes never hold this read up."""
    if timeout_s <= 0:
        return None, 0
    key = (context, str(stream_id))
    by_stream = _streams.setdefault(pool, {})
    checks = by_stream.get(key) or by_stream.setdefault(key, _StreamChecks(pool, context, stream_id))
    try:
        recorded, applied = await checks.check()  # what was recorded when the read arrived
    finally:
        if checks.idle and by_stream.get(key) is checks:
            del by_stream[key]
    if applied >= recorded:
        return recorded, 0

    async def applied_now() -> int:
        async with pool.connection() as conn:
            return (await (await conn.execute(checks.sql, checks.params)).fetchone())[1]

    last = await _poll(applied_now, lambda value: value >= recorded, timeout_s)
    return recorded, 0 if last >= recorded else int(recorded - last)


async def events_behind(pool: AsyncConnectionPool, context: str) -> int:
    """At least how many of the context's recorded events the read models do not hold yet: those
    after the newest one applied (what an eventual read is told)."""
    async with pool.connection() as conn:
        row = await (await conn.execute(_BEHIND.format(head=event_log.head_expression(context)),
                                        {"projection": PROJECTION_NAME, "log": context})).fetchone()
    return max(0, int(row[0]))


async def wait_for_read_models(pool: AsyncConnectionPool, context: str, timeout_s: float) -> tuple[bool, int | None]:
    """Block until the read models include everything recorded in ``context`` so far. Answers
    whether they do and the log position the read must include (None: no fence)."""
    if timeout_s <= 0:
        return True, None
    head, ok = await _checks(pool, context).check()
    if ok or head == 0:
        return True, head
    return await _poll(lambda: caught_up(pool, context, head), bool, timeout_s), head
