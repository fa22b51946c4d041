"""Which graph versions the store publishes, read from their publication streams (the store log):
the one check that lets a user other than a graph's owner read or run a version of it."""

from __future__ import annotations

from services.domain.store.ids import publication_id
from services.domain.store.publication import Publication
from services.infra.eventstore import EventStore


class Publications:
    def __init__(self, store: EventStore) -> None:
        self.store = store  # the store context's log

    def load(self, graph_id: str, graph_version: int) -> Publication:
        events = self.store.read_stream(publication_id(graph_id, graph_version))
        return Publication.from_events(graph_id, graph_version, [e.decode() for e in events])

    def is_published(self, graph_id: str, graph_version: int) -> bool:
        return self.load(graph_id, graph_version).published
