"""Event payloads of every context. Importing this package registers all event types."""

from schemas.events import (  # noqa: F401
    apikeys,
    callbacks,
    credits,
    executions,
    graphs,
    integrations,
    library,
    notifications,
    schedules,
    store,
    users,
)
from schemas.events.base import Event, decode_payload, event_class, registered_types, upcast, upcaster

__all__ = ["Event", "decode_payload", "event_class", "registered_types", "upcast", "upcaster"]
