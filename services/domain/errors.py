"""The one vocabulary of refusals: the reasons a command or a read answers "no" instead of acting.

Pure, with no HTTP in it: each kind says *why*, and ``services.infra.http_errors`` gives each kind its
status code, in one table that both APIs install. An exception that should reach a client as a
refusal subclasses one of these kinds (the store's ``ConcurrencyConflict``, the graph rules'
``GraphValidationError``, the ledger's ``InsufficientBalance``, ...), so the table never has to name it.

``message`` says what went wrong; ``detail`` is what the client reads as ``{"detail": ...}``. It is the
message, unless the refusal carries a structure (a graph's ``node_errors``) or keeps its internals
to itself (a lost race says only "retry", never which stream).
"""

from __future__ import annotations

from typing import Any


class DomainRefusal(Exception):
    """A refusal of no more particular kind (answered as bad input)."""

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = message if detail is None else detail


class NotFoundError(DomainRefusal):
    """The thing does not exist *for this user* (another user's graph looks missing)."""


class Forbidden(DomainRefusal):
    """The user may not do this, and may know the thing exists (an admin route, a disabled block,
    a system credential, an API key without the permission)."""


class ConflictError(DomainRefusal):
    """The thing's current state does not allow the command (a revoked key, a reused transaction
    key, a stream another writer changed first)."""


class InvalidCommand(DomainRefusal):
    """Bad input to a command or a read: a malformed id or value, something the rules refuse."""


class PreconditionRequired(DomainRefusal):
    """Something else must be done first (a store submission needs the creator's profile)."""


class InsufficientCredits(DomainRefusal):
    """The balance cannot pay for what was asked."""


class PayloadTooLarge(DomainRefusal):
    """What the command would record is over the event size limit."""


class Unavailable(DomainRefusal):
    """A truthful answer cannot be given right now (the read models are behind what was recorded);
    retry shortly. Never a reason to answer with stale data as if it were current."""

    retry_after_s = 1


class TimedOut(DomainRefusal):
    """Gave up waiting for an outcome, which may still come."""
