"""Limits on what one run may cost the platform (audit F4, F5): pure rules and their messages.

- Sub-graph trees: a run may nest sub-graphs at most ``MAX_CHILD_DEPTH`` levels deep and start at
  most ``max_descendants_per_execution`` child executions in its whole tree. Hitting either fails
  the run (not just the node: AutoGPT's node failures let a run end COMPLETED, which would hide a
  runaway recursion) and every ancestor up to the root, with the same message.
- Runaway loops: AutoGPT's surcharge (COMPAT §2.7 item 2): every ``count_threshold``-th node
  execution of a user costs ``cost_per_threshold`` credits. The n-th surcharge has its own
  idempotency key, so a resumed run never pays one twice.
"""

from __future__ import annotations

MAX_CHILD_DEPTH = 10
TREE_LIMIT_PREFIX = "Sub-graph limit exceeded: "


class RunLimitExceeded(Exception):
    """A limit that fails the whole run (and, for sub-graph trees, every ancestor)."""


def depth_exceeded(parent_depth: int) -> RunLimitExceeded | None:
    if parent_depth >= MAX_CHILD_DEPTH:
        return RunLimitExceeded(f"{TREE_LIMIT_PREFIX}sub-graphs nested deeper than {MAX_CHILD_DEPTH} levels "
                                "(a graph that runs itself?)")
    return None


def descendants_exceeded(limit: int) -> RunLimitExceeded:
    return RunLimitExceeded(f"{TREE_LIMIT_PREFIX}more than {limit} sub-graph executions under one run "
                            "(a graph that runs itself, or a fan-out into sub-graphs?)")


def is_tree_limit(error: str | None) -> bool:
    """A child that ended FAILED on a tree limit fails its parent too (the limit is the tree's)."""
    return bool(error) and error.startswith(TREE_LIMIT_PREFIX)


def surcharge(seq: int, count_threshold: int, cost_per_threshold: int) -> tuple[str, int] | None:
    """``(idempotency key, credits)`` if the user's ``seq``-th node execution (1-based) pays the
    threshold surcharge, else None. Disabled when either setting is 0 or less."""
    if count_threshold <= 0 or cost_per_threshold <= 0 or seq <= 0 or seq % count_threshold:
        return None
    return f"EXECUTION-COST-{seq // count_threshold}", cost_per_threshold
