"""Fair shares of the executor's capacity (audit F4): quotas per user, round-robin between users.

Why: one global pool let a single user's flood (or one self-recursive graph) take every slot, so
everyone else's runs waited for the flood to end. Here every user holds at most ``per_user`` of
the ``capacity`` slots, and a freed slot goes to the next *user* with waiting work (round-robin),
not to the oldest waiting run; so a flood delays only the user who sent it.

The rule itself (``FairQueue``, ``Slots``) lives in ``services/infra/fair_slots.py``, shared with
the template pool. ``RunLease`` is one execution's claim on an execution slot, which
it lends back while it waits on a child execution: a parent waiting on its sub-graph is not
counted, so nested sub-graphs can never deadlock the pool (the slot holders are always runs doing
their own work, and those finish or time out).
"""

from __future__ import annotations

import asyncio

from services.domain.blocks.base import BlockType
from services.infra.fair_slots import FairQueue, Slots

__all__ = ["FairQueue", "NodeQuota", "RunLease", "Slots"]


class RunLease:
    """One execution's claim on an execution slot. ``lend`` while waiting on a child (the slot is
    given back when the first child wait starts), ``reclaim`` when the wait is over (the slot is
    taken back, ahead of runs that have not started, when the last wait ends)."""

    def __init__(self, slots: Slots, user: str) -> None:
        self.slots = slots
        self.user = user
        self.holding = False
        self.lending = 0
        self.closed = False
        self._taking_back: asyncio.Task | None = None

    async def admit(self) -> None:
        await self.slots.acquire(self.user)
        self.holding = True

    def lend(self) -> None:
        self.lending += 1
        if self.lending == 1 and self.holding:
            self.holding = False
            self.slots.release(self.user)

    def unlend(self) -> None:
        """The wait ended without the run continuing normally (cancelled, failed): no slot is
        taken back here, so a run being torn down never waits for one."""
        self.lending = max(0, self.lending - 1)

    async def reclaim(self) -> None:
        self.unlend()
        if self.lending == 0 and not self.holding and not self.closed:
            try:
                await self.slots.acquire(self.user, priority=True)
            except asyncio.CancelledError:
                # The waiting node was cancelled (node timeout, stop) but the run goes on: its
                # other nodes must not run slot-free, so the slot is taken back in the background.
                self._take_back_later()
                raise
            self._granted()

    def _granted(self) -> None:
        if self.closed or self.holding or self.lending:  # ended, or lending again, meanwhile
            self.slots.release(self.user)
        else:
            self.holding = True

    def _take_back_later(self) -> None:
        if self.closed or self._taking_back is not None:
            return

        async def take_back() -> None:
            try:
                await self.slots.acquire(self.user, priority=True)
                self._granted()
            finally:
                self._taking_back = None

        self._taking_back = asyncio.ensure_future(take_back())

    def close(self) -> None:
        self.closed = True
        if self._taking_back is not None:
            self._taking_back.cancel()  # a grant racing this cancel is passed on by Slots.acquire
        if self.holding:
            self.holding = False
            self.slots.release(self.user)


class NodeQuota:
    """The runner's node-slot hook: ``executor_max_nodes_per_user`` running nodes per user.
    Sub-graph (AGENT) nodes take none: they only wait on their child, whose nodes take theirs.

    It also knows how many nodes are between taking their slot and finishing, which is what a
    graceful shutdown waits for: ``close`` lets no further node start (``acquire`` then waits
    until the run is cancelled) and ``idle`` returns once the nodes already running are done."""

    def __init__(self, per_user: int) -> None:
        self.slots = Slots(None, per_user)
        self.held = 0
        self.closed = False
        self._idle = asyncio.Event()
        self._idle.set()

    async def acquire(self, user_id: str, block_cls) -> bool:
        if block_cls.block_type == BlockType.AGENT:
            return False
        if self.closed:
            await asyncio.Future()  # never starts: the shutdown cancels this run
        await self.slots.acquire(user_id)
        if self.closed:  # closed while this node waited for its turn
            self.slots.release(user_id)
            await asyncio.Future()
        self.held += 1
        self._idle.clear()
        return True

    def release(self, user_id: str) -> None:
        self.slots.release(user_id)
        self.held -= 1
        if self.held == 0:
            self._idle.set()

    def close(self) -> None:
        self.closed = True

    async def idle(self) -> None:
        await self._idle.wait()
