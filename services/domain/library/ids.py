"""Stream ids of the library context (pure).

A library agent's id is its graph's id masked with a key derived from its user (a XOR of the
128 bits). So the id alone names the graph for its owner, with no lookup and no event needed to
exist (an entry for a user's own graph is born with the graph), and each user's entries for one
graph are one stream. Presented by anyone else, the id unmasks to a graph they do not have, so it
answers 404 like any unknown id. Masks are not secrets: access is decided by who asks.

A user's folder tree is one stream named after the user. Presets are plain UUIDs.
"""

from __future__ import annotations

import uuid

# Fixed forever: changing either orphans every recorded stream.
LIBRARY_AGENT_NAMESPACE = uuid.UUID("6a1d3c7e-52b4-4f0e-9a8d-1e7b0c25f4a6")
FOLDER_TREE_NAMESPACE = uuid.UUID("d94f0b2a-8e61-4c3d-a7f5-30b6e9c1d782")


def _mask(user_id: str) -> int:
    return uuid.uuid5(LIBRARY_AGENT_NAMESPACE, user_id).int


def library_agent_id(user_id: str, graph_id: str | uuid.UUID) -> uuid.UUID:
    return uuid.UUID(int=uuid.UUID(str(graph_id)).int ^ _mask(user_id))


def graph_of_library_agent(user_id: str, library_agent_id: str | uuid.UUID) -> str:
    """The graph id that ``library_agent_id`` names for ``user_id`` (the inverse of the mask)."""
    return str(uuid.UUID(int=uuid.UUID(str(library_agent_id)).int ^ _mask(user_id)))


def folder_tree_id(user_id: str) -> uuid.UUID:
    return uuid.uuid5(FOLDER_TREE_NAMESPACE, user_id)
