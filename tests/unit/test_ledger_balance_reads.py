"""The balance read on every execute: concurrent reads of one user's balance do not queue on the
user's ledger lock for their store round trip (``LedgerService.balance``)."""

from __future__ import annotations

import threading

from services.infra.ledger_service import LedgerService
from services.infra.memory_eventstore import MemoryEventStore


class MeetingStore(MemoryEventStore):
    """``stream_version`` returns only once two readers are inside it at the same time: a
    balance read that held the user's lock around it would never let the second one in."""

    def __init__(self) -> None:
        super().__init__("credits")
        self.meet: threading.Barrier | None = None

    def stream_version(self, stream_id):
        if self.meet is not None:
            self.meet.wait(timeout=5)
        return super().stream_version(stream_id)


def test_two_balance_reads_of_one_user_are_in_the_store_at_once():
    store = MeetingStore()
    ledger = LedgerService(store)
    ledger.grant("u1", 50, "G-1")
    assert ledger.balance("u1") == 50  # cached at the head
    store.meet = threading.Barrier(2)
    answers: list[int] = []
    readers = [threading.Thread(target=lambda: answers.append(ledger.balance("u1"))) for _ in range(2)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=10)
    assert not store.meet.broken and answers == [50, 50]


def test_a_balance_read_sees_a_spend_recorded_elsewhere():
    """The cached ledger is only the answer at the head it was read at: another writer's spend
    (another process, same store) moves the head and is folded in."""
    store = MemoryEventStore("credits")
    reader, writer = LedgerService(store), LedgerService(store)
    writer.grant("u1", 50, "G-1")
    assert reader.balance("u1") == 50
    writer.spend("u1", 20, "S-1")
    assert reader.balance("u1") == 30
