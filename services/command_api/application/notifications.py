"""Notification commands: mark one read, and record ZERO_BALANCE for a run refused up front.

Marking read loads the notification's stream and lets the aggregate decide: only its owner may,
anyone else is told it does not exist. The refusal case is the one notification the command side
records itself, because a refused run leaves no event for the notifier to react to; it uses the
same rule (``derive.zero_balance``) and the same exactly-once recording as the notifier, keyed by
the ledger's latest credit-adding entry, so a user hammering "run" at a zero balance gets one
notification until they top up.
"""

from __future__ import annotations

import uuid
from typing import Any

from services.domain.credits.ledger import ledger_stream_id
from services.domain.notifications import derive
from services.domain.notifications.notification import Notification
from services.domain.notifications.shapes import notification_view
from services.infra.appending import decide_and_append
from services.infra.auth import User
from services.infra.eventstore import EventStore
from services.infra.ledger_service import LedgerService
from services.infra.notification_records import record
from services.infra.store_contract import NewEvent


def view(note: Notification) -> dict[str, Any]:
    detail = note.skip_reason.value if note.skip_reason else (note.email_error if not note.email_done else None)
    return notification_view(notification_id=note.notification_id, notification_type=note.notification_type,
                             data=note.data, created_at=note.created_at, read_at=note.read_at,
                             email_status=note.email_status, email_attempts=note.email_attempts,
                             email_detail=detail)


class NotificationCommands:
    def __init__(self, store: EventStore, ledger: LedgerService | None, public_url: str) -> None:
        self.store = store
        self.ledger = ledger
        self.public_url = public_url

    def load(self, notification_id: uuid.UUID) -> Notification:
        events = self.store.read_stream(notification_id)
        return Notification.from_events(str(notification_id), ((e.decode(), e.occurred_at) for e in events))

    def mark_read(self, user: User, notification_id: uuid.UUID) -> dict[str, Any]:
        def decide(note: Notification) -> Notification:
            new = [NewEvent(notification_id, note.stream_version + i + 1, event, user_id=user.id)
                   for i, event in enumerate(note.mark_read(user.id))]
            if new:
                self.store.append(new)
                for item in new:
                    note.apply(item.event, item.occurred_at)
            return note

        return view(decide_and_append(lambda: self.load(notification_id), decide))

    def run_refused_for_credits(self, user: User, agent_name: str) -> None:
        if self.ledger is None:
            return
        ledger = self.ledger.load(user.id)
        record(self.store, derive.zero_balance(
            user_id=user.id, ledger_stream_id=str(ledger_stream_id(user.id)),
            last_credit_version=ledger.last_credit_version, balance=ledger.balance, agent_name=agent_name,
            shortfall=0, public_url=self.public_url))
