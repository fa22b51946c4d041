"""The executor's fair-share rules (audit F4): per-user caps, round-robin, lending while waiting."""

import asyncio

import pytest

from services.domain.blocks.base import BlockType
from services.executor.scheduling.fair import FairQueue, NodeQuota, RunLease, Slots


def test_a_user_holds_at_most_its_quota_and_others_still_get_in():
    q = FairQueue(capacity=4, per_user=2)
    assert [q.request("a", i) for i in range(5)] == [True, True, False, False, False]
    assert q.request("b", "b0") is True and q.request("b", "b1") is True
    assert q.total == 4 and q.waiting == 3


def test_freed_slots_go_round_robin_between_waiting_users():
    q = FairQueue(capacity=2, per_user=2)
    assert q.request("a", "a0") and q.request("a", "a1")
    for i in range(2, 6):
        q.request("a", f"a{i}")
    q.request("b", "b0")
    q.request("b", "b1")
    q.request("c", "c0")
    order = []
    holders = ["a", "a"]
    for _ in range(6):
        granted = q.release(holders.pop(0))
        order += [t for _, t in granted]
        holders += [u for u, _ in granted]
    # A's backlog does not go first just because it is older: every user gets a turn
    assert order == ["a2", "b0", "c0", "a3", "b1", "a4"], order


def test_fifo_within_a_user_and_no_overtaking():
    q = FairQueue(capacity=10, per_user=1)
    assert q.request("a", 1)
    assert not q.request("a", 2) and not q.request("a", 3)
    assert q.release("a") == [("a", 2)]
    assert q.release("a") == [("a", 3)]


def test_priority_tickets_are_served_first():
    q = FairQueue(capacity=1, per_user=1)
    assert q.request("a", "run")
    q.request("a", "new")
    q.request("a", "back", priority=True)
    assert q.release("a") == [("a", "back")]


def test_withdraw_and_unbounded_capacity():
    q = FairQueue(capacity=None, per_user=2)
    assert q.request("a", 1) and q.request("a", 2) and not q.request("a", 3)
    assert q.withdraw(3) and not q.withdraw(3)
    assert q.release("a") == []
    assert q.request("z", 9)
    with pytest.raises(ValueError):
        q.release("nobody")


def test_per_user_cap_never_exceeds_capacity():
    assert FairQueue(capacity=3, per_user=20).per_user == 3


async def test_slots_wake_waiters_and_survive_cancelled_waiters():
    slots = Slots(1, 1)
    await slots.acquire("a")
    waiter = asyncio.create_task(slots.acquire("a"))
    second = asyncio.create_task(slots.acquire("b"))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    slots.release("a")
    await asyncio.wait_for(second, 1)
    assert slots.held == 1 and slots.waiting == 0


async def test_a_granted_but_cancelled_waiter_passes_its_slot_on():
    slots = Slots(1, 1)
    await slots.acquire("a")
    waiter = asyncio.create_task(slots.acquire("b"))
    other = asyncio.create_task(slots.acquire("c"))
    await asyncio.sleep(0)
    slots.release("a")  # grants b; b is cancelled before it resumes
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    await asyncio.wait_for(other, 1)
    assert slots.queue.held == {"c": 1}


async def test_a_parent_lends_its_slot_to_its_child_and_takes_it_back():
    slots = Slots(1, 1)
    parent = RunLease(slots, "u")
    await parent.admit()
    child = RunLease(slots, "u")
    admitted = asyncio.create_task(child.admit())
    await asyncio.sleep(0)
    assert not admitted.done()  # the pool (one slot) is held by the parent
    parent.lend()
    await asyncio.wait_for(admitted, 1)  # ... until it waits on its child
    back = asyncio.create_task(parent.reclaim())
    newcomer = asyncio.create_task(RunLease(slots, "u").admit())
    await asyncio.sleep(0)
    child.close()
    await asyncio.wait_for(back, 1)
    assert parent.holding and not newcomer.done()  # taken back ahead of runs not yet started
    parent.close()
    await asyncio.wait_for(newcomer, 1)


async def test_nested_lending_never_deadlocks_a_one_slot_pool():
    slots = Slots(1, 1)

    async def run(depth: int) -> int:
        lease = RunLease(slots, "u")
        await lease.admit()
        try:
            if depth == 0:
                return 0
            lease.lend()
            result = await run(depth - 1)
            await lease.reclaim()
            return result + 1
        finally:
            lease.close()

    assert await asyncio.wait_for(run(10), 2) == 10
    assert slots.held == 0


async def test_unlend_on_teardown_does_not_wait():
    slots = Slots(1, 1)
    lease = RunLease(slots, "u")
    await lease.admit()
    lease.lend()
    other = RunLease(slots, "u")
    await other.admit()
    lease.unlend()  # no slot taken back: nothing to wait for
    lease.close()
    assert not lease.holding and slots.held == 1


async def _parent_whose_reclaim_was_cancelled():
    """A one-slot pool: the parent lent its slot, another run took it, and the parent's reclaim
    was cancelled while it waited (its node timed out)."""
    slots = Slots(1, 1)
    parent = RunLease(slots, "u")
    await parent.admit()
    parent.lend()
    other = RunLease(slots, "u")
    await asyncio.wait_for(other.admit(), 1)
    back = asyncio.create_task(parent.reclaim())
    await asyncio.sleep(0)
    back.cancel()
    await asyncio.gather(back, return_exceptions=True)
    return slots, parent, other


async def _settle():
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_reclaim_cancelled_while_waiting_still_takes_the_slot_back():
    # The run goes on, so its other nodes must not run without a slot: the lease takes the slot
    # back once it is free.
    slots, parent, other = await _parent_whose_reclaim_was_cancelled()
    assert not parent.holding
    other.close()
    await _settle()
    assert parent.holding and slots.held == 1
    parent.close()
    assert slots.held == 0


async def test_a_closed_lease_never_takes_a_slot_back_later():
    slots, parent, other = await _parent_whose_reclaim_was_cancelled()
    parent.close()
    other.close()
    await _settle()
    assert slots.held == 0 and not parent.holding


class _Block:
    block_type = BlockType.STANDARD


async def test_a_closed_node_quota_starts_nothing_and_reports_idle_once_running_nodes_finish():
    """Graceful shutdown: after ``close`` no node gets a slot (not even one already waiting), and
    ``idle`` returns when the nodes holding one are done."""
    quota = NodeQuota(per_user=1)
    assert await quota.acquire("u", _Block) is True
    waiting = asyncio.ensure_future(quota.acquire("u", _Block))  # queued behind the running node
    await asyncio.sleep(0)
    quota.close()
    idle = asyncio.ensure_future(quota.idle())
    await asyncio.sleep(0.01)
    assert not idle.done()
    quota.release("u")
    await asyncio.wait_for(idle, 1)
    late = asyncio.ensure_future(quota.acquire("u", _Block))
    await asyncio.sleep(0.01)
    assert not waiting.done() and not late.done() and quota.held == 0
    for task in (waiting, late):
        task.cancel()
