"""Recording a derived notification, exactly once (shared by the notifier and the command API).

The notification's stream id comes from its type and source event, and ``NotificationRecorded`` is
always version 1, so the store itself refuses a second copy, whichever process or replayed batch
tries: a taken version means "already recorded" and is not an error.
"""

from __future__ import annotations

import uuid

from schemas.events.notifications import NotificationRecorded
from services.domain.notifications.derive import Derived
from services.domain.notifications.ids import notification_id
from services.infra.eventstore import EventStore
from services.infra.store_contract import ConcurrencyConflict, NewEvent


def record(store: EventStore, derived: Derived) -> uuid.UUID | None:
    """The new notification's id, or None when it was recorded before."""
    stream_id = notification_id(derived.notification_type, derived.source_context, derived.source_stream_id,
                                derived.source_version)
    event = NotificationRecorded(user_id=derived.user_id, notification_type=derived.notification_type,
                                 data=derived.data, source_context=derived.source_context,
                                 source_stream_id=derived.source_stream_id, source_version=derived.source_version)
    try:
        store.append([NewEvent(stream_id, 1, event, user_id=derived.user_id)])
    except ConcurrencyConflict:
        return None
    return stream_id
