"""Charging a node before it runs: the block's price for this input, keyed by the node execution
id (see ``services.infra.block_charge``), then AutoGPT's per-threshold surcharge
(COMPAT §2.7 item 2: every Nth node execution of a user costs M credits), which makes a runaway
loop of free blocks cost something (audit F5).

The surcharge needs a count per user that survives crashes without charging a node twice:
``NodeCounter`` gives every node execution one of its user's numbers, and the n-th surcharge is
spent under ``EXECUTION-COST-{n}``, so the ledger refuses to take it twice. A node keeps its
number across attempts: the number is recorded in its ``NodeStarted`` (and, for a number asked of
the database, in ``executor_node_numbers`` too), and a surcharge is only spent once everything the
run wrote before it is durable, that event included.

Numbers come from a per-user lease held in memory, like a PostgreSQL sequence's cache: asking the
database for each node was a round trip on the path of every node of a chain (about 40 % of
chain40's wall time). A lease's unused numbers are lost when the executor stops or crashes; a lost
number can only skip a surcharge (in the user's favour), never charge one twice.

A dry run costs nothing and counts for nothing: the runner neither numbers nor charges its nodes."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from schemas.events.credits import UsageMetadata
from services.domain.executions.state import ExecutionState, NodeExec
from services.executor.scheduling.limits import surcharge
from services.infra.block_charge import charge_block_run
from services.infra.ledger_service import LedgerService

# One round trip for every node execution of a user asked for at the same moment, and for the
# user's next lease: a node seen before keeps its number; the new ones take the user's next numbers
# and the lease the ones after them, one bump of the user's count. The row with no node is the count
# after the bump (the lease is the ``lease`` numbers up to it). A node a concurrent statement numbered
# first (its insert yields) is missing from the answer and asked again.
_NUMBER = """
WITH asked AS (SELECT node_exec_id, ord FROM unnest(%(nodes)s::text[]) WITH ORDINALITY AS a(node_exec_id, ord)),
known AS (SELECT n.node_exec_id, n.seq FROM executor_node_numbers n JOIN asked a USING (node_exec_id)),
fresh AS (
    SELECT node_exec_id, row_number() OVER (ORDER BY ord) AS k FROM asked
    WHERE node_exec_id NOT IN (SELECT node_exec_id FROM known)),
bump AS (
    INSERT INTO executor_user_node_counts (user_id, node_executions)
    SELECT %(user)s, count(*) + %(lease)s FROM fresh HAVING count(*) + %(lease)s > 0
    ON CONFLICT (user_id) DO UPDATE SET node_executions = executor_user_node_counts.node_executions
                                                          + EXCLUDED.node_executions
    RETURNING node_executions AS top),
numbered AS (
    INSERT INTO executor_node_numbers (node_exec_id, user_id, seq)
    SELECT f.node_exec_id, %(user)s, b.top - %(lease)s - (SELECT count(*) FROM fresh) + f.k
    FROM fresh f CROSS JOIN bump b
    ON CONFLICT (node_exec_id) DO NOTHING RETURNING node_exec_id, seq)
SELECT node_exec_id, seq FROM numbered UNION ALL SELECT node_exec_id, seq FROM known
UNION ALL SELECT NULL, top FROM bump
"""
# A user's lease starts small and doubles each time it is renewed, up to the largest: a user who
# runs one node now and then loses at most a few numbers when the executor stops; a busy one renews
# every 32 nodes, in the background, before the lease runs out.
FIRST_LEASE = 4
LARGEST_LEASE = 32
MAX_LEASED_USERS = 10_000  # the least recently served beyond it lose their lease (a gap, no harm)
# Counters that only bound work, never history: node numbers after two days (a resume that late is
# not expected), descendant counts of roots untouched for a week (a tree still growing after that
# only starts its count again).
_PRUNE = ("DELETE FROM executor_node_numbers WHERE created_at < now() - interval '2 days'",
          "DELETE FROM executor_descendants WHERE created_at < now() - interval '7 days'",
          "DELETE FROM executor_descendant_counts WHERE updated_at < now() - interval '7 days'")
MAX_PREPARED = 10_000


class _Lease:
    """One user's numbers at hand: ``ranges`` of ``[first, last]``, in the order they were given."""

    __slots__ = ("ranges", "size", "wanted", "renewing")

    def __init__(self) -> None:
        self.ranges: list[list[int]] = []
        self.size = 0  # of the last lease asked for
        self.wanted = False  # the next statement for the user asks for a lease
        self.renewing = False  # a statement asking for one is on its way

    def left(self) -> int:
        return sum(last - first + 1 for first, last in self.ranges)

    def take(self) -> int | None:
        if not self.ranges:
            return None
        span = self.ranges[0]
        number = span[0]
        if span[0] == span[1]:
            self.ranges.pop(0)
        else:
            span[0] += 1
        return number


