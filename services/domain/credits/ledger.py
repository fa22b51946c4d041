"""The Ledger aggregate: one user's credit balance and the entries that moved it (COMPAT §6).

Pure: state is folded from recorded events; each decision returns a ``Decision`` holding the new
events to record and the entry they create. Recording them with optimistic concurrency on the
ledger stream is what serialises concurrent spends (AutoGPT locks the balance row instead).

Rules kept from AutoGPT:
- the balance never goes below zero through a spend: such a spend is refused with AutoGPT's
  "Insufficient balance of $X, where this will cost $Y";
- a transaction key is used at most once per user. Repeating it records nothing and answers with
  the first entry, so a retried request (a redelivered node charge, a replayed Stripe webhook)
  gets the same answer as the original. Reusing a key for a *different* transaction is a conflict;
- spending 0 is a no-op;
- the monthly refill grants ``max(target - balance, 0)`` under the key
  ``MONTHLY-CREDIT-TOP-UP-{YYYY-MM-DD}`` at most once per calendar month;
- a refund deducts at most what the top-up paid, and is clamped at zero rather than refused
  because the money has already gone back to the user.

Idempotency memory and snapshots. GRANT, TOP_UP and REFUND keys are remembered forever: they are
few and their retries can come months later (onboarding rewards, Stripe webhooks). USAGE keys
are remembered for the most recent ``usage_key_window`` USAGE entries only: they are the bulk of
a long history, and their retries (redelivery, an executor taking over a run) come within
moments. The window is applied while folding, not only when snapshotting, so a ledger loaded
from a snapshot plus its tail decides exactly as one folded from the first event.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from schemas.events.base import Event
from schemas.events.credits import (
    CreditsGranted,
    CreditsRefunded,
    CreditsSpent,
    CreditsToppedUp,
    LedgerEntry,
    LedgerEntryEvent,
    LedgerSnapshotTaken,
    TransactionType,
    UsageMetadata,
)
from services.domain.errors import ConflictError, InsufficientCredits, InvalidCommand, NotFoundError

LEDGER_NAMESPACE = uuid.UUID("2fb79def-2301-4448-bd0f-a008ee1bc9bd")
MAX_BALANCE = 2**31 - 1  # AutoGPT keeps balances in a 32-bit integer column
MAX_KEY_LENGTH = 512
USAGE_KEY_WINDOW = 1000
SNAPSHOT_EVERY = 1000  # the one default: settings, the ledger service and this check use it
MONTHLY_REFILL_REASON = "Monthly credit refill"


def ledger_stream_id(user_id: str) -> uuid.UUID:
    """The ledger stream of a user: stable, so any service can find it from the user id alone."""
    return uuid.uuid5(LEDGER_NAMESPACE, f"ledger:{user_id}")


def monthly_refill_key(day: date) -> str:
    return f"MONTHLY-CREDIT-TOP-UP-{day.isoformat()}"


def dollars(amount: int) -> str:
    """AutoGPT's money format in messages: credits are cents, printed as ``$credits/100``."""
    return f"${amount / 100}"


class InsufficientBalance(InsufficientCredits):
    """A spend would take the balance below zero (HTTP 402 at the API)."""

    def __init__(self, balance: int, amount: int) -> None:
        super().__init__(f"Insufficient balance of {dollars(balance)}, "
                         f"where this will cost {dollars(abs(amount))}")
        self.balance = balance
        self.amount = amount


class Decision(NamedTuple):
    """Events to record, and the entry that answers the command.

    ``entry`` is the new entry when ``events`` is non-empty, the first entry for a repeated key,
    or None when nothing happened (a zero spend).
    """

    events: list[Event]
    entry: LedgerEntry | None

    @property
    def repeated(self) -> bool:
        return not self.events and self.entry is not None


def _check_amount(amount: Any, *, allow_zero: bool = False) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidCommand("Amount must be a whole number of credits")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidCommand("Amount must be positive" if not allow_zero else "Amount must not be negative")
    if amount > MAX_BALANCE:
        raise InvalidCommand(f"Amount must be at most {MAX_BALANCE}")
    return amount


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key.strip():
        raise InvalidCommand("A transaction key is required")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidCommand(f"A transaction key must be at most {MAX_KEY_LENGTH} characters")
    return key


