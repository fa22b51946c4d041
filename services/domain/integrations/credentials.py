"""The credential shapes every service shares.

``CredentialsMeta`` is what graphs, execute calls, events and API responses carry: a *reference*
to a credential (AutoGPT's ``CredentialsMetaInput``), never its secret. ``APIKeyCredentials`` is
the resolved credential a block runs with; it exists only in the executor's memory, and its key is
a ``SecretStr`` so that a stray ``repr`` or log line shows ``**********`` instead of the key.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr

CredentialsType = Literal["api_key", "oauth2", "user_password", "host_scoped"]


class CredentialsMeta(BaseModel):
    """A reference to a credential: ``{id, title?, provider, type}``."""

    model_config = ConfigDict(extra="ignore")

    id: str
    title: str | None = None
    provider: str
    type: CredentialsType


class APIKeyCredentials(BaseModel):
    """A resolved API key credential (user-owned or system)."""

    model_config = ConfigDict(frozen=True)

    id: str
    provider: str
    title: str | None = None
    api_key: SecretStr
    expires_at: int | None = None
    is_system: bool = False
    type: Literal["api_key"] = "api_key"

    def meta(self) -> CredentialsMeta:
        return CredentialsMeta(id=self.id, title=self.title, provider=self.provider, type=self.type)

    def bearer(self) -> str:
        """The key itself, for the one place that sends it (the provider request)."""
        return self.api_key.get_secret_value()


def meta_response(cred_id: str, provider: str, type_: str, title: str | None) -> dict[str, Any]:
    """AutoGPT's ``CredentialsMetaResponse``: what every credentials endpoint answers with."""
    return {"id": cred_id, "provider": provider, "type": type_, "title": title, "scopes": None,
            "username": None, "host": None}


def credentials_uuid(value: Any) -> uuid.UUID | None:
    """A user credential's id (its stream id) from any form a UUID may be written in, or None:
    ids are compared after this, so ``urn:uuid:…`` or upper case cannot dodge a check."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None
