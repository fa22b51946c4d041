"""Stream ids of the store context (pure): derived from what makes each thing unique, so that
uniqueness is the store's optimistic concurrency on one stream (``schemas/events/store.py``)."""

from __future__ import annotations

import uuid

# Fixed forever: changing one orphans every recorded stream of its kind.
PROFILE_NAMESPACE = uuid.UUID("0e7c6b1d-35a2-4f8e-9d41-6b2a8f3c5e17")
USERNAME_NAMESPACE = uuid.UUID("a3f95d20-6c1b-4e7a-8b34-d92e0c4f7a58")
LISTING_NAMESPACE = uuid.UUID("5b8d2e4f-1a7c-4d93-b6e0-3f9a1c7d2b84")
SLUG_NAMESPACE = uuid.UUID("8f1c3a5e-7b9d-4c2e-a6f0-1d3b5c7e9f21")
PUBLICATION_NAMESPACE = uuid.UUID("c71e0a93-4d5b-4f26-a8e9-2b6d4f1e3c05")
REVIEW_NAMESPACE = uuid.UUID("e2a4c6f8-0b1d-4e3f-9a5c-7d8e9f0a1b2c")


def profile_id(user_id: str) -> uuid.UUID:
    return uuid.uuid5(PROFILE_NAMESPACE, user_id)


def username_id(username: str) -> uuid.UUID:
    """Case-insensitive: ``Alice`` and ``alice`` are one username."""
    return uuid.uuid5(USERNAME_NAMESPACE, username.lower())


def listing_id(graph_id: str) -> uuid.UUID:
    """One listing per graph."""
    return uuid.uuid5(LISTING_NAMESPACE, str(graph_id))


def slug_id(user_id: str, slug: str) -> uuid.UUID:
    """A slug is unique per creator."""
    return uuid.uuid5(SLUG_NAMESPACE, f"{user_id}|{slug}")


def publication_id(graph_id: str, graph_version: int) -> uuid.UUID:
    return uuid.uuid5(PUBLICATION_NAMESPACE, f"{graph_id}|{graph_version}")


def review_id(user_id: str, listing_version_id: str) -> uuid.UUID:
    return uuid.uuid5(REVIEW_NAMESPACE, f"{user_id}|{listing_version_id}")
