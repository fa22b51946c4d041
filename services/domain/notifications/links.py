"""Signed unsubscribe links (pure).

The token is urlsafe base64 of ``<user id>:<hex HMAC-SHA256 of the user id>`` (AutoGPT's form), keyed
with a key derived from the API key secret under its own label, so no new secret has to be
configured and a token can never be confused with another HMAC the platform makes. Tokens do not
expire (an unsubscribe link in an old email must keep working); they only turn email off.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

_LABEL = b"agentloom/email-unsubscribe/v1"
MAX_TOKEN_CHARS = 1000


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest()


def _signature(secret: str, user_id: str) -> str:
    return hmac.new(_key(secret), user_id.encode(), hashlib.sha256).hexdigest()


def unsubscribe_token(secret: str, user_id: str) -> str:
    raw = f"{user_id}:{_signature(secret, user_id)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def verify_unsubscribe_token(secret: str, token: str) -> str | None:
    """The user id a token was made for, or None when it is malformed or not ours."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user_id, sep, _ = raw.rpartition(":")
    if not sep or not user_id:
        return None
    # The whole token against the one we would make, as bytes: a non-ASCII signature cannot raise
    # (``compare_digest`` refuses non-ASCII str), and stray characters the decoder skips or spare
    # padding bits do not make a second valid spelling of the same token.
    if not hmac.compare_digest(token.rstrip("=").encode(), unsubscribe_token(secret, user_id).encode()):
        return None
    return user_id
