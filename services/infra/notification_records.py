"""A notification's stream against the store, shared by the notifier and the command API: recording
a derived notification exactly once, loading one, changing one, and the ZERO_BALANCE rule's
inputs read from the ledger.

The notification's stream id comes from its type and source event, and ``NotificationRecorded`` is
always version 1, so the store itself refuses a second copy, whichever process or replayed batch
tries: a taken version means "already recorded" and is not an error.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from schemas.events.base import Event
from schemas.events.notifications import NotificationRecorded
from services.domain.credits.ledger import ledger_stream_id
from services.domain.notifications import derive
from services.domain.notifications.ids import notification_id
from services.domain.notifications.notification import Notification
from services.infra.appending import decide_and_append
from services.infra.eventstore import EventStore
from services.infra.ledger_service import LedgerService
from services.infra.store_contract import ConcurrencyConflict, NewEvent


def _recorded(derived: derive.Derived) -> NewEvent:
    stream_id = notification_id(derived.notification_type, derived.source_context, derived.source_stream_id,
                                derived.source_version)
    event = NotificationRecorded(user_id=derived.user_id, notification_type=derived.notification_type,
                                 data=derived.data, source_context=derived.source_context,
                                 source_stream_id=derived.source_stream_id, source_version=derived.source_version)
    return NewEvent(stream_id, 1, event, user_id=derived.user_id)


def record(store: EventStore, derived: derive.Derived) -> uuid.UUID | None:
    """The new notification's id, or None when it was recorded before."""
    new = _recorded(derived)
    try:
        store.append([new])
    except ConcurrencyConflict:
        return None
    return new.stream_id


def record_all(store: EventStore, derived: Sequence[derive.Derived]) -> list[uuid.UUID | None]:
    """``record`` for each, in order. One append takes them all when none was recorded before (the
    usual case); where one was (a batch replayed after a crash), they go one by one."""
    new = [_recorded(d) for d in derived]
    if not new:
        return []
    try:
        store.append(new)
    except ConcurrencyConflict:
        return [record(store, d) for d in derived]
    return [item.stream_id for item in new]


def load(store: EventStore, stream_id: uuid.UUID) -> Notification:
    events = store.read_stream(stream_id)
    return Notification.from_events(str(stream_id), ((e.decode(), e.occurred_at) for e in events))


def change(store: EventStore, stream_id: uuid.UUID, decide: Callable[[Notification], list[Event]]) -> Notification:
    """Load, let ``decide`` pick the events, append them at the next versions (deciding again on
    fresh state after a lost race); the notification as recorded."""
    def append(note: Notification) -> Notification:
        new = [NewEvent(stream_id, note.stream_version + i + 1, event, user_id=note.user_id)
               for i, event in enumerate(decide(note))]
        if new:
            store.append(new)
            for item in new:
                note.apply(item.event, item.occurred_at)
        return note

    return decide_and_append(lambda: load(store, stream_id), append)


def zero_balance(ledger: LedgerService, user_id: str, agent_name: str, public_url: str) -> derive.Derived:
    """ZERO_BALANCE for ``user_id`` as their ledger stands now (keyed by its latest credit-adding entry)."""
    current = ledger.load(user_id)
    return derive.zero_balance(user_id=user_id, ledger_stream_id=str(ledger_stream_id(user_id)),
                               last_credit_version=current.last_credit_version, balance=current.balance,
                               agent_name=agent_name, shortfall=0, public_url=public_url)
