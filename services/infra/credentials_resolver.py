"""Hands a block its credentials just before it runs (COMPAT §2.4 step 4), in a graph run (the
executor) or a direct block run (the command API).

The node's input holds references only (``{id, provider, type, title}``); here each is resolved
from the event store for the run's owner and decrypted, and the result goes into the block's
``RunContext`` — never into an event, a read model or a log line. A reference the owner may not
use (deleted, someone else's, expired, sealed with a key no longer in the ring) fails the node
with AutoGPT's "Credentials not available" wording.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import ValidationError

from services.domain.graphs.credentials import MISMATCH, is_credentials_field_name
from services.domain.integrations.credentials import APIKeyCredentials, CredentialsMeta
from services.domain.integrations.crypto import SecretDecryptionError
from services.infra.credentials_store import CredentialsReader


class CredentialsUnavailable(ValueError):
    pass


class NodeCredentials:
    def __init__(self, reader: CredentialsReader) -> None:
        self.reader = reader

    async def __call__(self, user_id: str, block_cls: Any, input_data: dict[str, Any]) -> dict[str, APIKeyCredentials]:
        resolved: dict[str, APIKeyCredentials] = {}
        for name in block_cls.input_fields():
            if is_credentials_field_name(name) and input_data.get(name):
                resolved[name] = await asyncio.to_thread(self._resolve, user_id, input_data[name])
        return resolved

    def _resolve(self, user_id: str, raw: Any) -> APIKeyCredentials:
        try:
            meta = CredentialsMeta.model_validate(raw)
        except ValidationError as exc:
            raise CredentialsUnavailable(f"Invalid credentials: {exc.error_count()} invalid field(s)") from None
        try:
            cred = self.reader.resolve(user_id, meta.id)
        except SecretDecryptionError as exc:
            raise CredentialsUnavailable(f"Credentials not available: {exc}") from None
        if cred is None:
            raise CredentialsUnavailable(f"Credentials not available: unknown credentials #{meta.id}")
        if cred.provider != meta.provider or cred.type != meta.type:
            raise CredentialsUnavailable(MISMATCH)
        if cred.expires_at is not None and cred.expires_at <= time.time():
            raise CredentialsUnavailable(f"Credentials not available: credentials #{meta.id} have expired")
        return cred
