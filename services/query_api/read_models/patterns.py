"""Text patterns for read-model queries: one escaping rule for every ILIKE search."""

from __future__ import annotations


def contains(term: str) -> str:
    """A case-insensitive *contains* pattern for ILIKE with ``%``, ``_`` and ``\\`` taken literally
    (a user typing ``50%`` searches for those characters, not a wildcard)."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
