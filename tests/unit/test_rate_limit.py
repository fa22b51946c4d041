"""The rate limiter's switch-off: a limit of 0 must cost no database round trip.

The counting itself is SQL run against PostgreSQL, so it is tested by the integration suite.
"""

from __future__ import annotations

from services.infra.ratelimit import RateLimiter


class UnreachablePool:
    """A pool that records every attempt to open a connection and then fails it."""

    def __init__(self) -> None:
        self.opened = 0

    def connection(self):
        self.opened += 1
        raise AssertionError("the rate limiter touched the database")


async def test_rate_limit_zero_disables_without_touching_the_database():
    pool = UnreachablePool()
    await RateLimiter(pool=pool, limit_per_minute=0).hit("execute:user:u1")
    assert pool.opened == 0
