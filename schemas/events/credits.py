"""Events of the credits context (stream = one user's ledger, id ``ledger_stream_id(user_id)``).

Each balance-changing event is one ledger entry, the equivalent of one AutoGPT
``CreditTransaction`` row: it records its idempotency key, the *signed* amount and the running
balance after it. The running balance is recorded rather than recomputed on read so projections
(transaction history, balance view) can show it without folding the whole stream, and so the
command side can never disagree with what a user already saw.

Amounts are integer credits; 1 credit = 1 US cent (AutoGPT's unit).

``LedgerSnapshotTaken`` lives in the same stream. Folding the whole stream or only the tail that
starts at the latest snapshot yields the same aggregate, because the aggregate remembers
idempotency keys by the same rule in both cases (see ``services.command_api.domain.ledger``).
Projections that list transactions simply ignore it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.events.base import Event


class TransactionType(StrEnum):
    """AutoGPT's ``CreditTransactionType`` names; they appear verbatim in the REST API."""

    TOP_UP = "TOP_UP"
    USAGE = "USAGE"
    GRANT = "GRANT"
    REFUND = "REFUND"
    CARD_CHECK = "CARD_CHECK"


class UsageMetadata(BaseModel):
    """What a USAGE entry was for (AutoGPT's ``UsageTransactionMetadata`` minus ``reason``,
    which every entry carries at the top level)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    graph_id: str | None = None
    graph_version: int | None = None
    graph_exec_id: str | None = None
    node_exec_id: str | None = None
    node_id: str | None = None
    block_id: str | None = None
    block: str | None = None
    input: dict[str, Any] | None = None  # the cost_filter that matched, not the full input


class CreditsEvent(Event):
    CONTEXT: ClassVar[str] = "credits"


class LedgerEntryEvent(CreditsEvent):
    """Fields shared by every balance-changing event (no TYPE: never recorded as such)."""

    transaction_key: str
    amount: int  # signed: positive adds credits, negative removes them
    running_balance: int  # the balance right after this entry
    reason: str | None = None


class CreditsGranted(LedgerEntryEvent):
    """Free credits: an admin grant, an onboarding reward or the monthly refill (GRANT).

    ``refill_month`` ("YYYY-MM") is set only on monthly refills so the ledger can enforce
    "at most once per calendar month" without parsing keys. ``amount`` may be 0 for a refill
    when the balance was already at or above the target: the entry still marks the month done.
    """

    TYPE: ClassVar[str] = "CreditsGranted"
    admin_id: str | None = None
    refill_month: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class CreditsToppedUp(LedgerEntryEvent):
    """Paid credits (TOP_UP), recorded once the payment is settled."""

    TYPE: ClassVar[str] = "CreditsToppedUp"
    top_up_type: str = "UNCATEGORIZED"  # AutoGPT TopUpType: AUTO | MANUAL | UNCATEGORIZED
    metadata: dict[str, Any] = Field(default_factory=dict)


class CreditsSpent(LedgerEntryEvent):
    """Usage (USAGE): a block run or the per-execution surcharge. ``amount`` is negative."""

    TYPE: ClassVar[str] = "CreditsSpent"
    usage: UsageMetadata = Field(default_factory=UsageMetadata)


class CreditsRefunded(LedgerEntryEvent):
    """Money returned to the user for a top-up (REFUND). ``amount`` is negative.

    ``requested_amount`` is what the refund asked to deduct; ``amount`` is what was actually
    deducted, which is less when the balance would otherwise go below zero (the money has
    already left, so the deduction is clamped rather than refused).
    """

    TYPE: ClassVar[str] = "CreditsRefunded"
    top_up_key: str
    requested_amount: int
    metadata: dict[str, Any] = Field(default_factory=dict)


ENTRY_TYPES: dict[type[LedgerEntryEvent], TransactionType] = {
    CreditsGranted: TransactionType.GRANT,
    CreditsToppedUp: TransactionType.TOP_UP,
    CreditsSpent: TransactionType.USAGE,
    CreditsRefunded: TransactionType.REFUND,
}


class LedgerEntry(BaseModel):
    """One ledger entry in a form independent of its event class.

    Used by the aggregate to answer a repeated idempotency key with the first result, inside
    snapshots, and as the input of the transaction-history mapping.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    transaction_key: str
    transaction_type: TransactionType
    amount: int
    running_balance: int
    stream_version: int  # position of the entry's event in the ledger stream
    reason: str | None = None
    admin_id: str | None = None
    refill_month: str | None = None
    top_up_key: str | None = None
    requested_amount: int | None = None
    top_up_type: str | None = None
    usage: UsageMetadata | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_event(cls, event: LedgerEntryEvent, stream_version: int) -> LedgerEntry:
        data = event.model_dump(exclude={"transaction_key", "amount", "running_balance", "reason"})
        return cls(transaction_key=event.transaction_key, transaction_type=ENTRY_TYPES[type(event)],
                   amount=event.amount, running_balance=event.running_balance, reason=event.reason,
                   stream_version=stream_version, **data)


class LedgerSnapshotTaken(CreditsEvent):
    """The ledger's whole decision state at ``stream_version`` (this event's own version).

    ``entries`` holds every entry the ledger still answers idempotently for: all GRANT, TOP_UP
    and REFUND entries (few, long-lived keys such as Stripe session ids and onboarding rewards)
    and the most recent USAGE entries within the ledger's usage-key window.
    """

    TYPE: ClassVar[str] = "LedgerSnapshotTaken"
    user_id: str
    balance: int
    entry_count: int
    stream_version: int
    last_refill_month: str | None = None
    usage_key_window: int
    entries: list[LedgerEntry] = Field(default_factory=list)
