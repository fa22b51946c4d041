"""Whether a graph version is published in the store (pure): the approved listing versions that
publish it. Another user may read and run exactly the versions published here, never more; the
graph's newest or active version is not what grants access."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.events.base import Event
from schemas.events.store import GraphVersionPublished, GraphVersionUnpublished


@dataclass
class Publication:
    graph_id: str
    graph_version: int
    by: set[str] = field(default_factory=set)  # approved listing versions publishing it
    stream_version: int = 0

    @classmethod
    def from_events(cls, graph_id: str, graph_version: int, events: list[Event]) -> Publication:
        publication = cls(graph_id, graph_version)
        for event in events:
            publication.stream_version += 1
            if isinstance(event, GraphVersionPublished):
                publication.by.add(event.listing_version_id)
            elif isinstance(event, GraphVersionUnpublished):
                publication.by.discard(event.listing_version_id)
        return publication

    @property
    def published(self) -> bool:
        return bool(self.by)

    def publish(self, listing_version_id: str) -> list[Event]:
        if listing_version_id in self.by:
            return []
        return [GraphVersionPublished(listing_version_id=listing_version_id, graph_id=self.graph_id,
                                      graph_version=self.graph_version)]

    def unpublish(self, listing_version_id: str) -> list[Event]:
        if listing_version_id not in self.by:
            return []
        return [GraphVersionUnpublished(listing_version_id=listing_version_id, graph_id=self.graph_id,
                                        graph_version=self.graph_version)]