@dataclass
class Ledger:
    user_id: str
    balance: int = 0
    entry_count: int = 0
    stream_version: int = 0
    last_refill_month: str | None = None
    events_since_snapshot: int = 0
    usage_key_window: int = USAGE_KEY_WINDOW
    _kept: dict[str, LedgerEntry] = field(default_factory=dict, repr=False)
    _recent_usage: OrderedDict[str, LedgerEntry] = field(default_factory=OrderedDict, repr=False)

    # -- folding ------------------------------------------------------------------------------

    @classmethod
    def from_events(cls, user_id: str, events: Iterable[Event],
                    usage_key_window: int = USAGE_KEY_WINDOW) -> Ledger:
        """Fold the whole stream, or only the tail that starts at the latest snapshot."""
        ledger = cls(user_id, usage_key_window=usage_key_window)
        for event in events:
            ledger.apply(event)
        return ledger

    def apply(self, event: Event) -> None:
        self.stream_version += 1
        if isinstance(event, LedgerSnapshotTaken):
            self._restore(event)
            return
        self.events_since_snapshot += 1
        if isinstance(event, LedgerEntryEvent):
            self.balance = event.running_balance
            self.entry_count += 1
            self._remember(LedgerEntry.from_event(event, self.stream_version))
            if isinstance(event, CreditsGranted) and event.refill_month:
                self.last_refill_month = max(event.refill_month, self.last_refill_month or "")

    def _restore(self, snap: LedgerSnapshotTaken) -> None:
        self.balance = snap.balance
        self.entry_count = snap.entry_count
        self.stream_version = snap.stream_version
        self.last_refill_month = snap.last_refill_month
        self.events_since_snapshot = 0
        self._kept = {}
        self._recent_usage = OrderedDict()
        for entry in sorted(snap.entries, key=lambda e: e.stream_version):
            self._remember(entry)

    def _remember(self, entry: LedgerEntry) -> None:
        if entry.transaction_type is not TransactionType.USAGE:
            self._kept[entry.transaction_key] = entry
            return
        self._recent_usage[entry.transaction_key] = entry
        while len(self._recent_usage) > self.usage_key_window:
            self._recent_usage.popitem(last=False)

    # -- queries ------------------------------------------------------------------------------

    def entry(self, transaction_key: str) -> LedgerEntry | None:
        """The remembered entry recorded under this key, if any."""
        kept = self._kept.get(transaction_key)
        return kept if kept is not None else self._recent_usage.get(transaction_key)

    def remembered_entries(self) -> list[LedgerEntry]:
        return sorted([*self._kept.values(), *self._recent_usage.values()], key=lambda e: e.stream_version)

    @property
    def last_credit_version(self) -> int:
        """Stream version of the latest entry that added credits (a grant or a top-up; 0 if none).
        Marks the "since the last top-up" period a ZERO_BALANCE notification is sent once in;
        GRANT and TOP_UP entries survive snapshots, so folding from one gives the same answer."""
        return max((e.stream_version for e in self._kept.values() if e.amount > 0), default=0)

    def refunded_amount(self, top_up_key: str) -> int:
        return sum(e.requested_amount or 0 for e in self._kept.values()
                   if e.transaction_type is TransactionType.REFUND and e.top_up_key == top_up_key)

    # -- decisions ----------------------------------------------------------------------------

    def _repeat(self, key: str, kind: TransactionType, same: Any) -> Decision | None:
        existing = self.entry(key)
        if existing is None:
            return None
        if existing.transaction_type is not kind or not same(existing):
            raise ConflictError(f"Transaction key {key!r} was already used for a different transaction")
        return Decision([], existing)

    def _decide(self, event: LedgerEntryEvent) -> Decision:
        return Decision([event], LedgerEntry.from_event(event, self.stream_version + 1))

    def _credited(self, amount: int) -> int:
        if self.balance + amount > MAX_BALANCE:
            raise InvalidCommand(f"The balance cannot exceed {dollars(MAX_BALANCE)}")
        return self.balance + amount

    def grant(self, amount: int, key: str, reason: str | None = None, admin_id: str | None = None,
              *, metadata: dict[str, Any] | None = None) -> Decision:
        """Free credits (admin grant, onboarding reward ``REWARD-{user}-{step}``...)."""
        amount, key = _check_amount(amount), _check_key(key)
        repeat = self._repeat(key, TransactionType.GRANT, lambda e: e.amount == amount)
        if repeat is not None:
            return repeat
        return self._decide(CreditsGranted(transaction_key=key, amount=amount,
                                           running_balance=self._credited(amount), reason=reason,
                                           admin_id=admin_id, metadata=dict(metadata or {})))

    def top_up(self, amount: int, key: str, *, top_up_type: str = "UNCATEGORIZED",
               reason: str | None = None, metadata: dict[str, Any] | None = None) -> Decision:
        """Paid credits, once the payment is settled (key: e.g. the checkout session id)."""
        amount, key = _check_amount(amount), _check_key(key)
        repeat = self._repeat(key, TransactionType.TOP_UP, lambda e: e.amount == amount)
        if repeat is not None:
            return repeat
        return self._decide(CreditsToppedUp(transaction_key=key, amount=amount,
                                            running_balance=self._credited(amount), reason=reason,
                                            top_up_type=top_up_type, metadata=dict(metadata or {})))

    def spend(self, amount: int, key: str, metadata: UsageMetadata | dict[str, Any] | None = None,
              *, reason: str | None = None) -> Decision:
        """Usage of ``amount`` credits; refused when the balance would go below zero."""
        amount, key = _check_amount(amount, allow_zero=True), _check_key(key)
        if amount == 0:
            return Decision([], None)
        repeat = self._repeat(key, TransactionType.USAGE, lambda e: e.amount == -amount)
        if repeat is not None:
            return repeat
        if self.balance - amount < 0:
            raise InsufficientBalance(self.balance, amount)
        usage = metadata if isinstance(metadata, UsageMetadata) else UsageMetadata.model_validate(metadata or {})
        return self._decide(CreditsSpent(transaction_key=key, amount=-amount,
                                         running_balance=self.balance - amount, reason=reason, usage=usage))

    def refund(self, amount: int, key: str, *, top_up_key: str, reason: str | None = None,
               metadata: dict[str, Any] | None = None) -> Decision:
        """Take back credits whose payment was refunded or lost in a dispute (key: refund id)."""
        amount, key = _check_amount(amount), _check_key(key)
        repeat = self._repeat(key, TransactionType.REFUND, lambda e: e.requested_amount == amount)
        if repeat is not None:
            return repeat
        top_up = self._kept.get(top_up_key)
        if top_up is None or top_up.transaction_type is not TransactionType.TOP_UP:
            raise NotFoundError(f"Top-up transaction {top_up_key} not found")
        refundable = top_up.amount - self.refunded_amount(top_up_key)
        if amount > refundable:
            raise InvalidCommand(f"Invalid amount to deduct {dollars(amount)} from "
                                 f"{dollars(refundable)} left on the {dollars(top_up.amount)} top-up")
        deducted = min(amount, max(self.balance, 0))
        return self._decide(CreditsRefunded(transaction_key=key, amount=-deducted,
                                            running_balance=self.balance - deducted, reason=reason,
                                            top_up_key=top_up_key, requested_amount=amount,
                                            metadata=dict(metadata or {})))

    def monthly_refill(self, refill_to: int, today: date) -> Decision:
        """Bring the balance up to ``refill_to`` once per calendar month (a GRANT, maybe of 0).

        A refill of 0 is still recorded: it marks the month as done, so a balance that drops
        later in the month is not refilled a second time.
        """
        refill_to = _check_amount(refill_to, allow_zero=True)
        day = today.date() if isinstance(today, datetime) else today
        month = f"{day:%Y-%m}"
        if self.last_refill_month is not None and self.last_refill_month >= month:
            done = [e for e in self._kept.values() if e.refill_month == self.last_refill_month]
            return Decision([], done[-1] if done else None)
        key = monthly_refill_key(day)
        amount = max(refill_to - self.balance, 0)
        repeat = self._repeat(key, TransactionType.GRANT, lambda e: True)
        if repeat is not None:
            return repeat
        return self._decide(CreditsGranted(transaction_key=key, amount=amount,
                                           running_balance=self._credited(amount),
                                           reason=MONTHLY_REFILL_REASON, refill_month=month))

    # -- snapshots ----------------------------------------------------------------------------

    def should_snapshot(self, pending: int = 0, every: int = SNAPSHOT_EVERY) -> bool:
        """Whether a snapshot should follow once ``pending`` more events are recorded."""
        return self.events_since_snapshot + pending >= every

    def snapshot(self) -> list[Event]:
        """A snapshot event to append next; loading may then start from it."""
        return [LedgerSnapshotTaken(user_id=self.user_id, balance=self.balance,
                                    entry_count=self.entry_count, stream_version=self.stream_version + 1,
                                    last_refill_month=self.last_refill_month,
                                    usage_key_window=self.usage_key_window,
                                    entries=self.remembered_entries())]
