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
    """Numbers asked of "the table" count from 1; a lease (``leased``) hands out its own."""

    def __init__(self, leased=()):
        self.numbers, self.calls = {}, 0
        self.leased = list(leased)

    def take(self, user):
        return self.leased.pop(0) if self.leased else None

    async def number(self, user, node_exec_id):
        self.calls += 1
        return self.numbers.setdefault(node_exec_id, len(self.numbers) + 1)


def _node(i: int, **kwargs):
    from types import SimpleNamespace

    return SimpleNamespace(id=f"n{i}", node_id="x", block_id="b1ab9b19-67a6-406d-abf5-2dba76d00c79",
                           attempts=0, node_number=None, **kwargs)


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
    nodes = [_node(i) for i in range(5)]
    for ne in nodes:
        assert charger.prepare(state, ne) is None  # no lease: each is asked of the table
    await asyncio.sleep(0)
    costs = [await charger._surcharge(state, ne, {}) for ne in nodes]
    again = [await charger._surcharge(state, ne, {}) for ne in nodes[:3]]  # a resume runs them again
    assert costs == [0, 3, 0, 3, 0] and again == [0, 3, 0]
    assert ledger.spent == {"EXECUTION-COST-1": 3, "EXECUTION-COST-2": 3}


async def test_a_node_records_a_leased_number_once_and_keeps_it_on_every_attempt():
    """A node never started takes a number of the lease (returned, for its NodeStarted); one that
    recorded a number keeps it; one started before without a recorded number asks the table, which
    may hold the number an earlier owner was given for it."""
    from types import SimpleNamespace

    counter, ledger = _Counter(leased=[7, 8]), _Ledger()
    charger = NodeCharger(ledger, {}, counter=counter, count_threshold=4, cost_per_threshold=1)
    state = SimpleNamespace(user_id="u", graph_id="g", graph_version=1, id="e")
    fresh, recorded, resumed = _node(1), _node(2), _node(3)
    assert charger.prepare(state, fresh) == 7 and counter.calls == 0
    recorded.node_number, recorded.attempts = 12, 1
    assert charger.prepare(state, recorded) == 12 and counter.leased == [8]
    resumed.attempts = 1
    assert charger.prepare(state, resumed) is None and counter.leased == [8]
    await asyncio.sleep(0)
    assert counter.calls == 1  # the table was asked for the resumed node only
    fresh.node_number = 7  # as the runner's NodeStarted records it
    assert [await charger._surcharge(state, ne, {}) for ne in (fresh, recorded, resumed)] == [0, 1, 0]
    assert ledger.spent == {"EXECUTION-COST-3": 1}  # 12 is the 3rd 4th


def test_a_recorded_node_number_is_kept_by_the_attempts_after_it():
    from schemas.events.executions import NodeQueued, NodeStarted
    from tests.unit.executor_harness import build_graph, queued_state

    body, _ids = build_graph([{"id": "a", "block_id": "b1ab9b19-67a6-406d-abf5-2dba76d00c79"}], [])
    state = queued_state(body)
    node = body.nodes[0]
    state.apply(NodeQueued(node_exec_id="ne", node_id=node.id, block_id=node.block_id, input_data={}))
    state.apply(NodeStarted(node_exec_id="ne", node_number=9))
    state.apply(NodeStarted(node_exec_id="ne", attempt=2))  # a resume that found it recorded
    assert state.node_execs["ne"].node_number == 9 and state.node_execs["ne"].attempts == 2
