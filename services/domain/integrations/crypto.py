"""Encryption at rest for credential secrets: AES-256-GCM under a keyring from configuration.

A ciphertext names the key that made it (``v1:<key id>:<base64url(nonce | ciphertext+tag)>``), so
rotation is adding a key: new secrets are encrypted with the first (active) key and every older
ciphertext still decrypts with the key it names, as long as that key stays in the ring. Removing a
key is only safe after ``agentloom credentials reencrypt`` has moved every secret to the active key.

The additional authenticated data binds a ciphertext to its credential id and owner, so a
ciphertext copied into another user's credential (or another credential) fails to decrypt instead
of leaking a key across accounts.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = "v1"
NONCE_BYTES = 12


class SecretDecryptionError(Exception):
    """A ciphertext that cannot be opened (unknown key id, tampered, or bound to another owner).
    The message never contains key material."""


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def generate_key() -> str:
    """A new keyring entry value: 32 random bytes, base64url (what ``agentloom credentials keygen``
    prints)."""
    return _b64e(os.urandom(32))


@dataclass(frozen=True)
class Keyring:
    """Key id -> 32-byte key; ``active`` encrypts, any listed key decrypts."""

    keys: dict[str, bytes]
    active: str

    @classmethod
    def parse(cls, entries: list[str]) -> Keyring:
        """Entries are ``"<key id>:<base64url 32-byte key>"``; the first is the active one."""
        if not entries:
            raise ValueError("the credentials keyring is empty: set AGENTLOOM_CREDENTIALS_KEYS")
        keys: dict[str, bytes] = {}
        for entry in entries:
            kid, sep, material = entry.strip().partition(":")
            if not sep or not kid or not kid.replace("-", "").replace("_", "").isalnum():
                raise ValueError("each AGENTLOOM_CREDENTIALS_KEYS entry must be '<key id>:<base64url key>'")
            try:
                key = _b64d(material.strip())
            except (ValueError, TypeError):  # binascii.Error is a ValueError
                raise ValueError(f"credentials key {kid!r} is not valid base64url") from None
            if len(key) != 32:
                raise ValueError(f"credentials key {kid!r} must be 32 bytes (got {len(key)})")
            if kid in keys:
                raise ValueError(f"credentials key id {kid!r} is listed twice")
            keys[kid] = key
        return cls(keys=keys, active=entries[0].strip().partition(":")[0])

    def encrypt(self, plaintext: str, *, bound_to: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.active]).encrypt(nonce, plaintext.encode(), bound_to.encode())
        return f"{FORMAT}:{self.active}:{_b64e(nonce + sealed)}"

    def decrypt(self, ciphertext: str, *, bound_to: str) -> str:
        try:
            fmt, kid, body = ciphertext.split(":", 2)
        except ValueError:
            raise SecretDecryptionError("malformed ciphertext") from None
        if fmt != FORMAT:
            raise SecretDecryptionError(f"unsupported ciphertext format {fmt!r}")
        key = self.keys.get(kid)
        if key is None:
            raise SecretDecryptionError(f"ciphertext was made with key {kid!r}, which is not in the keyring")
        try:
            raw = _b64d(body)
        except ValueError:
            raise SecretDecryptionError("malformed ciphertext") from None
        try:
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], bound_to.encode()).decode()
        except InvalidTag:
            raise SecretDecryptionError("ciphertext failed authentication") from None

    def key_id_of(self, ciphertext: str) -> str | None:
        parts = ciphertext.split(":", 2)
        return parts[1] if len(parts) == 3 else None
