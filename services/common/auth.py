"""Bearer-JWT authentication shared by the APIs and the WebSocket.

Tokens must carry ``sub``, ``aud`` (``authenticated``) and ``exp``; ``role == "admin"`` marks an
administrator. The accepted algorithms are fixed by configuration (never taken from the token):
HS256 with a shared secret by default, RS256/ES256 with a PEM public key or a JWKS URL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from services.common.settings import Settings


class AuthError(Exception):
    """Missing, malformed, expired or otherwise unacceptable credentials (HTTP 401)."""


@dataclass(frozen=True)
class User:
    id: str
    email: str | None = None
    role: str = "authenticated"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.algorithms = list(settings.jwt_algorithms)
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None

    def _key_for(self, token: str):
        if self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key
        if self.settings.jwt_public_key:
            return self.settings.jwt_public_key
        return self.settings.jwt_secret

    def verify(self, token: str | None) -> User:
        if not token:
            raise AuthError("Authorization header is missing")
        try:
            claims = jwt.decode(
                token, self._key_for(token), algorithms=self.algorithms,
                audience=self.settings.jwt_audience, options={"require": ["sub", "exp", "aud"]})
        except jwt.ExpiredSignatureError:
            raise AuthError("Token has expired") from None
        except (jwt.InvalidTokenError, jwt.PyJWKClientError, ValueError) as exc:
            raise AuthError(f"Invalid token: {exc}") from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 200:
            raise AuthError("Invalid token: bad 'sub' claim")
        role = claims.get("role") if isinstance(claims.get("role"), str) else "authenticated"
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        return User(id=sub, email=email, role=role)


def issue_token(settings: Settings, user_id: str, *, email: str | None = None, admin: bool = False,
                ttl_s: int = 30 * 24 * 3600) -> str:
    """A token the local stack accepts (HS256 with the configured secret)."""
    now = int(time.time())
    claims = {"sub": user_id, "email": email or f"{user_id}@example.com", "aud": settings.jwt_audience,
              "role": "admin" if admin else "authenticated", "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
