"""Fixed one-minute rate-limit windows counted in PostgreSQL.

Why PostgreSQL: every API instance already talks to it, so all instances share one count per
bucket without another moving part. One upsert per request increments the current window of each
bucket and returns the counts (``INSERT … ON CONFLICT … RETURNING``); the window is computed from
the database clock, so instances with skewed clocks still agree. Windows older than the previous
minute are deleted opportunistically, at most once a minute per process.

The executor counts child executions (AgentExecutor sub-graphs) in the same per-user bucket
before it queues them, so a graph that fans out into sub-graphs cannot run more executions per
minute than its owner could request (audit F4); a refused child fails its node.

Fixed windows allow up to twice the limit across a window boundary; that is accepted for a
simple, one-round-trip check. Refused requests count too, so hammering does not reopen the window.
"""

from __future__ import annotations

import math
import time

from fastapi import Depends, HTTPException, Request

_HIT = """
INSERT INTO rate_limit_windows (bucket, window_start, count)
SELECT b, date_trunc('minute', now()), 1 FROM unnest(%s::text[]) AS b ORDER BY b
ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_limit_windows.count + 1
RETURNING bucket, count, extract(epoch FROM window_start + interval '1 minute' - now())
"""
_CLEAN = "DELETE FROM rate_limit_windows WHERE window_start < date_trunc('minute', now()) - interval '1 minute'"
CLEAN_EVERY_S = 60.0


class RateLimited(Exception):
    def __init__(self, bucket: str, limit: int, retry_after: int) -> None:
        scope = "per API key" if ":api_key:" in bucket else "per user"
        super().__init__(f"Rate limit exceeded: at most {limit} graph executions per minute {scope}; "
                         f"retry in {retry_after}s")
        self.bucket, self.limit, self.retry_after = bucket, limit, retry_after


class RateLimiter:
    """Counts hits per bucket (e.g. ``execute:user:<id>``) against ``limit`` per minute; 0 disables.

    ``pool``: autocommit connections whose commits need not wait for the WAL flush (a counter lost
    in a database crash is harmless): ``db.make_async_pool(..., durable_commits=False)``."""

    def __init__(self, pool, limit_per_minute: int) -> None:
        self.pool = pool
        self.limit = limit_per_minute
        self._last_clean = 0.0

    async def hit(self, *buckets: str) -> None:
        """Count one hit in every bucket; ``RateLimited`` if any of them is over the limit."""
        if self.limit <= 0 or not buckets:
            return
        async with self.pool.connection() as conn:
            # One autocommit statement: the bucket's row lock is held only while the server runs
            # it, never across a client round trip (a burst from one user queues on that lock;
            # held across an explicit COMMIT it cost each request the event loop's latency).
            rows = await (await conn.execute(_HIT, (sorted(set(buckets)),))).fetchall()
            if time.monotonic() - self._last_clean > CLEAN_EVERY_S:
                self._last_clean = time.monotonic()
                await conn.execute(_CLEAN)
        over = [(bucket, float(left)) for bucket, count, left in rows if count > self.limit]
        if over:
            bucket, left = max(over, key=lambda item: item[1])
            raise RateLimited(bucket, self.limit, max(1, math.ceil(left)))


def too_many(exc: RateLimited) -> HTTPException:
    return HTTPException(status_code=429, detail=str(exc), headers={"Retry-After": str(exc.retry_after)})


async def enforce(request: Request, *buckets: str) -> None:
    """Count the hit with the command services' limiter; 429 with ``Retry-After`` when over."""
    limiter: RateLimiter = request.app.state.command_services.rate_limiter
    try:
        await limiter.hit(*buckets)
    except RateLimited as exc:
        raise too_many(exc) from None


def execute_limit(current_user):
    """FastAPI dependency: the per-user graph execution limit (shared with the external API)."""

    async def limit(request: Request, user=Depends(current_user)) -> None:
        await enforce(request, user_bucket(user.id))

    return limit


def user_bucket(user_id: str) -> str:
    return f"execute:user:{user_id}"


def key_bucket(key_id: str) -> str:
    return f"execute:api_key:{key_id}"
