"""Load → decide → append → retry: the one optimistic-concurrency loop behind every command.

A command loads the aggregate, decides on it and appends the events at the version it loaded. If
another writer recorded on that stream first, the store refuses the append with
``ConcurrencyConflict`` and nothing is written; the command then loads again and decides again on
the fresh state, so a decision is never made on stale state and never applied twice.

The policy, the same for every stream: up to ``ATTEMPTS`` tries. The first retry is immediate
(most conflicts are one racing writer); from the second on, each waits a random 0 to
``min(n, 10) × 2`` ms, so writers piling on one hot stream (a user's ledger under a burst of node
charges) spread out instead of colliding again in lockstep. When the attempts run out the last
``ConcurrencyConflict`` propagates; both APIs answer it with 409 "Concurrent modification; please
retry". A refusal raised by ``decide`` (not found, forbidden, invalid) propagates at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from services.infra.store_contract import ConcurrencyConflict

ATTEMPTS = 100
_PAUSE_STEP_S = 0.002

State = TypeVar("State")
Result = TypeVar("Result")


def pause_before_retry(attempt: int) -> None:
    """The back-off between attempts (``attempt`` counts from 0 for the first conflict)."""
    if attempt > 0:
        time.sleep(random.uniform(0, _PAUSE_STEP_S * min(attempt, 10)))  # noqa: S311 - jitter, not a secret


def decide_and_append(load: Callable[[], State], decide: Callable[[State], Result], *,
                      on_conflict: Callable[[], None] | None = None) -> Result:
    """``decide(load())`` until it appends without a conflict; its result.

    ``decide`` both decides and appends (each caller knows its stream and versions). ``on_conflict``
    runs after each lost race, before the reload (e.g. to drop a cached aggregate)."""
    for attempt in range(ATTEMPTS):
        state = load()
        try:
            return decide(state)
        except ConcurrencyConflict:
            if on_conflict is not None:
                on_conflict()
            if attempt == ATTEMPTS - 1:
                raise
            pause_before_retry(attempt)
    raise AssertionError("unreachable")
