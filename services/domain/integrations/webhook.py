"""The Webhook aggregate: a trigger webhook's owner, graph, secret, bound presets and state (pure).

A webhook belongs to one user and starts runs of one graph version: every accepted delivery runs
each preset bound to it (while the preset is active). Its secret is made here, shown to the user
once and recorded only as a SHA-256 digest: the secret has 256 bits of entropy, so a plain digest is
as good as a slow KDF, and the ingress check is one constant-time comparison of digests.

Stream ids that make recording exactly once a stream's concurrency:

- ``delivery_stream_id``: one stream per accepted delivery, uuid5 of the webhook and the sender's
  idempotency key, so a repeated key is the stream's version conflict (no key: a random id);
- ``delivery_run_id``: the run of one preset for one delivery, so a retry after a crash queues
  only what is missing and a repeat names the same runs;
- ``graph_webhooks_stream_id``: a graph's index of webhooks, read by the graph's delete.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from schemas.events.base import Event
from schemas.events.integrations import (
    GraphWebhookAdded,
    WebhookDeactivated,
    WebhookDeliveryReceived,
    WebhookPresetBound,
    WebhookPresetUnbound,
    WebhookRegistered,
)
from services.domain.errors import NotFoundError

GENERIC_PROVIDER = "generic_webhook"
SECRET_BYTES = 32  # 256 bits
SECRET_HEADER = "X-Webhook-Secret"
IDEMPOTENCY_HEADERS = ("Idempotency-Key", "X-Delivery-Id")  # the first one present names the delivery
MAX_IDEMPOTENCY_KEY = 200
MAX_PAYLOAD_BYTES = 256 * 1024  # a delivery is recorded once and copied into each run it queues

_GRAPH_INDEX_NS = uuid.UUID("5d0c3f8e-6f0e-4f2a-9a53-0b7d1c2e9f41")

# Why a webhook stopped accepting deliveries (WebhookDeactivated.reason, WebhookPresetUnbound.reason).
PRESET_DELETED = "preset_deleted"
GRAPH_DELETED = "graph_deleted"
GRAPH_UNAVAILABLE = "graph_unavailable"


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def delivery_stream_id(webhook_id: str, idempotency_key: str | None) -> uuid.UUID:
    return uuid.uuid5(uuid.UUID(webhook_id), idempotency_key) if idempotency_key else uuid.uuid4()


def delivery_run_id(delivery_id: uuid.UUID, preset_id: str) -> uuid.UUID:
    return uuid.uuid5(delivery_id, preset_id)


def graph_webhooks_stream_id(graph_id: str) -> uuid.UUID:
    return uuid.uuid5(_GRAPH_INDEX_NS, graph_id)


@dataclass
class Webhook:
    webhook_id: str
    user_id: str | None = None
    provider: str = ""
    graph_id: str = ""
    graph_version: int = 0
    trigger_node_id: str = ""
    secret_sha256: str = ""
    preset_ids: list[str] = field(default_factory=list)
    active: bool = False
    deactivated_reason: str | None = None
    created_at: datetime | None = None
    stream_version: int = 0

    @classmethod
    def from_events(cls, webhook_id: str, events: list[tuple[Event, datetime]]) -> Webhook:
        webhook = cls(webhook_id)
        for event, at in events:
            webhook.apply(event, at)
        return webhook

    @staticmethod
    def register(*, user_id: str, provider: str, graph_id: str, graph_version: int, trigger_node_id: str,
                 secret: str, preset_id: str) -> list[Event]:
        """A new webhook's events (stream versions 1 and 2): registered, then its first preset bound."""
        return [WebhookRegistered(user_id=user_id, provider=provider, graph_id=graph_id, graph_version=graph_version,
                                  trigger_node_id=trigger_node_id, secret_sha256=secret_digest(secret)),
                WebhookPresetBound(preset_id=preset_id)]

    def apply(self, event: Event, at: datetime | None = None) -> None:
        self.stream_version += 1
        if isinstance(event, WebhookRegistered):
            self.user_id, self.provider = event.user_id, event.provider
            self.graph_id, self.graph_version = event.graph_id, event.graph_version
            self.trigger_node_id, self.secret_sha256 = event.trigger_node_id, event.secret_sha256
            self.active, self.created_at = True, at
        elif isinstance(event, WebhookPresetBound):
            if event.preset_id not in self.preset_ids:
                self.preset_ids.append(event.preset_id)
        elif isinstance(event, WebhookPresetUnbound):
            self.preset_ids = [p for p in self.preset_ids if p != event.preset_id]
        elif isinstance(event, WebhookDeactivated):
            self.active, self.deactivated_reason = False, event.reason

    @property
    def exists(self) -> bool:
        return self.user_id is not None

    def require_owner(self, user_id: str) -> None:
        """Another user's webhook, like a missing one, is not found."""
        if not self.exists or self.user_id != user_id:
            raise NotFoundError(f"Webhook #{self.webhook_id} not found")

    def require_live(self, provider: str) -> None:
        """Ingress: a missing, another provider's or a deactivated webhook is not found."""
        if not self.exists or self.provider != provider or not self.active:
            raise NotFoundError(f"Webhook #{self.webhook_id} not found")

    def secret_matches(self, secret: str | None) -> bool:
        """Constant time in the secret: the digests are compared, never the secret's prefix."""
        given = secret_digest(secret or "")
        return hmac.compare_digest(given, self.secret_sha256) and bool(secret) and bool(self.secret_sha256)

    def unbind(self, preset_id: str, reason: str) -> list[Event]:
        """The preset leaves; the webhook deactivates with it when no preset is left."""
        if preset_id not in self.preset_ids:
            return []
        events: list[Event] = [WebhookPresetUnbound(preset_id=preset_id, reason=reason)]
        if self.active and len(self.preset_ids) == 1:
            events.append(WebhookDeactivated(reason=reason))
        return events

    def deactivate(self, reason: str) -> list[Event]:
        return [WebhookDeactivated(reason=reason)] if self.active else []


@dataclass
class Delivery:
    """One accepted delivery (its stream's only event), folded."""

    delivery_id: uuid.UUID
    received: WebhookDeliveryReceived | None = None

    @property
    def recorded(self) -> bool:
        return self.received is not None

    @staticmethod
    def accept(*, webhook_id: str, payload: dict, preset_ids: list[str],
               idempotency_key: str | None) -> WebhookDeliveryReceived:
        return WebhookDeliveryReceived(webhook_id=webhook_id, payload=payload, preset_ids=list(preset_ids),
                                       idempotency_key=idempotency_key)

    def run_ids(self) -> list[uuid.UUID]:
        assert self.received is not None
        return [delivery_run_id(self.delivery_id, p) for p in self.received.preset_ids]


def graph_webhook_ids(events: list[Event]) -> list[str]:
    """The webhooks a graph's index stream lists, in the order they were added."""
    return [e.webhook_id for e in events if isinstance(e, GraphWebhookAdded)]
