"""Ledger aggregate: given recorded events, when a command, then new events (COMPAT §6)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from schemas.events import decode_payload
from schemas.events.base import Event
from schemas.events.credits import (
    CreditsGranted,
    CreditsRefunded,
    CreditsSpent,
    CreditsToppedUp,
    LedgerSnapshotTaken,
    TransactionType,
    UsageMetadata,
)
from services.domain.credits.ledger import (
    MAX_BALANCE,
    Decision,
    InsufficientBalance,
    Ledger,
    ledger_stream_id,
)
from services.domain.errors import ConflictError, InvalidCommand, NotFoundError
from services.query_api.read_models.credit_transactions import MAX_TIME, group_transactions, to_user_transaction

USER = "user-1"


def given(*events: Event, window: int = 1000) -> Ledger:
    return Ledger.from_events(USER, list(events), usage_key_window=window)


def record(ledger: Ledger, decision: Decision) -> Decision:
    """What the command handler does: append the events, then fold them in."""
    for event in decision.events:
        ledger.apply(event)
    return decision


def granted(amount: int, key: str, balance: int) -> CreditsGranted:
    return CreditsGranted(transaction_key=key, amount=amount, running_balance=balance)


def spent(amount: int, key: str, balance: int) -> CreditsSpent:
    return CreditsSpent(transaction_key=key, amount=-amount, running_balance=balance)


# -- stream id ----------------------------------------------------------------------------------


def test_stream_id_is_stable_per_user():
    assert ledger_stream_id("a") == ledger_stream_id("a")
    assert ledger_stream_id("a") != ledger_stream_id("b")
    assert isinstance(ledger_stream_id("a"), uuid.UUID)


# -- grant / spend ------------------------------------------------------------------------------


def test_grant_then_spend_records_running_balances():
    ledger = given()
    grant = record(ledger, ledger.grant(1000, "g1", reason="welcome", admin_id="admin-1"))
    assert grant.events == [CreditsGranted(transaction_key="g1", amount=1000, running_balance=1000,
                                           reason="welcome", admin_id="admin-1")]
    meta = UsageMetadata(graph_id="g", graph_exec_id="e", node_exec_id="ne", node_id="n",
                         block_id="b", block="LLM", input={"model": "gpt-4o"})
    spend = record(ledger, ledger.spend(3, "ne", meta, reason="Ran block b LLM"))
    assert spend.events == [CreditsSpent(transaction_key="ne", amount=-3, running_balance=997,
                                         reason="Ran block b LLM", usage=meta)]
    assert spend.entry.transaction_type is TransactionType.USAGE
    assert spend.entry.running_balance == 997 and spend.entry.stream_version == 2
    assert (ledger.balance, ledger.entry_count, ledger.stream_version) == (997, 2, 2)


def test_running_balances_follow_every_entry_kind():
    ledger = given()
    record(ledger, ledger.top_up(500, "cs_1", top_up_type="MANUAL"))
    record(ledger, ledger.grant(100, "REWARD-user-1-step"))
    record(ledger, ledger.spend(550, "s1"))
    refund = record(ledger, ledger.refund(40, "re_1", top_up_key="cs_1"))
    assert [e.running_balance for e in ledger.remembered_entries()] == [500, 600, 50, 10]
    assert refund.events == [CreditsRefunded(transaction_key="re_1", amount=-40, running_balance=10,
                                             top_up_key="cs_1", requested_amount=40)]


def test_spend_over_balance_is_refused_with_autogpt_message():
    ledger = given(granted(10, "g", 10))
    with pytest.raises(InsufficientBalance) as refused:
        ledger.spend(50, "s")
    assert refused.value.message == "Insufficient balance of $0.1, where this will cost $0.5"
    assert (refused.value.balance, refused.value.amount) == (10, 50)
    with pytest.raises(InsufficientBalance, match=r"^Insufficient balance of \$0\.0, where this will cost \$1\.0$"):
        given().spend(100, "s")


def test_spending_the_whole_balance_is_allowed():
    decision = given(granted(10, "g", 10)).spend(10, "s")
    assert decision.events[0].running_balance == 0


def test_zero_spend_is_a_no_op():
    assert given().spend(0, "s") == Decision([], None)


@pytest.mark.parametrize("amount", [-1, 1.5, "3", True, None, MAX_BALANCE + 1])
def test_invalid_amounts_are_refused(amount):
    ledger = given(granted(100, "g", 100))
    for command in (lambda: ledger.grant(amount, "k"), lambda: ledger.top_up(amount, "k"),
                    lambda: ledger.spend(amount, "k")):
        with pytest.raises(InvalidCommand):
            command()


def test_zero_grant_and_empty_key_are_refused():
    with pytest.raises(InvalidCommand):
        given().grant(0, "k")
    with pytest.raises(InvalidCommand):
        given().top_up(5, "  ")


def test_balance_cap():
    with pytest.raises(InvalidCommand):
        given(granted(MAX_BALANCE, "g", MAX_BALANCE)).top_up(1, "t")


# -- idempotency --------------------------------------------------------------------------------


def test_repeated_key_records_nothing_and_returns_first_entry():
    ledger = given(granted(100, "g", 100))
    first = record(ledger, ledger.spend(30, "node-exec-1"))
    again = ledger.spend(30, "node-exec-1")
    assert again.events == [] and again.repeated
    assert again.entry == first.entry
    # even when the balance could no longer pay for it
    record(ledger, ledger.spend(70, "node-exec-2"))
    assert ledger.spend(30, "node-exec-1").entry.running_balance == 70


def test_repeated_grant_and_top_up_keys():
    ledger = given(granted(100, "REWARD-u-1", 100))
    assert ledger.grant(100, "REWARD-u-1").repeated
    record(ledger, ledger.top_up(500, "cs_1"))
    assert ledger.top_up(500, "cs_1").entry.running_balance == 600


def test_key_reused_for_a_different_transaction_is_a_conflict():
    ledger = given(granted(100, "k", 100))
    with pytest.raises(ConflictError):
        ledger.spend(5, "k")
    with pytest.raises(ConflictError):
        ledger.grant(99, "k")


def test_usage_keys_are_remembered_within_the_window_only():
    ledger = given(granted(100, "g", 100), window=2)
    for key in ("a", "b", "c"):
        record(ledger, ledger.spend(1, key))
    assert ledger.entry("a") is None  # fell out of the window
    assert ledger.spend(1, "c").repeated and ledger.spend(1, "b").repeated
    assert ledger.entry("g") is not None  # grants are kept forever


# -- refunds ------------------------------------------------------------------------------------


def test_refund_needs_a_known_top_up_and_a_refundable_amount():
    ledger = given(CreditsToppedUp(transaction_key="cs_1", amount=500, running_balance=500))
    with pytest.raises(NotFoundError):
        ledger.refund(10, "re_x", top_up_key="missing")
    record(ledger, ledger.refund(400, "re_1", top_up_key="cs_1"))
    with pytest.raises(InvalidCommand):
        ledger.refund(101, "re_2", top_up_key="cs_1")
    assert ledger.refund(400, "re_1", top_up_key="cs_1").repeated


def test_refund_is_clamped_at_zero():
    ledger = given(CreditsToppedUp(transaction_key="cs_1", amount=500, running_balance=500),
                   spent(450, "s", 50))
    event = ledger.refund(500, "re_1", top_up_key="cs_1").events[0]
    assert (event.amount, event.running_balance, event.requested_amount) == (-50, 0, 500)


# -- monthly refill -----------------------------------------------------------------------------


def test_monthly_refill_tops_up_to_target_once_per_month():
    ledger = given(granted(200, "g", 200))
    first = record(ledger, ledger.monthly_refill(1500, date(2025, 3, 4)))
    assert first.events == [CreditsGranted(transaction_key="MONTHLY-CREDIT-TOP-UP-2025-03-04", amount=1300,
                                           running_balance=1500, reason="Monthly credit refill",
                                           refill_month="2025-03")]
    record(ledger, ledger.spend(1000, "s"))
    again = ledger.monthly_refill(1500, date(2025, 3, 28))
    assert again.events == [] and again.entry == first.entry
    april = ledger.monthly_refill(1500, datetime(2025, 4, 1, 9, tzinfo=UTC))
    assert april.events[0].transaction_key == "MONTHLY-CREDIT-TOP-UP-2025-04-01"
    assert april.events[0].amount == 1000


def test_monthly_refill_grants_nothing_above_target_but_marks_the_month():
    ledger = given(granted(2000, "g", 2000))
    decision = record(ledger, ledger.monthly_refill(1500, date(2025, 3, 1)))
    assert (decision.events[0].amount, ledger.balance) == (0, 2000)
    record(ledger, ledger.spend(1900, "s"))
    assert ledger.monthly_refill(1500, date(2025, 3, 20)).events == []


# -- snapshots ----------------------------------------------------------------------------------


def build_history(ledger: Ledger) -> list[Event]:
    history: list[Event] = []
    for decision in (ledger.top_up(1000, "cs_1"), ledger.monthly_refill(1500, date(2025, 1, 2))):
        history += record(ledger, decision).events
    for i in range(8):
        history += record(ledger, ledger.spend(7, f"node-{i}")).events
    return history


def test_snapshot_plus_tail_folds_like_the_whole_stream():
    ledger = given(window=5)
    history = build_history(ledger)
    assert ledger.should_snapshot(every=10) and not ledger.should_snapshot(every=11)
    snapshot = ledger.snapshot()
    history += record(ledger, Decision(snapshot, None)).events
    assert not ledger.should_snapshot(every=1)
    tail: list[Event] = []
    for make in (lambda lg: lg.spend(5, "after-1"), lambda lg: lg.grant(3, "after-2")):
        tail += record(ledger, make(ledger)).events
    full = given(*history, *tail, window=5)
    fast = given(*snapshot, *tail, window=5)
    for loaded in (full, fast):
        assert loaded.balance == ledger.balance == 1500 - 56 - 5 + 3
        assert loaded.stream_version == ledger.stream_version == len(history) + len(tail)
        assert loaded.entry_count == 12 and loaded.last_refill_month == "2025-01"
        assert loaded.remembered_entries() == ledger.remembered_entries()
        assert loaded.spend(7, "node-7").repeated  # used before the snapshot, still in the window
        assert loaded.top_up(1000, "cs_1").repeated  # non-usage keys survive any snapshot
        assert loaded.entry("node-0") is None  # evicted the same way with or without a snapshot
        assert loaded.monthly_refill(1500, date(2025, 1, 30)).events == []


def test_snapshot_survives_serialisation():
    ledger = given()
    build_history(ledger)
    (snapshot,) = ledger.snapshot()
    stored = snapshot.model_dump(mode="json")
    restored = decode_payload(LedgerSnapshotTaken.TYPE, 1, stored)
    assert restored == snapshot
    assert Ledger.from_events(USER, [restored]).remembered_entries() == ledger.remembered_entries()


# -- transaction rows ---------------------------------------------------------------------------


def test_user_transaction_rows():
    ledger = given()
    top = record(ledger, ledger.top_up(500, "cs_1")).entry
    meta = {"graph_id": "0123456789abcdef", "graph_exec_id": "exec-1"}
    s1 = record(ledger, ledger.spend(3, "n1", meta)).entry
    s2 = record(ledger, ledger.spend(2, "n2", meta)).entry
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    t1, t2 = t0.replace(hour=1), t0.replace(hour=2)

    row = to_user_transaction(top, user_id=USER, transaction_time=t0, current_balance=495, user_email="u@x")
    assert row["description"] == "TOP_UP Transaction" and row["usage_start_time"] == MAX_TIME
    assert (row["transaction_key"], row["amount"], row["running_balance"], row["current_balance"]) == (
        "cs_1", 500, 500, 495)
    usage = to_user_transaction(s1, user_id=USER, transaction_time=t1)
    assert usage["description"] == "Graph #01234567 Execution" and usage["usage_node_count"] == 1
    assert set(usage) == {"transaction_key", "transaction_time", "transaction_type", "amount",
                          "running_balance", "current_balance", "description", "usage_graph_id",
                          "usage_execution_id", "usage_node_count", "usage_start_time", "user_id",
                          "user_email", "reason", "admin_email", "extra_data"}

    grouped = group_transactions([(s2, t2), (s1, t1), (top, t0)], user_id=USER)
    assert len(grouped) == 2
    assert grouped[0]["amount"] == -5 and grouped[0]["usage_node_count"] == 2
    assert grouped[0]["running_balance"] == 495 and grouped[0]["usage_start_time"] == t1
    assert grouped[0]["transaction_key"] == "" and grouped[0]["usage_execution_id"] == "exec-1"
    assert grouped[1]["transaction_key"] == "cs_1"
