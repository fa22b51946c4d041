"""Events of the integrations context: user credentials (stream = one credential, id = its UUID)
and trigger webhooks (below).

A credential's secret is recorded only as ciphertext (AES-256-GCM, see
``services.domain.integrations.crypto``): the event names the key that sealed it, and the seal is
bound to the credential id and owner. Nothing else in these events is secret.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from schemas.events.base import Event


class IntegrationEvent(Event):
    CONTEXT: ClassVar[str] = "integrations"


class CredentialsCreated(IntegrationEvent):
    """A user stored an API key credential for a provider; always stream version 1."""

    TYPE: ClassVar[str] = "CredentialsCreated"
    user_id: str
    provider: str
    type: str = "api_key"
    title: str | None = None
    expires_at: int | None = None
    encrypted_secret: str


class CredentialsSecretReencrypted(IntegrationEvent):
    """The secret was sealed again under the keyring's active key (key rotation); same plaintext."""

    TYPE: ClassVar[str] = "CredentialsSecretReencrypted"
    encrypted_secret: str


class CredentialsDeleted(IntegrationEvent):
    """The owner deleted the credential; it never resolves again (terminal)."""

    TYPE: ClassVar[str] = "CredentialsDeleted"


# -- trigger webhooks -----------------------------------------------------------------------------
#
# Three kinds of stream (ids from ``services.domain.integrations.webhook``): a webhook (its own
# UUID); one accepted delivery (uuid5 of the webhook and the sender's idempotency key, so a repeat
# is the stream's version conflict); and a graph's webhooks (uuid5 of the graph id), an index the
# graph's delete reads to end every webhook that would start it.


class WebhookRegistered(IntegrationEvent):
    """A user set up a trigger webhook for a graph version; always stream version 1. Only the
    SHA-256 of the server-generated secret is recorded: the secret itself is shown to the user once."""

    TYPE: ClassVar[str] = "WebhookRegistered"
    user_id: str
    provider: str
    graph_id: str
    graph_version: int
    trigger_node_id: str
    secret_sha256: str


class WebhookPresetBound(IntegrationEvent):
    """A preset now runs on every delivery the webhook accepts (while the preset is active)."""

    TYPE: ClassVar[str] = "WebhookPresetBound"
    preset_id: str


class WebhookPresetUnbound(IntegrationEvent):
    """A preset no longer runs on the webhook's deliveries; ``reason`` says why (``preset_deleted``)."""

    TYPE: ClassVar[str] = "WebhookPresetUnbound"
    preset_id: str
    reason: str


class WebhookDeactivated(IntegrationEvent):
    """The webhook accepts nothing more (its ingress answers 404); terminal. ``reason``:
    ``preset_deleted`` (its last preset), ``graph_deleted``, or ``graph_unavailable`` (found at
    ingress: the graph version no longer runs for the user)."""

    TYPE: ClassVar[str] = "WebhookDeactivated"
    reason: str


class WebhookDeliveryReceived(IntegrationEvent):
    """One accepted delivery; always stream version 1 of its own stream. ``preset_ids`` are the
    presets it runs (bound and active when it was accepted): each run's id is derived from the
    delivery and the preset, so a retry queues only what is missing. ``idempotency_key`` is the
    sender's key (``None``: the sender gave none, and the stream id is random)."""

    TYPE: ClassVar[str] = "WebhookDeliveryReceived"
    webhook_id: str
    payload: dict[str, Any] = Field(default_factory=dict)
    preset_ids: list[str] = Field(default_factory=list)
    idempotency_key: str | None = None


class GraphWebhookAdded(IntegrationEvent):
    """In a graph's index stream: a webhook that starts runs of the graph, so deleting the graph
    can end it in the same command."""

    TYPE: ClassVar[str] = "GraphWebhookAdded"
    webhook_id: str
    user_id: str
