"""Run limits (audit F4/F5): tree-limit messages and the per-threshold surcharge rule."""

import asyncio

from services.executor.charging import NodeCharger
from services.executor.scheduling.limits import (
    MAX_CHILD_DEPTH,
    depth_exceeded,
    descendants_exceeded,
    is_tree_limit,
    surcharge,
)


def test_every_nth_node_execution_pays_under_its_own_key():
    due = [surcharge(seq, 100, 1) for seq in range(1, 301)]
    paid = [d for d in due if d is not None]
    assert paid == [("EXECUTION-COST-1", 1), ("EXECUTION-COST-2", 1), ("EXECUTION-COST-3", 1)]
    assert due[99] == ("EXECUTION-COST-1", 1) and due[98] is None


def test_surcharge_disabled_by_zero_settings():
    assert surcharge(100, 0, 1) is None and surcharge(100, 100, 0) is None and surcharge(0, 100, 1) is None


def test_tree_limits_are_recognisable_so_ancestors_fail_too():
    assert depth_exceeded(MAX_CHILD_DEPTH - 1) is None
    deep = depth_exceeded(MAX_CHILD_DEPTH)
    wide = descendants_exceeded(200)
    assert is_tree_limit(str(deep)) and is_tree_limit(str(wide))
    assert "more than 200 sub-graph executions" in str(wide)
    assert not is_tree_limit("Node timed out after 300s") and not is_tree_limit(None)


class _Counter:
    def __init__(self):
        self.numbers, self.calls = {}, 0

    async def number(self, user, node_exec_id):
        self.calls += 1
        return self.numbers.setdefault(node_exec_id, len(self.numbers) + 1)


class _Ledger:
    def __init__(self):
        self.spent = {}

    def spend(self, user, amount, key, metadata, reason):
        self.spent.setdefault(key, amount)  # the real ledger refuses a key twice


async def test_charger_pays_once_per_threshold_when_nodes_run_again():
    from types import SimpleNamespace

    counter, ledger = _Counter(), _Ledger()
    charger = NodeCharger(ledger, {}, counter=counter, count_threshold=2, cost_per_threshold=3)
    state = SimpleNamespace(user_id="u", graph_id="g", graph_version=1, id="e")
    nodes = [SimpleNamespace(id=f"n{i}", node_id="x", block_id="b1ab9b19-67a6-406d-abf5-2dba76d00c79")
             for i in range(5)]
    for ne in nodes:
        charger.prepare(state, ne)
    await asyncio.sleep(0)
    costs = [await charger._surcharge(state, ne, {}) for ne in nodes]
    again = [await charger._surcharge(state, ne, {}) for ne in nodes[:3]]  # a resume runs them again
    assert costs == [0, 3, 0, 3, 0] and again == [0, 3, 0]
    assert ledger.spent == {"EXECUTION-COST-1": 3, "EXECUTION-COST-2": 3}
