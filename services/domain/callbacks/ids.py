"""Stream ids of the callbacks context, derived so that uniqueness is the store's concurrency.

A user's callbacks are one stream named after the user; a delivery's id is named after the callback
and the terminal execution event it reports, so whoever schedules it (the notifier consuming that
event again after a crash, a second notifier) meets the same stream at version 1 and records nothing
twice. The delivery id is also what receivers see (``X-Agentloom-Delivery``) and dedupe on.
"""

from __future__ import annotations

import uuid

CALLBACKS_NAMESPACE = uuid.UUID("6f1c2c4e-4a7b-5d0e-9a51-7c2b7d3e0c11")


def user_callbacks_id(user_id: str) -> uuid.UUID:
    return uuid.uuid5(CALLBACKS_NAMESPACE, f"user-callbacks:{user_id}")


def delivery_id(callback_id: str, source_event_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.UUID(callback_id), f"delivery:{source_event_id}")


def secret_binding(callback_id: str, user_id: str) -> str:
    """What a callback's secret ciphertext is bound to: copied onto another callback or owner, it
    fails to decrypt."""
    return f"callback:{callback_id}:{user_id}"
