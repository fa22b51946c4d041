"""Events of the integrations context (stream = one user credential, id = the credential's UUID).

A credential's secret is recorded only as ciphertext (AES-256-GCM, see
``services.domain.integrations.crypto``): the event names the key that sealed it, and the seal is
bound to the credential id and owner. Nothing else in these events is secret.
"""

from __future__ import annotations

from typing import ClassVar

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
