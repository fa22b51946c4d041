"""Idempotency-Key: the first answer to a creating request, kept 24 h and replayed to a repeat.

Why a plain PostgreSQL table (``idempotency_keys``, like ``rate_limit_windows``): it is a request
dedup cache, not domain state, and every API instance already shares the database, so a retry that
lands on another instance still finds the key. One row per (principal, key) is a claim:

- ``claim`` inserts a ``running`` row (``INSERT … ON CONFLICT … DO UPDATE … WHERE … RETURNING``),
  or takes over a row that expired (older than ``TTL``) or a ``running`` row with the same
  fingerprint older than ``ABANDONED_AFTER`` (its process crashed). A live row that is not ours
  says what to answer: a different fingerprint is ``KeyReused`` (422), ``done`` is a ``Stored``
  answer to replay, ``running`` is ``InProgress`` (409).
- ``store`` turns our claim into ``done`` with the answer; ``release`` deletes it (a refused or
  failed request must not block a corrected retry). Both match the claim's token, so a slow
  process whose claim was taken over cannot overwrite or delete the new owner's row.

The takeover window: a process that recorded the creation and then died before ``store`` leaves a
``running`` row; a retry after ``ABANDONED_AFTER`` takes it over and creates a second time. That
is the one case where a key does not prevent a duplicate (a crash between the append and the
answer's store, a few milliseconds; or a request still running after ``ABANDONED_AFTER``, which the
creating routes, answering in well under a second, do not come near).

Stored answers are sealed with the credentials keyring (AES-256-GCM, bound to the row's principal
and key): some first answers hold a secret shown once (an API key's plain text, a webhook's
signing secret), and a database reader must not find them in clear for a day.

Expired rows are replaced lazily by the next claim and purged at most every ``PURGE_EVERY_S``.
This module knows nothing of HTTP frameworks: ``command_api/api/idempotency.py`` is the glue.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from services.domain.errors import InvalidCommand
from services.domain.integrations.crypto import Keyring, SecretDecryptionError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_CHARS = 255
TTL_S = 24 * 3600
ABANDONED_AFTER_S = 60
PURGE_EVERY_S = 600.0

_CLAIM = """
INSERT INTO idempotency_keys (principal, key, fingerprint, state, claim, created_at)
VALUES (%(principal)s, %(key)s, %(fingerprint)s, 'running', %(claim)s, now())
ON CONFLICT (principal, key) DO UPDATE
    SET fingerprint = EXCLUDED.fingerprint, state = 'running', claim = EXCLUDED.claim, created_at = now(),
        status = NULL, content_type = NULL, body = NULL
    WHERE idempotency_keys.created_at < now() - make_interval(secs => %(ttl)s)
       OR (idempotency_keys.state = 'running' AND idempotency_keys.fingerprint = EXCLUDED.fingerprint
           AND idempotency_keys.created_at < now() - make_interval(secs => %(abandoned)s))
RETURNING claim
"""
_EXISTING = """
SELECT fingerprint, state, status, content_type, body, extract(epoch FROM now() - created_at)
FROM idempotency_keys
WHERE principal = %s AND key = %s AND created_at >= now() - make_interval(secs => %s)
"""
_STORE = """
UPDATE idempotency_keys SET state = 'done', status = %s, content_type = %s, body = %s
WHERE principal = %s AND key = %s AND claim = %s
"""
_RELEASE = "DELETE FROM idempotency_keys WHERE principal = %s AND key = %s AND claim = %s"
_PURGE = "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => %s)"


def validate_key(value: str) -> str:
    """The header's value if it is 1–255 printable ASCII characters (space to ``~``); 400 otherwise."""
    if not value:
        raise InvalidCommand(f"{HEADER} must not be empty")
    if len(value) > MAX_KEY_CHARS:
        raise InvalidCommand(f"{HEADER} must be at most {MAX_KEY_CHARS} characters, got {len(value)}")
    if any(not " " <= ch <= "~" for ch in value):
        raise InvalidCommand(f"{HEADER} must hold only printable ASCII characters")
    return value