class NodeCounter:
    """Per-user node execution numbers in PostgreSQL, shared by every executor instance.

    ``take`` hands out a number of the user's lease at once, or None when the lease is empty;
    ``number`` asks the database, for a node that may have been numbered before (the number is
    kept in ``executor_node_numbers``) or when no lease is at hand. The askings of one moment (the
    nodes a burst of runs starts together) and the lease renewals go as one statement per user,
    sent on the next turn of the event loop and again whenever more came while one was in flight:
    a burst of 300 nodes took 300 statements, each holding the user's count row, and ~12 % of the
    executor's time holding the GIL."""

    def __init__(self, pool) -> None:
        self.pool = pool
        self._asked: dict[str, dict[str, asyncio.Future]] = {}  # user -> node execution -> its number, unsent
        self._sending: asyncio.Task | None = None
        self._leases: OrderedDict[str, _Lease] = OrderedDict()

    def take(self, user_id: str) -> int | None:
        """The next number of ``user_id``'s lease, or None if it has none left; asks for the next
        lease while half of this one is still there (and for a first one on the first call)."""
        lease = self._leases.get(user_id)
        if lease is None:
            lease = self._leases[user_id] = _Lease()
            while len(self._leases) > MAX_LEASED_USERS:
                self._leases.popitem(last=False)
        else:
            self._leases.move_to_end(user_id)
        number = lease.take()
        if not (lease.wanted or lease.renewing) and lease.left() <= lease.size // 2:
            lease.wanted = True
            self._asked.setdefault(user_id, {})
            self._send_soon()
        return number

    async def number(self, user_id: str, node_exec_id: str) -> int:
        asked = self._asked.setdefault(user_id, {})
        future = asked.get(node_exec_id)
        if future is None:
            future = asked[node_exec_id] = asyncio.get_running_loop().create_future()
            future.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved, if nobody waits now
        self._send_soon()
        return await asyncio.shield(future)  # a caller cancelled does not cancel another's wait

    def _send_soon(self) -> None:
        if self._sending is None or self._sending.done():
            self._sending = asyncio.ensure_future(self._send())

    async def _send(self) -> None:
        await asyncio.sleep(0)  # the other askings of this moment
        while self._asked:
            rounds, self._asked = self._asked, {}
            await asyncio.gather(*(self._send_user(user, asked) for user, asked in rounds.items()))

    def _lease_wanted(self, user_id: str) -> int:
        """How many numbers to lease for ``user_id`` with this statement (0: none)."""
        lease = self._leases.get(user_id)
        if lease is None or not lease.wanted:
            return 0
        lease.wanted, lease.renewing = False, True
        lease.size = min(LARGEST_LEASE, max(FIRST_LEASE, 2 * lease.size))
        return lease.size

    def _leased(self, user_id: str, size: int, top: int | None) -> None:
        lease = self._leases.get(user_id)
        if lease is None:  # evicted meanwhile: the numbers are a gap
            return
        lease.renewing = False
        if top is not None:
            lease.ranges.append([top - size + 1, top])

    async def _send_user(self, user_id: str, asked: dict[str, asyncio.Future]) -> None:
        # One autocommit statement. The pool's commits skip the WAL flush (``durable_commits=False``):
        # losing one in a database crash can give numbers again, whose surcharges the ledger then
        # refuses as already spent: it can only skip a surcharge, never repeat one.
        lease = self._lease_wanted(user_id)
        try:
            async with self.pool.connection() as conn:
                rows = await (await conn.execute(
                    _NUMBER, {"nodes": list(asked), "user": user_id, "lease": lease})).fetchall()
        except Exception as exc:  # noqa: BLE001 - each asker gets it, as from its own statement
            if lease:
                self._leased(user_id, lease, None)  # asked again by the next take
            for future in asked.values():
                if not future.done():
                    future.set_exception(exc)
            return
        numbers = {node: int(seq) for node, seq in rows if node is not None}
        if lease:
            self._leased(user_id, lease, next((int(seq) for node, seq in rows if node is None), None))
        for node, future in asked.items():
            if node in numbers:
                if not future.done():
                    future.set_result(numbers[node])
            else:  # numbered by a concurrent statement at the same moment: committed now, ask again
                self._asked.setdefault(user_id, {}).setdefault(node, future)

    async def prune(self) -> None:
        """Old counters (see ``_PRUNE``)."""
        async with self.pool.connection() as conn:
            for statement in _PRUNE:
                await conn.execute(statement)


