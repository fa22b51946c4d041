"""Fair shares of a fixed number of slots: a cap per user, round-robin between users.

Why: a single pool served first come, first served lets one user's flood take every slot, so
everyone else waits for the flood to end. Here every user holds at most ``per_user`` of the
``capacity`` slots, and a freed slot goes to the next *user* with waiting work (round-robin), not
to the oldest waiter; so a flood delays only the user who sent it. The executor uses it for run
and node slots (``services/executor/scheduling/fair.py``), the template pool for its workers
(``services/blocks/sandbox/pool.py``): one rule, one home.

``FairQueue`` is the pure rule (no asyncio, no I/O; tickets are opaque hashable values);
``Slots`` puts asyncio waiters on it.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import Hashable


class FairQueue:
    """Admission under a global ``capacity`` (None: unbounded) and a ``per_user`` cap.

    Invariant after every call: no waiting ticket could be granted, so a request is granted at
    once only if its user has nothing waiting ahead of it (FIFO per user). ``priority`` tickets
    (a run taking its slot back after lending it) are served before ordinary ones."""

    def __init__(self, capacity: int | None, per_user: int) -> None:
        self.capacity = capacity
        self.per_user = max(1, min(per_user, capacity) if capacity is not None else per_user)
        self.held: Counter[str] = Counter()
        self.total = 0
        self._waiting: tuple[OrderedDict[str, OrderedDict[Hashable, None]], ...] = (OrderedDict(), OrderedDict())
        self._user_of: dict[Hashable, tuple[str, int]] = {}

    @property
    def waiting(self) -> int:
        return len(self._user_of)

    def _has_room(self, user: str) -> bool:
        return (self.capacity is None or self.total < self.capacity) and self.held[user] < self.per_user

    def request(self, user: str, ticket: Hashable, *, priority: bool = False) -> bool:
        """True: granted now. False: queued; a later ``release`` returns it when granted."""
        level = 0 if priority else 1
        ahead = any(self._waiting[lv].get(user) for lv in range(level + 1))
        if not ahead and self._has_room(user):
            self._grant(user)
            return True
        self._waiting[level].setdefault(user, OrderedDict())[ticket] = None
        self._user_of[ticket] = (user, level)
        return False

    def withdraw(self, ticket: Hashable) -> bool:
        """A waiting ticket gives up (its run was cancelled); True if it was waiting."""
        found = self._user_of.pop(ticket, None)
        if found is None:
            return False
        user, level = found
        queue = self._waiting[level][user]
        del queue[ticket]
        if not queue:
            del self._waiting[level][user]
        return True

    def release(self, user: str) -> list[tuple[str, Hashable]]:
        """Give one slot of ``user`` back; returns the ``(user, ticket)`` pairs granted now."""
        if self.held[user] <= 0:
            raise ValueError(f"release without a held slot for {user!r}")
        self.held[user] -= 1
        if not self.held[user]:
            del self.held[user]
        self.total -= 1
        return self._pump()

    def _grant(self, user: str) -> None:
        self.held[user] += 1
        self.total += 1

    def _pump(self) -> list[tuple[str, Hashable]]:
        granted: list[tuple[str, Hashable]] = []
        while self.capacity is None or self.total < self.capacity:
            picked = self._next()
            if picked is None:
                break
            granted.append(picked)
        return granted

    def _next(self) -> tuple[str, Hashable] | None:
        """The first ticket, round-robin over users, whose user has room; its user goes last."""
        for queues in self._waiting:
            for user in list(queues):
                if self.held[user] >= self.per_user:
                    continue
                tickets = queues.pop(user)  # re-inserted at the end: the next user goes first next time
                ticket, _ = tickets.popitem(last=False)
                if tickets:
                    queues[user] = tickets
                del self._user_of[ticket]
                self._grant(user)
                return user, ticket
        return None


class Slots:
    """``FairQueue`` with asyncio waiters: ``await acquire(user)`` … ``release(user)``."""

    def __init__(self, capacity: int | None, per_user: int) -> None:
        self.queue = FairQueue(capacity, per_user)

    @property
    def waiting(self) -> int:
        return self.queue.waiting

    @property
    def held(self) -> int:
        return self.queue.total

    async def acquire(self, user: str, *, priority: bool = False) -> None:
        future = asyncio.get_running_loop().create_future()
        if self.queue.request(user, future, priority=priority):
            return
        try:
            await future
        except asyncio.CancelledError:
            if not self.queue.withdraw(future) and future.done() and not future.cancelled():
                self.release(user)  # granted just as the waiter was cancelled: pass it on
            raise

    def release(self, user: str) -> None:
        pending = self.queue.release(user)
        while pending:
            granted_user, future = pending.pop()
            if future.done():  # its waiter is gone (cancelled after the grant was decided)
                pending.extend(self.queue.release(granted_user))
            else:
                future.set_result(None)
