"""Read fences: a read waits until the read models include every event recorded before it.

The query API captures the store's head position when a request arrives and waits (bounded by
``read_fence_timeout_s``) until the relay has published past it and, on every partition the
relay wrote to, the projector has applied either everything the relay published there or
something past the head. So a client that wrote and then reads sees its write, whichever API
instance it talks to, without carrying a token. After the timeout the read is served as is.
"""

from __future__ import annotations

import asyncio
import time

from psycopg_pool import AsyncConnectionPool

from services.projector.registry import PROJECTION_NAME

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
    head = f'(SELECT coalesce(max(notification_id), 0) FROM "{context}_events")'  # noqa: S608 - fixed names
    return f"SELECT {head} AS head, " + _CHECK.replace("SELECT", "", 1).replace("%(head)s", head)


async def caught_up(pool: AsyncConnectionPool, context: str, head: int) -> bool:
    async with pool.connection() as conn:
        row = await (await conn.execute(_CHECK, {"log": context, "head": head, "projection": PROJECTION_NAME})).fetchone()
        return bool(row[0])


async def wait_for_read_models(pool: AsyncConnectionPool, context: str, timeout_s: float) -> bool:
    """Block until the read models include everything recorded in ``context`` so far."""
    if timeout_s <= 0:
        return True
    async with pool.connection() as conn:
        row = await (await conn.execute(_first_check(context), {"log": context, "projection": PROJECTION_NAME})).fetchone()
    head, ok = int(row[0]), bool(row[1])
    if ok or head == 0:
        return True
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        if await caught_up(pool, context, head):
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.05)