class NodeCharger:
    def __init__(self, ledger: LedgerService, cost_table, *, counter: NodeCounter | None = None,
                 count_threshold: int = 0, cost_per_threshold: int = 0) -> None:
        self.ledger = ledger
        self.cost_table = cost_table
        self.counter = counter
        self.count_threshold = count_threshold
        self.cost_per_threshold = cost_per_threshold
        # Numbers asked for when a node is started (``prepare``), so the round trip overlaps the
        # runner's NodeStarted write instead of adding to every node's latency.
        self._numbers: OrderedDict[str, asyncio.Future] = OrderedDict()

    @property
    def _counting(self) -> bool:
        return self.counter is not None and self.count_threshold > 0 and self.cost_per_threshold > 0

    def prepare(self, state: ExecutionState, ne: NodeExec) -> int | None:
        """The number ``ne``'s ``NodeStarted`` is to record, when one is at hand: the one an earlier
        attempt recorded, or, for a node never started, one of the lease. Otherwise the database is
        asked now (the round trip overlaps the runner's NodeStarted write) and None is returned: a
        node started before without a recorded number may have one in ``executor_node_numbers``.

        A node never started takes a fresh number even if a crashed owner had asked one for it: that
        owner spent nothing for it, since a surcharge is spent only after the node's start is durable."""
        if not self._counting:
            return None
        if ne.node_number is not None:
            return ne.node_number
        if ne.id in self._numbers:  # asked already
            return None
        if ne.attempts == 0 and (number := self.counter.take(state.user_id)) is not None:
            return number
        future = asyncio.ensure_future(self.counter.number(state.user_id, ne.id))
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: asked again below
        self._numbers[ne.id] = future
        while len(self._numbers) > MAX_PREPARED:  # nodes that never got to run (a stopped run)
            self._numbers.popitem(last=False)[1].cancel()
        return None

    async def _number(self, state: ExecutionState, ne: NodeExec) -> int:
        if ne.node_number is not None:
            return ne.node_number
        future = self._numbers.pop(ne.id, None)
        if future is not None:
            try:
                return await future
            except Exception:  # noqa: BLE001 - ask again: a failure here is the one that counts
                pass
        return await self.counter.number(state.user_id, ne.id)

    async def __call__(self, state: ExecutionState, ne: NodeExec, input_data: dict[str, Any],
                       before_spend: Callable[[], Awaitable[None]] | None = None) -> int:
        """Credits spent for this node; ``before_spend`` is awaited before any spend (the runner's
        "durable before money moves")."""
        usage = {"graph_id": state.graph_id, "graph_version": state.graph_version, "graph_exec_id": state.id,
                 "node_id": ne.node_id}
        cost = await charge_block_run(self.ledger, self.cost_table, state.user_id, ne.block_id, input_data, ne.id,
                                      before_spend=before_spend, **usage)
        return cost + await self._surcharge(state, ne, usage, before_spend)

    async def _surcharge(self, state: ExecutionState, ne: NodeExec, usage: dict[str, Any],
                         before_spend: Callable[[], Awaitable[None]] | None = None) -> int:
        if not self._counting:
            return 0
        due = surcharge(await self._number(state, ne), self.count_threshold, self.cost_per_threshold)
        if due is None:
            return 0
        key, amount = due
        if before_spend is not None:
            await before_spend()
        metadata = UsageMetadata(node_exec_id=ne.id, block_id=ne.block_id, **usage)
        await asyncio.to_thread(self.ledger.spend, state.user_id, amount, key, metadata,
                                f"Execution Cost for {self.count_threshold} blocks")
        return amount
