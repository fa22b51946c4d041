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

from services.domain.notifications.notification import Notification
from services.domain.notifications.shapes import notification_view
from services.infra import notification_records
from services.infra.auth import User
from services.infra.eventstore import EventStore
from services.infra.ledger_service import LedgerService


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

    def mark_read(self, user: User, notification_id: uuid.UUID) -> dict[str, Any]:
        return view(notification_records.change(self.store, notification_id, lambda note: note.mark_read(user.id)))

    def run_refused_for_credits(self, user: User, agent_name: str) -> None:
        if self.ledger is not None:
            notification_records.record(self.store, notification_records.zero_balance(
                self.ledger, user.id, agent_name, self.public_url))
