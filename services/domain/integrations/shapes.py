"""AutoGPT's ``CredentialsMetaResponse``: a credential as every credentials endpoint shows it, a
reference and never a secret (built by ``credentials.meta_response``)."""

from __future__ import annotations

from pydantic import BaseModel


class CredentialsMetaResponse(BaseModel):
    id: str
    provider: str
    type: str
    title: str | None
    scopes: list[str] | None
    username: str | None
    host: str | None
