"""The credits ledger against the store: load (from the latest snapshot), decide, append, retry.

Every change is one append with optimistic concurrency on the user's ledger stream; a concurrent
writer makes the append fail and the command reloads and decides again, so concurrent spends never
lose an update or charge twice (and a repeated idempotency key returns the first result). Within
one process, writers to the same ledger also queue on a lock, so they rarely collide at all.
Loading starts at the newest ``LedgerSnapshotTaken`` (one is recorded every
``snapshot_every`` entries), so a user with 100k entries loads about as fast as a new one.

Policy on top of the aggregate: a configurable sign-up grant on a user's first ledger access
(``SIGNUP-{user}``) and AutoGPT's monthly refill (up to N credits on the first read in a new month).
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime

from schemas.events.credits import LedgerEntry, UsageMetadata
from services.domain.credits.ledger import SNAPSHOT_EVERY, Decision, Ledger, ledger_stream_id
from services.infra.appending import decide_and_append
from services.infra.eventstore import EventStore
from services.infra.settings import Settings
from services.infra.store_contract import NewEvent

SNAPSHOT_TYPE = "LedgerSnapshotTaken"


class LedgerService:
    def __init__(self, store: EventStore, *, signup_credits: int = 0, monthly_refill: int = 0,
                 snapshot_every: int = SNAPSHOT_EVERY, today: Callable[[], date] | None = None) -> None:
        self.store = store
        self.signup_credits = signup_credits
        self.monthly_refill = monthly_refill
        self.snapshot_every = snapshot_every
        self.today = today or (lambda: datetime.now(UTC).date())
        self._locks: dict[str, threading.RLock] = defaultdict(threading.RLock)
        # Folded ledgers by user, brought up to date with the events recorded since (usually none:
        # one index lookup), so a hot ledger is not refolded for every spend.
        self._cache: dict[str, Ledger] = {}

    @classmethod
    def from_settings(cls, store: EventStore, settings: Settings) -> LedgerService:
        """The deployment's ledger policy (sign-up grant, monthly refill, snapshot interval): the one
        wiring the command API and the executor share, so both apply the same policy."""
        return cls(store, signup_credits=settings.signup_credits, monthly_refill=settings.monthly_refill_credits,
                   snapshot_every=settings.ledger_snapshot_every)

    # -- loading -------------------------------------------------------------------------------

    def load(self, user_id: str) -> Ledger:
        """The ledger as recorded now (a private copy the caller may decide on)."""
        with self._locks[user_id]:
            return copy.deepcopy(self._current(user_id))

    def _current(self, user_id: str) -> Ledger:
        cached = self._cache.get(user_id)
        stream = ledger_stream_id(user_id)
        if cached is not None:
            head = self.store.stream_version(stream)
            if head == cached.stream_version:
                return cached
            if head - cached.stream_version <= self.snapshot_every:
                for event in self.store.read_stream(stream, after=cached.stream_version):
                    cached.apply(event.decode())
                return cached
        ledger = self._fold(user_id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[user_id] = ledger
        return ledger

    def _fold(self, user_id: str) -> Ledger:
        stream = ledger_stream_id(user_id)
        snapshot = self.store.latest_of_type(stream, SNAPSHOT_TYPE)
        after = snapshot.stream_version - 1 if snapshot else 0
        events = [e.decode() for e in self.store.read_stream(stream, after=after)]
        ledger = Ledger(user_id)
        ledger.stream_version = after
        for event in events:
            ledger.apply(event)
        return ledger

    # -- changes -------------------------------------------------------------------------------

    def _change(self, user_id: str, decide: Callable[[Ledger], Decision]) -> LedgerEntry | None:
        def record(ledger: Ledger) -> LedgerEntry | None:
            decision = decide(ledger)
            if not decision.events:
                return decision.entry
            events = list(decision.events)
            if ledger.should_snapshot(len(events), self.snapshot_every):
                events += _folded(ledger, events).snapshot()
            self.store.append([NewEvent(ledger_stream_id(user_id), ledger.stream_version + i + 1, event,
                                        user_id=user_id) for i, event in enumerate(events)])
            for event in events:
                ledger.apply(event)
            return decision.entry

        with self._locks[user_id]:
            return decide_and_append(lambda: self._current(user_id), record,
                                     on_conflict=lambda: self._cache.pop(user_id, None))

    def spend(self, user_id: str, amount: int, key: str, metadata: UsageMetadata | dict | None = None,
              reason: str | None = None) -> LedgerEntry | None:
        return self._change(user_id, lambda ledger: ledger.spend(amount, key, metadata, reason=reason))

    def grant(self, user_id: str, amount: int, key: str, reason: str | None = None,
              admin_id: str | None = None) -> LedgerEntry | None:
        return self._change(user_id, lambda ledger: ledger.grant(amount, key, reason, admin_id))

    def top_up(self, user_id: str, amount: int, key: str) -> LedgerEntry | None:
        return self._change(user_id, lambda ledger: ledger.top_up(amount, key))

    # -- reads with policy ---------------------------------------------------------------------

    def balance(self, user_id: str) -> int:
        """The balance after applying the sign-up grant and the monthly refill, if configured.

        The stream's head is read before the user's lock is taken: every execute reads the
        balance, and a burst of one user's requests would otherwise queue on that lock one
        database round trip at a time. A cached ledger at that head, with no grant or refill
        due, is the answer as of the read."""
        head = self.store.stream_version(ledger_stream_id(user_id))
        with self._locks[user_id]:
            cached = self._cache.get(user_id)
            if cached is not None and cached.stream_version == head and not self._policy_due(cached):
                return cached.balance
            ledger = self._current(user_id)
            if not self._policy_due(ledger):
                return ledger.balance
            if self._signup_due(ledger):
                self.grant(user_id, self.signup_credits, f"SIGNUP-{user_id}", "Sign-up credits")
            if self._refill_due(ledger):
                self._change(user_id, lambda lg: lg.monthly_refill(self.monthly_refill, self.today()))
            return self._current(user_id).balance

    def _signup_due(self, ledger: Ledger) -> bool:
        return self.signup_credits > 0 and ledger.entry_count == 0

    def _refill_due(self, ledger: Ledger) -> bool:
        return self.monthly_refill > 0 and (ledger.last_refill_month or "") < f"{self.today():%Y-%m}"

    def _policy_due(self, ledger: Ledger) -> bool:
        """A sign-up grant or a monthly refill to record before the balance is read."""
        return self._signup_due(ledger) or self._refill_due(ledger)


def _folded(ledger: Ledger, events: list) -> Ledger:
    """The ledger as it will be once ``events`` are recorded (to snapshot right after them)."""
    after = copy.deepcopy(ledger)
    for event in events:
        after.apply(event)
    return after
