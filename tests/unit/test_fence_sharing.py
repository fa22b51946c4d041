"""Read fences share head checks between concurrent requests, never answering with a stale one."""

from __future__ import annotations

import asyncio
import contextlib

from services.query_api.read_models.fence import _SharedChecks


class FakePool:
    """Each query answers (number of the query, True) after a short delay."""

    def __init__(self) -> None:
        self.queries = 0

    @contextlib.asynccontextmanager
    async def connection(self):
        pool = self

        class Conn:
            async def execute(self, sql, params):
                pool.queries += 1
                number = pool.queries
                await asyncio.sleep(0.02)

                class Cursor:
                    async def fetchone(self):
                        return (number, True)

                return Cursor()

        yield Conn()


async def test_a_wave_of_requests_shares_one_later_check():
    pool = FakePool()
    checks = _SharedChecks(pool, "executions")
    first = asyncio.create_task(checks.check())
    await asyncio.sleep(0.005)  # the first check is in flight now
    wave = [asyncio.create_task(checks.check()) for _ in range(30)]
    assert (await first)[0] == 1
    assert {(await w)[0] for w in wave} == {2}  # all after the one running when they arrived
    assert pool.queries == 2
    assert (await checks.check())[0] == 3  # idle again: a fresh check


async def test_a_cancelled_request_does_not_cancel_the_shared_check():
    pool = FakePool()
    checks = _SharedChecks(pool, "graphs")
    first = asyncio.create_task(checks.check())
    await asyncio.sleep(0.005)
    a, b = asyncio.create_task(checks.check()), asyncio.create_task(checks.check())
    await asyncio.sleep(0)
    a.cancel()
    assert (await first)[0] == 1 and (await b)[0] == 2
