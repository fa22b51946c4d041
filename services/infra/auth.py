"""Bearer-JWT authentication shared by the APIs and the WebSocket.

Tokens must carry ``sub``, ``aud`` (``authenticated``) and ``exp``; ``role == "admin"`` marks an
administrator. The accepted algorithms are fixed by configuration (never taken from the token):
HS256 with a shared secret by default, RS256/ES256 with a PEM public key or a JWKS URL.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import jwt

from services.infra.settings import Settings


class AuthError(Exception):
    """Missing, malformed, expired or otherwise unacceptable credentials (HTTP 401)."""


class NoSubject(AuthError):
    """A token that verifies but names no user (no usable ``sub``): AutoGPT's WebSocket closes
    4002 for it, 4003 for any other bad token."""


@dataclass(frozen=True)
class User:
    id: str
    email: str | None = None
    role: str = "authenticated"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


VERIFIED_CACHE_SIZE = 4096


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.algorithms = list(settings.jwt_algorithms)
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None
        # token -> (user, exp): a client sends the same token on every request, and checking its
        # signature again each time was a tenth of a simple read's CPU. Entries die at ``exp``.
        self._verified: OrderedDict[str, tuple[User, float]] = OrderedDict()

    def _key_for(self, token: str):
        if self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key
        if self.settings.jwt_public_key:
            return self.settings.jwt_public_key
        return self.settings.jwt_secret

    @property
    def may_fetch_keys(self) -> bool:
        """Whether verifying can block on the network (a JWKS endpoint)."""
        return self._jwks is not None

    def verify(self, token: str | None) -> User:
        if not token:
            raise AuthError("Authorization header is missing")
        cached = self._verified.get(token)
        if cached is not None:
            if time.time() < cached[1]:
                return cached[0]
            self._verified.pop(token, None)
        user, exp = self._verify_uncached(token)
        self._verified[token] = (user, exp)
        while len(self._verified) > VERIFIED_CACHE_SIZE:
            try:
                self._verified.popitem(last=False)
            except KeyError:  # emptied by another thread meanwhile
                break
        return user

    def _verify_uncached(self, token: str) -> tuple[User, float]:
        try:
            claims = jwt.decode(
                token, self._key_for(token), algorithms=self.algorithms,
                audience=self.settings.jwt_audience, options={"require": ["sub", "exp", "aud"]})
        except jwt.ExpiredSignatureError:
            raise AuthError("Token has expired") from None
        except jwt.MissingRequiredClaimError as exc:
            raise (NoSubject if exc.claim == "sub" else AuthError)(token_refusal(exc)) from None
        except (jwt.InvalidTokenError, jwt.PyJWKClientError, ValueError) as exc:
            raise AuthError(token_refusal(exc)) from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 200:
            raise NoSubject("Invalid token: bad 'sub' claim")
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, (int, float)):  # PyJWT also takes "exp": "1900000000"
            raise AuthError("Invalid token: bad 'exp' claim")
        role = claims.get("role") if isinstance(claims.get("role"), str) else "authenticated"
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        return User(id=sub, email=email, role=role), float(claims["exp"])


# Why a token was refused, in words of our own: PyJWT's messages quote decoder internals (a codec
# error with the offending bytes, library wording that changes between versions).
_REFUSAL_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.DecodeError, "malformed token"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.ImmatureSignatureError, "not valid yet"),
    (jwt.InvalidIssuedAtError, "issued in the future"),
    (jwt.PyJWKClientError, "signing key not found"),
)


def token_refusal(exc: Exception) -> str:
    """``Invalid token`` plus a short reason class for a refused token (never PyJWT's text)."""
    if isinstance(exc, jwt.MissingRequiredClaimError) and exc.claim in ("sub", "exp", "aud"):
        return f"Invalid token: missing '{exc.claim}' claim"
    reason = next((text for cls, text in _REFUSAL_REASONS if isinstance(exc, cls)), None)
    return f"Invalid token: {reason}" if reason else "Invalid token"


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
