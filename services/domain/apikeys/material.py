"""API key material: generation, the lookup id, the keyed hash and its constant-time check (pure).

A key is ``agpt_`` + urlsafe base64 of 32 random bytes (256 bits, 43 characters). Only its keyed
hash is recorded, so a leaked event log or topic does not leak usable keys. The hash is
HMAC-SHA256 with a server secret rather than scrypt (AutoGPT's choice): the key already carries 256
bits of entropy, so a slow hash adds nothing against guessing, while a secret-keyed hash makes the
recorded hashes useless without the secret, and verification stays cheap on every request.

The lookup id lets authentication find the key's stream directly: ``stream_id_for(lookup_id)``.
It is derived from the key by SHA-256 (16 urlsafe base64 characters, 96 bits) rather than copied out
of it, so the recorded lookup id reveals nothing of the key; with the displayed head and tail, about
190 random bits stay unknown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

PREFIX = "agpt_"
RANDOM_BYTES = 32
RANDOM_CHARS = 43  # len(urlsafe_b64encode(32 bytes)) without padding
LOOKUP_CHARS = 16
DISPLAY_CHARS = 8
# Fixed forever: changing it would orphan every recorded key stream.
KEY_STREAM_NAMESPACE = uuid.UUID("6a1f7c3e-5b2d-4e8a-9c41-0d3b7e2f8a15")
_KEY_SHAPE = re.compile(rf"{PREFIX}[A-Za-z0-9_-]{{{RANDOM_CHARS}}}")


@dataclass(frozen=True)
class KeyMaterial:
    plain: str
    head: str
    tail: str
    lookup_id: str
    key_hash: str

    def __repr__(self) -> str:  # never print the plain key by accident
        return f"KeyMaterial(head={self.head!r}, tail={self.tail!r}, lookup_id=…)"


def keyed_hash(secret: str, plain_key: str) -> str:
    """HMAC-SHA256 (hex) of the whole plain key with the server secret."""
    return hmac.new(secret.encode(), plain_key.encode(), hashlib.sha256).hexdigest()


def generate(secret: str) -> KeyMaterial:
    plain = PREFIX + secrets.token_urlsafe(RANDOM_BYTES)
    return KeyMaterial(plain=plain, head=plain[:DISPLAY_CHARS], tail=plain[-DISPLAY_CHARS:],
                       lookup_id=_lookup_id(plain), key_hash=keyed_hash(secret, plain))


def _lookup_id(plain_key: str) -> str:
    digest = hashlib.sha256(plain_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:LOOKUP_CHARS]


def lookup_id_of(presented: str | None) -> str | None:
    """The lookup id of a well-formed key, or None for anything else (missing, garbage, too long)."""
    if not presented or not _KEY_SHAPE.fullmatch(presented):
        return None
    return _lookup_id(presented)


def stream_id_for(lookup_id: str) -> uuid.UUID:
    """The key's stream id (also its public id)."""
    return uuid.uuid5(KEY_STREAM_NAMESPACE, lookup_id)


def matches(secret: str, presented: str, recorded_hash: str) -> bool:
    """Whether the presented key hashes to the recorded hash, compared in constant time."""
    return hmac.compare_digest(keyed_hash(secret, presented), recorded_hash)
