"""Stories of ``LedgerService``: grants, top-ups and spends with idempotency keys, refusals,
snapshots, and the sign-up and monthly-refill policies (with the clock a story sets)."""

from __future__ import annotations

from datetime import date

from schemas.events.credits import CreditsGranted, CreditsSpent, LedgerSnapshotTaken
from services.domain.credits.ledger import InsufficientBalance, ledger_stream_id
from services.domain.errors import ConflictError, InvalidCommand
from services.infra.ledger_service import LedgerService
from tests.stories.fakes import RacingWriter, Today
from tests.stories.world import expect


def _granted(key: str, amount: int, balance: int) -> CreditsGranted:
    return CreditsGranted(transaction_key=key, amount=amount, running_balance=balance)


def _spent(key: str, amount: int, balance: int) -> CreditsSpent:
    return CreditsSpent(transaction_key=key, amount=-amount, running_balance=balance)


class LedgerStories:
    def test_a_grant_records_the_entry_and_the_running_balance(self, world):
        alice, ledger = world.user("alice"), LedgerService(world.store("credits"))
        entry = world.when(lambda: ledger.grant(alice.id, 500, "g-1", reason="welcome", admin_id="admin-1"))
        world.then(expect("CreditsGranted", ledger_stream_id(alice.id), transaction_key="g-1", amount=500,
                          running_balance=500, reason="welcome", admin_id="admin-1"))
        assert (entry.transaction_type, entry.stream_version) == ("GRANT", 1)

    def test_a_repeated_key_records_nothing_and_answers_the_first_entry(self, world):
        alice, ledger = world.user("alice"), LedgerService(world.store("credits"))
        world.given(ledger_stream_id(alice.id), _granted("g-1", 500, 500), user_id=alice.id)
        entry = world.when(lambda: ledger.grant(alice.id, 500, "g-1"))
        world.then()
        assert (entry.amount, entry.stream_version) == (500, 1)
        world.refused(ConflictError, lambda: ledger.grant(alice.id, 700, "g-1"), match="different transaction")
        world.refused(ConflictError, lambda: ledger.spend(alice.id, 500, "g-1"), match="different transaction")

    def test_a_top_up_adds_paid_credits(self, world):
        alice, ledger = world.user("alice"), LedgerService(world.store("credits"))
        world.given(ledger_stream_id(alice.id), _granted("g-1", 100, 100), user_id=alice.id)
        world.when(lambda: ledger.top_up(alice.id, 1_000, "checkout-1"))
        world.then(expect("CreditsToppedUp", transaction_key="checkout-1", amount=1_000, running_balance=1_100))

    def test_a_spend_takes_from_the_balance_with_its_usage(self, world):
        alice, ledger = world.user("alice"), LedgerService(world.store("credits"))
        world.given(ledger_stream_id(alice.id), _granted("g-1", 500, 500), user_id=alice.id)
        world.when(lambda: ledger.spend(alice.id, 120, "node-1", {"graph_id": "g", "node_id": "n"}))
        world.then(expect("CreditsSpent", ledger_stream_id(alice.id), transaction_key="node-1", amount=-120,
                          running_balance=380, usage={"graph_id": "g", "node_id": "n"}))

    def test_a_redelivered_spend_is_charged_once(self, world):
        alice, ledger = world.user("alice"), LedgerService(world.store("credits"))
        world.given(ledger_stream_id(alice.id), _granted("g-1", 500, 500), _spent("node-1", 120, 380),
                    user_id=alice.id)
        assert world.when(lambda: ledger.spend(alice.id, 120, "node-1")).stream_version == 2
        world.then()

    def test_a_spend_over_the_balance_or_a_bad_amount_is_refused(self, world):
        alice, ledger = world.user("alice"), LedgerService(world.store("credits"))
        world.given(ledger_stream_id(alice.id), _granted("g-1", 100, 100), user_id=alice.id)
        refusal = world.refused(InsufficientBalance, lambda: ledger.spend(alice.id, 101, "node-1"))
        assert (refusal.balance, refusal.amount) == (100, 101)
        world.refused(InvalidCommand, lambda: ledger.spend(alice.id, -5, "node-2"))
        world.refused(InvalidCommand, lambda: ledger.grant(alice.id, 5, " "), match="transaction key")

    def test_a_spend_that_loses_a_race_is_decided_again_on_the_new_balance(self, world):
        alice, store = world.user("alice"), world.store("credits")
        world.given(ledger_stream_id(alice.id), _granted("g-1", 100, 100), user_id=alice.id)
        other_process = LedgerService(store)
        ledger = LedgerService(RacingWriter(store, lambda: other_process.spend(alice.id, 80, "node-rival")))
        world.when(lambda: ledger.spend(alice.id, 15, "node-mine"))
        world.then(expect("CreditsSpent", transaction_key="node-rival", running_balance=20),
                   expect("CreditsSpent", transaction_key="node-mine", running_balance=5))

    def test_every_nth_entry_is_followed_by_a_snapshot(self, world):
        alice, ledger = world.user("alice"), LedgerService(world.store("credits"), snapshot_every=3)
        world.given(ledger_stream_id(alice.id), _granted("g-1", 100, 100), _granted("g-2", 50, 150), user_id=alice.id)
        world.when(lambda: ledger.spend(alice.id, 30, "node-1"))
        world.then(expect("CreditsSpent", running_balance=120),
                   expect("LedgerSnapshotTaken", user_id=alice.id, balance=120, entry_count=3, stream_version=4))

    def test_loading_starts_at_the_latest_snapshot(self, world):
        """The snapshot, not the entries before it, decides (here they disagree on purpose)."""
        alice, ledger = world.user("alice"), LedgerService(world.store("credits"))
        world.given(ledger_stream_id(alice.id), _granted("g-1", 100, 100),
                    LedgerSnapshotTaken(user_id=alice.id, balance=40, entry_count=1, stream_version=2,
                                        usage_key_window=1000), user_id=alice.id)
        refusal = world.refused(InsufficientBalance, lambda: ledger.spend(alice.id, 50, "node-1"))
        assert refusal.balance == 40

    def test_sign_up_credits_are_granted_on_the_first_read_only(self, world):
        alice, ledger = world.user("alice"), LedgerService(world.store("credits"), signup_credits=250)
        assert world.when(lambda: ledger.balance(alice.id)) == 250
        world.then(expect("CreditsGranted", transaction_key=f"SIGNUP-{alice.id}", amount=250, running_balance=250))
        assert world.when(lambda: ledger.balance(alice.id)) == 250
        world.then()

    def test_the_monthly_refill_tops_up_once_a_month(self, world):
        alice, today = world.user("alice"), Today(date(2026, 12, 3))
        ledger = LedgerService(world.store("credits"), monthly_refill=1_000, today=today)
        world.given(ledger_stream_id(alice.id), _granted("g-1", 300, 300), user_id=alice.id)
        assert world.when(lambda: ledger.balance(alice.id)) == 1_000
        world.then(expect("CreditsGranted", transaction_key="MONTHLY-CREDIT-TOP-UP-2026-12-03", amount=700,
                          running_balance=1_000, refill_month="2026-12"))
        ledger.spend(alice.id, 400, "node-1")
        today.day = date(2026, 12, 28)
        assert world.when(lambda: ledger.balance(alice.id)) == 600
        world.then()
        today.day = date(2027, 1, 2)
        assert world.when(lambda: ledger.balance(alice.id)) == 1_000
        world.then(expect("CreditsGranted", amount=400, refill_month="2027-01"))
