"""The surcharge's node numbers (``NodeCounter``) against the real PostgreSQL: every node
execution of a user gets one number, its own forever, and the users' counts never mix, however
many ask at once and from however many executors."""

import asyncio
import contextlib
import uuid

import pytest

from services.executor.charging import NodeCounter
from services.infra import db
from services.infra.migrations import migrate


class _CountingPool:
    """The pool, counting the statements sent through its connections."""

    def __init__(self, pool) -> None:
        self.pool = pool
        self.statements = 0

    @contextlib.asynccontextmanager
    async def connection(self):
        async with self.pool.connection() as conn:
            yield _CountingConnection(conn, self)


class _CountingConnection:
    def __init__(self, conn, pool: _CountingPool) -> None:
        self.conn, self.pool = conn, pool

    async def execute(self, *args, **kwargs):
        self.pool.statements += 1
        return await self.conn.execute(*args, **kwargs)


@pytest.fixture
async def pool(settings):
    await asyncio.to_thread(migrate, settings)
    pool = db.make_async_pool(settings, min_size=1, max_size=3, durable_commits=False)
    await pool.open()
    yield pool
    await pool.close()


def _nodes(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


async def test_nodes_asked_together_take_the_next_numbers_in_one_statement(pool):
    counting = _CountingPool(pool)
    counter = NodeCounter(counting)
    user = f"u-{uuid.uuid4()}"
    nodes = _nodes(50)
    numbers = await asyncio.gather(*(counter.number(user, n) for n in nodes))
    assert sorted(numbers) == list(range(1, 51))
    assert counting.statements == 1
    again = await asyncio.gather(*(counter.number(user, n) for n in reversed(nodes)))
    assert again == list(reversed(numbers))  # a node re-run after a crash gets its number back
    more = await asyncio.gather(*(counter.number(user, n) for n in [*_nodes(5), nodes[0]]))
    assert sorted(more[:5]) == list(range(51, 56)) and more[5] == numbers[0]


async def test_users_counts_never_mix(pool):
    counter = NodeCounter(pool)
    alice, bob = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
    asks = [(alice, n) for n in _nodes(7)] + [(bob, n) for n in _nodes(4)]
    numbers = await asyncio.gather(*(counter.number(u, n) for u, n in asks))
    assert sorted(numbers[:7]) == list(range(1, 8)) and sorted(numbers[7:]) == list(range(1, 5))


async def test_two_executors_asking_at_once_give_every_node_one_number(pool, settings):
    """Two counters (two executor processes) number one user's nodes, some the same ones: no
    number is given twice, and a node both asked for has one number."""
    other_pool = db.make_async_pool(settings, min_size=1, max_size=3, durable_commits=False)
    await other_pool.open()
    try:
        first, second = NodeCounter(pool), NodeCounter(other_pool)
        user = f"u-{uuid.uuid4()}"
        shared, own_a, own_b = _nodes(20), _nodes(20), _nodes(20)
        for _ in range(3):
            a, b = await asyncio.gather(
                asyncio.gather(*(first.number(user, n) for n in shared + own_a)),
                asyncio.gather(*(second.number(user, n) for n in shared + own_b)))
            assert a[:20] == b[:20]  # the shared nodes: one number each, whoever asked
            given = a + b[20:]
            assert len(set(given)) == len(given) == 60
            shared, own_a, own_b = _nodes(20), _nodes(20), _nodes(20)
    finally:
        await other_pool.close()


async def test_a_cancelled_asker_does_not_cancel_another_waiting_for_the_same_node(pool):
    counter = NodeCounter(pool)
    user, node = f"u-{uuid.uuid4()}", str(uuid.uuid4())
    impatient = asyncio.ensure_future(counter.number(user, node))
    patient = asyncio.ensure_future(counter.number(user, node))
    await asyncio.sleep(0)
    impatient.cancel()
    assert await patient == 1


async def _take(counter: NodeCounter, user: str, n: int) -> list[int]:
    """``n`` numbers of the lease, as a busy executor takes them (waiting whenever it is empty)."""
    taken: list[int] = []
    while len(taken) < n:
        number = counter.take(user)
        if number is None:
            await asyncio.sleep(0.002)
        else:
            taken.append(number)
            await asyncio.sleep(0)  # a node's work between two starts
    return taken


async def test_a_lease_gives_the_next_numbers_without_a_statement_each(pool):
    counting = _CountingPool(pool)
    counter = NodeCounter(counting)
    user = f"u-{uuid.uuid4()}"
    assert counter.take(user) is None  # nothing leased yet: this node asks the database
    assert await counter.number(user, str(uuid.uuid4())) == 1 and counting.statements == 1
    assert [counter.take(user) for _ in range(4)] == [2, 3, 4, 5]  # the lease that came with it
    assert counting.statements == 1
    assert await _take(counter, user, 300) == list(range(6, 306))
    # renewed before it ran out, doubling to 32: 8 + 16 + 32 * 9 numbers in 11 statements
    assert counting.statements <= 1 + 12


async def test_leases_and_asked_numbers_of_two_executors_never_meet(pool, settings):
    """Two counters (two executor processes) lease and ask for one user's numbers at once: no
    number is given twice. A counter dropped with its lease (an executor that stopped) leaves a
    gap; the numbers after it are new."""
    other_pool = db.make_async_pool(settings, min_size=1, max_size=3, durable_commits=False)
    await other_pool.open()
    try:
        first, second = NodeCounter(pool), NodeCounter(other_pool)
        user = f"u-{uuid.uuid4()}"
        given = await asyncio.gather(
            _take(first, user, 100), _take(second, user, 100),
            asyncio.gather(*(first.number(user, n) for n in _nodes(30))),
            asyncio.gather(*(second.number(user, n) for n in _nodes(30))))
        numbers = [n for part in given for n in part]
        assert len(set(numbers)) == len(numbers) == 260
        third = NodeCounter(pool)  # the first executor's place, after it stopped holding a lease
        later = await asyncio.gather(*(third.number(user, n) for n in _nodes(5)))
        assert min(later) > max(numbers)
    finally:
        await other_pool.close()