def fingerprint(method: str, path: str, query: str | bytes, body: bytes) -> str:
    """sha256 over the method, the actual path (ids included), the query with its pairs sorted (so
    the order of parameters does not matter) and the raw body (bytes as sent: a reformatted JSON
    body is a different request). Each part is length-prefixed, so no two requests collide by
    moving bytes between parts."""
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    canonical_query = urlencode(sorted(parse_qsl(query, keep_blank_values=True)))
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical_query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class Claim:
    """Ours: the request may run; its answer is stored (or the claim released) under ``token``."""

    principal: str
    key: str
    token: uuid.UUID


@dataclass(frozen=True)
class Stored:
    """The first answer, to replay as it was."""

    status: int
    content_type: str | None
    body: bytes


class StoredUnreadable(Exception):
    """The first answer was sealed with a key no longer in the keyring (409: it cannot be replayed,
    and running the request again could create twice)."""


class KeyReused(Exception):
    """The key is live for a different request (422)."""


class InProgress(Exception):
    """The first request with the key has not answered yet (409)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("A request with this Idempotency-Key is still in progress")
        self.retry_after_s = retry_after_s


class IdempotencyKeys:
    """Claims, stores and releases keys in ``idempotency_keys`` on an async pool."""

    def __init__(self, pool, keyring: Keyring) -> None:
        self.pool = pool
        self.keyring = keyring
        self._last_purge = time.monotonic()

    async def claim(self, principal: str, key: str, print_: str) -> Claim | Stored:
        """Ours (``Claim``), or the stored first answer (``Stored``); ``KeyReused``/``InProgress``."""
        params = {"principal": principal, "key": key, "fingerprint": print_, "ttl": TTL_S,
                  "abandoned": ABANDONED_AFTER_S}
        async with self.pool.connection() as conn:
            await self._maybe_purge(conn)
            for _ in range(3):  # the row may be released or expire between the two statements
                token = uuid.uuid4()
                row = await (await conn.execute(_CLAIM, {**params, "claim": token})).fetchone()
                if row is not None and row[0] == token:
                    return Claim(principal, key, token)
                found = await (await conn.execute(_EXISTING, (principal, key, TTL_S))).fetchone()
                if found is None:
                    continue
                fp, state, status, content_type, body, age = found
                if fp != print_:
                    raise KeyReused(f"{HEADER} {key!r} was already used with a different request")
                if state == "done":
                    return Stored(int(status), content_type, self._unseal(principal, key, bytes(body or b"")))
                raise InProgress(max(1, min(ABANDONED_AFTER_S, int(ABANDONED_AFTER_S - float(age)) + 1)))
        raise InProgress(1)

    async def store(self, claim: Claim, status: int, content_type: str | None, body: bytes) -> None:
        async with self.pool.connection() as conn:
            sealed = self._seal(claim.principal, claim.key, body)
            await conn.execute(_STORE, (status, content_type, sealed, claim.principal, claim.key, claim.token))

    def _seal(self, principal: str, key: str, body: bytes) -> bytes:
        text = base64.b64encode(body).decode()
        return self.keyring.encrypt(text, bound_to=f"idempotency:{principal}:{key}").encode()

    def _unseal(self, principal: str, key: str, sealed: bytes) -> bytes:
        try:
            text = self.keyring.decrypt(sealed.decode(), bound_to=f"idempotency:{principal}:{key}")
        except (SecretDecryptionError, UnicodeDecodeError):
            raise StoredUnreadable(f"The first answer to {HEADER} {key!r} can no longer be read (the key that "
                                   "sealed it left the keyring); use a new key") from None
        return base64.b64decode(text)

    async def release(self, claim: Claim) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(_RELEASE, (claim.principal, claim.key, claim.token))

    async def _maybe_purge(self, conn) -> None:
        if time.monotonic() - self._last_purge > PURGE_EVERY_S:
            self._last_purge = time.monotonic()
            await conn.execute(_PURGE, (TTL_S,))
