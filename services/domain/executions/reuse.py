"""What a retry or fork takes over from the run it branches off (pure).

A node execution of the new run whose block and resolved inputs are the same as those of a node
execution the other run had completed (by the branch point) is not run again: its recorded
outputs are taken over, in order, and nothing is charged. Keyed by block and inputs, not by node
id, so a retry on a newer graph version reuses every node upstream of what changed (their inputs
are unchanged) and runs the changed nodes and everything downstream of them (their inputs
differ). Repeated executions with the same key (a loop) are taken over in the order they ran.
Only completed node executions qualify: a failed, terminated or interrupted one runs again.
"""

from __future__ import annotations

import hashlib
from collections import deque
from typing import Any

import orjson

from services.domain.executions.state import ExecutionState, NodeExec
from services.domain.executions.status import ExecutionStatus

REUSED_FROM = "reused_from"  # the stats key naming the node execution whose outputs were taken over


def input_key(block_id: str, input_data: dict[str, Any] | None) -> str:
    """A digest of what determines a node's work: its block and its resolved inputs."""
    encoded = orjson.dumps([block_id, input_data or {}], option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(encoded).hexdigest()


class ReuseTable:
    def __init__(self, source: ExecutionState, branch: ExecutionState | None = None) -> None:
        """``branch``: the new run as recorded so far (a resumed run has taken some over already)."""
        self.source_id = source.id
        self._by_key: dict[str, deque[NodeExec]] = {}
        taken = {ne.stats.get(REUSED_FROM) for ne in (branch.node_execs.values() if branch else ())}
        done = sorted((ne for ne in source.node_execs.values()
                       if ne.status == ExecutionStatus.COMPLETED and ne.id not in taken),
                      key=lambda ne: (ne.queued_seq or 0, ne.added_seq))
        for ne in done:
            self._by_key.setdefault(input_key(ne.block_id, ne.input_data), deque()).append(ne)

    def has(self, block_id: str, input_data: dict[str, Any] | None) -> bool:
        """Whether ``take`` would find one (without taking it)."""
        return bool(self._by_key.get(input_key(block_id, input_data)))

    def take(self, block_id: str, input_data: dict[str, Any] | None) -> NodeExec | None:
        """The other run's next unused completed execution with this block and these inputs."""
        waiting = self._by_key.get(input_key(block_id, input_data))
        return waiting.popleft() if waiting else None
