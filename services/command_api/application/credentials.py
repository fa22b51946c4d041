"""Credential commands: store a user's provider API key (sealed), delete it.

The plain key exists only inside ``create``: it is sealed with the keyring's active key before the
event is built, so it reaches neither the store, nor Kafka, nor a log line. Answers carry the
reference only (AutoGPT's ``CredentialsMetaResponse``).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from schemas.events.integrations import CredentialsCreated, CredentialsDeleted, CredentialsSecretReencrypted
from services.domain.errors import ConflictError, Forbidden, InvalidCommand, NotFoundError
from services.domain.integrations.credentials import credentials_uuid, meta_response
from services.domain.integrations.system import SYSTEM_CREDENTIAL_IDS
from services.domain.llm.providers import KNOWN_PROVIDERS
from services.infra.appending import decide_and_append
from services.infra.auth import User
from services.infra.credentials_store import CredentialsReader, StoredCredential, bound_to
from services.infra.eventstore import EventStore
from services.infra.store_contract import ConcurrencyConflict, NewEvent

MAX_SECRET_CHARS = 8192
MAX_EXPIRES_AT = 2 ** 53
KEY_CHARS = re.compile(r"[\x21-\x7e]+")
MAX_TITLE_CHARS = 200
NOT_FOUND = "Credentials not found"
# Client-chosen credential ids are namespaced by user (see ``stream_id``).
CLIENT_ID_NAMESPACE = uuid.UUID("5b0c6f1e-3f55-4f0a-9a43-2d1c0c7e8b21")


def stream_id(user_id: str, client_id: uuid.UUID | None) -> uuid.UUID:
    """The stream (and credential id) for a new credential: random, or, when the client chose an
    id, ``uuid5`` of the user and that id. So a user's own id maps to the same credential every
    time (a second create is a 409), while another user's id lands on a stream of the caller's
    own: it can neither squat someone's id nor learn from a 409 that the id exists."""
    if client_id is None:
        return uuid.uuid4()
    return uuid.uuid5(CLIENT_ID_NAMESPACE, f"{user_id}\n{client_id}")


def check_provider(provider: str) -> None:
    if provider not in KNOWN_PROVIDERS:
        raise NotFoundError(f"Unknown provider '{provider}'")


class CredentialsCommands:
    def __init__(self, store: EventStore, reader: CredentialsReader) -> None:
        self.store = store
        self.reader = reader

    def create(self, user: User, provider: str, *, api_key: str, title: str | None, expires_at: int | None,
               credentials_id: str | None = None, type_: str = "api_key") -> dict[str, Any]:
        check_provider(provider)
        if type_ != "api_key":
            raise InvalidCommand(f"Only api_key credentials can be stored here (got '{type_}'); "
                                 "OAuth credentials come from the provider's login flow")
        api_key = (api_key or "").strip()
        if not api_key:
            raise InvalidCommand("api_key must not be empty")
        if not KEY_CHARS.fullmatch(api_key):
            # A key goes into an HTTP header: anything else could never work, and a library
            # refusing it might quote it back in an error message.
            raise InvalidCommand("api_key may only contain visible ASCII characters (no spaces or line breaks)")
        if len(api_key) > MAX_SECRET_CHARS:
            raise InvalidCommand(f"api_key is longer than {MAX_SECRET_CHARS} characters")
        if title is not None and len(title) > MAX_TITLE_CHARS:
            raise InvalidCommand(f"title is longer than {MAX_TITLE_CHARS} characters")
        if title is not None and any(ord(c) < 32 or ord(c) == 127 for c in title):
            raise InvalidCommand("title must not contain control characters")
        if expires_at is not None and not 0 <= expires_at <= MAX_EXPIRES_AT:
            raise InvalidCommand("expires_at must be a Unix time in seconds")
        client_id = None if credentials_id is None else credentials_uuid(credentials_id)
        if credentials_id is not None and client_id is None:
            raise InvalidCommand("id must be a UUID")
        if str(client_id) in SYSTEM_CREDENTIAL_IDS:
            raise Forbidden("Cannot create credentials with a reserved ID")
        sid = stream_id(user.id, client_id)
        cred_id = str(sid)
        event = CredentialsCreated(
            user_id=user.id, provider=provider, type="api_key", title=title, expires_at=expires_at,
            encrypted_secret=self.reader.keyring.encrypt(api_key, bound_to=bound_to(cred_id, user.id)))
        try:
            self.store.append([NewEvent(sid, 1, event, user_id=user.id)])
        except ConcurrencyConflict:
            raise ConflictError(f"Can not re-create existing credentials #{cred_id}") from None
        return meta_response(cred_id, provider, "api_key", title)

    def delete(self, user: User, provider: str, credentials_id: str) -> dict[str, Any]:
        check_provider(provider)
        sid = credentials_uuid(credentials_id)
        if sid is not None and str(sid) in SYSTEM_CREDENTIAL_IDS:
            raise Forbidden("System-managed credentials cannot be deleted")
        def record(cred: StoredCredential | None) -> dict[str, Any]:
            if cred is None or cred.provider != provider:
                raise NotFoundError(NOT_FOUND)
            self.store.append([NewEvent(uuid.UUID(cred.id), cred.version + 1, CredentialsDeleted(),
                                        user_id=user.id)])
            return {"deleted": True, "revoked": None}

        return decide_and_append(lambda: self.reader.owned(user.id, credentials_id), record)

    def reencrypt(self, cred: StoredCredential) -> bool:
        """Seal ``cred``'s secret again under the active key (rotation); False if already there."""
        keyring = self.reader.keyring
        if keyring.key_id_of(cred.encrypted_secret) == keyring.active:
            return False
        aad = bound_to(cred.id, cred.user_id)
        sealed = keyring.encrypt(keyring.decrypt(cred.encrypted_secret, bound_to=aad), bound_to=aad)
        self.store.append([NewEvent(uuid.UUID(cred.id), cred.version + 1,
                                    CredentialsSecretReencrypted(encrypted_secret=sealed), user_id=cred.user_id)])
        return True


def reencrypt_all(commands: CredentialsCommands) -> tuple[int, int]:
    """Move every live credential's secret to the keyring's active key (after a rotation, before
    an old key is removed). Returns ``(re-sealed, live credentials)``; safe to run again."""
    store, position, ids = commands.store, 0, []
    while batch := store.read_log_raw(after=position, limit=1000):
        position = batch[-1][0]
        ids.extend(str(stream) for _, stream, _, kind, _ in batch if kind == CredentialsCreated.TYPE)
    changed = live = 0
    for cred_id in ids:
        cred = commands.reader.load(cred_id)
        if cred is None or cred.deleted:
            continue
        live += 1
        changed += decide_and_append(lambda cid=cred_id: commands.reader.load(cid), _reencrypt_if_live(commands))
    return changed, live


def _reencrypt_if_live(commands: CredentialsCommands):
    """One attempt of a re-seal, on the credential as just reloaded (deleted meanwhile: nothing)."""
    def attempt(cred: StoredCredential | None) -> bool:
        return cred is not None and not cred.deleted and commands.reencrypt(cred)

    return attempt
