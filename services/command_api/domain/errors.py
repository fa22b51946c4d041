"""Domain refusals of the command side (defined once in services.common.domain_errors, because the
credits ledger, shared with the executor, refuses in the same vocabulary)."""

from services.common.domain_errors import (ConflictError, DomainRefusal, Forbidden, InvalidCommand, NotFoundError,
                                           PayloadTooLarge)

__all__ = ["ConflictError", "DomainRefusal", "Forbidden", "InvalidCommand", "NotFoundError", "PayloadTooLarge"]
