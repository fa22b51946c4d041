"""Reading credentials from the event store: references for validation, secrets for the executor.

Both the command API (checking a run's credentials before it is queued) and the executor (handing
a block its key just before it runs) read a credential's stream directly, never a read model: a
deletion takes effect on the very next run, on every instance, and secrets are only ever decrypted
in the process that sends them to the provider.

Ownership is part of every lookup: a user can name only their own credentials and the platform's
system ones. Someone else's id is indistinguishable from an unknown one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from pydantic import SecretStr

from schemas.events.integrations import CredentialsCreated, CredentialsDeleted, CredentialsSecretReencrypted
from services.domain.integrations.credentials import APIKeyCredentials, CredentialsMeta, credentials_uuid
from services.domain.integrations.crypto import Keyring
from services.domain.integrations.system import configured_system_credentials
from services.infra.eventstore import EventStore


@dataclass
class StoredCredential:
    """A user credential folded from its stream (secret still sealed)."""

    id: str
    user_id: str
    provider: str
    type: str
    title: str | None
    expires_at: int | None
    encrypted_secret: str
    created_at: datetime
    version: int = 0
    deleted: bool = False

    def meta(self) -> CredentialsMeta:
        return CredentialsMeta(id=self.id, title=self.title, provider=self.provider, type=self.type)  # type: ignore[arg-type]

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= time.time()


def bound_to(credentials_id: str, user_id: str) -> str:
    """What a credential's ciphertext is bound to (AES-GCM additional data)."""
    return f"credentials:{credentials_id}|user:{user_id}"


def fold(credentials_id: str, recorded) -> StoredCredential | None:
    cred: StoredCredential | None = None
    for item in recorded:
        event = item.decode()
        if isinstance(event, CredentialsCreated):
            cred = StoredCredential(id=credentials_id, user_id=event.user_id, provider=event.provider,
                                    type=event.type, title=event.title, expires_at=event.expires_at,
                                    encrypted_secret=event.encrypted_secret, created_at=item.occurred_at)
        elif cred is not None and isinstance(event, CredentialsSecretReencrypted):
            cred.encrypted_secret = event.encrypted_secret
        elif cred is not None and isinstance(event, CredentialsDeleted):
            cred.deleted = True
        if cred is not None:
            cred.version = item.stream_version
    return cred


class CredentialsReader:
    def __init__(self, store: EventStore, keyring: Keyring, system: dict[str, APIKeyCredentials]) -> None:
        self.store = store
        self.keyring = keyring
        self.system = system

    @classmethod
    def from_settings(cls, store: EventStore, settings) -> CredentialsReader:
        """The reader a service process runs with: its keyring and system credentials from settings."""
        return cls(store, Keyring.parse(settings.credentials_keys), configured_system_credentials(settings))

    def load(self, credentials_id: str) -> StoredCredential | None:
        sid = credentials_uuid(credentials_id)
        if sid is None:
            return None
        return fold(str(sid), self.store.read_stream(sid))

    def owned(self, user_id: str, credentials_id: str) -> StoredCredential | None:
        """The user's own live credential with this id, or None (unknown, foreign or deleted)."""
        cred = self.load(credentials_id)
        if cred is None or cred.deleted or cred.user_id != user_id:
            return None
        return cred

    def meta_for(self, user_id: str, credentials_id: str) -> CredentialsMeta | None:
        """The reference a user may use: a system credential, or one of their own."""
        system = self.system.get(credentials_id)
        if system is not None:
            return system.meta()
        cred = self.owned(user_id, credentials_id)
        return cred.meta() if cred else None

    def resolve(self, user_id: str, credentials_id: str) -> APIKeyCredentials | None:
        """The usable credential with its secret decrypted, or None if the user may not use it.
        Raises ``SecretDecryptionError`` when the keyring cannot open it (a missing old key)."""
        system = self.system.get(credentials_id)
        if system is not None:
            return system
        cred = self.owned(user_id, credentials_id)
        if cred is None:
            return None
        secret = self.keyring.decrypt(cred.encrypted_secret, bound_to=bound_to(cred.id, cred.user_id))
        return APIKeyCredentials(id=cred.id, provider=cred.provider, title=cred.title,
                                 api_key=SecretStr(secret), expires_at=cred.expires_at)
