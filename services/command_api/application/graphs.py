"""Graph commands: create, new version, activate, delete.

Each command loads the Graph aggregate from its stream, lets the pure rules decide, and records
the resulting events in one atomic append. A concurrent writer makes the append fail with a
conflict; the command then reloads and decides again.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from schemas.events.base import Event
from schemas.graph import MAX_VERSION, GraphInput, GraphVersionBody
from services.domain.errors import ConflictError, NotFoundError, PayloadTooLarge
from services.domain.graphs import rules
from services.domain.graphs.graph import Graph
from services.domain.graphs.model import graph_model, to_version_body
from services.domain.graphs.recursion import check_recursion
from services.infra.appending import decide_and_append
from services.infra.auth import User
from services.infra.eventstore import EventStore
from services.infra.publications import Publications
from services.infra.store_contract import EventTooLarge, NewEvent, utcnow


class GraphCommands:
    def __init__(self, store: EventStore, cache_size: int = 2000, publications: Publications | None = None) -> None:
        # called with (user, graph id) once a delete is recorded; each ends its own context's
        # streams that start runs of the graph (a graph's schedules, its trigger webhooks)
        self.after_delete: list[Callable[[User, str], None]] = []
        self.store = store
        # the store's published graph versions: the versions others may run (None: only owners)
        self.publications = publications
        # Folded graphs by id. A cached graph is used only if the stream has no newer event (one
        # index lookup), so the cache can never answer with stale state.
        self._cache: OrderedDict[str, Graph] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def load(self, graph_id: str) -> Graph:
        stream = uuid.UUID(graph_id)
        with self._lock:
            cached = self._cache.get(graph_id)
        if cached is not None and self.store.stream_version(stream) == cached.stream_version:
            return cached  # read-only: decisions return events and never change the aggregate
        events = self.store.read_stream(stream)
        graph = Graph.from_events(graph_id, [e.decode() for e in events])
        if events:
            graph.created_at, graph.updated_at = events[0].occurred_at, events[-1].occurred_at
        with self._lock:
            self._cache[graph_id] = graph
            self._cache.move_to_end(graph_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return graph

    def _record(self, graph: Graph, events: list[Event], user_id: str) -> None:
        self._append([
            NewEvent(uuid.UUID(graph.graph_id), graph.stream_version + i + 1, event, user_id=user_id)
            for i, event in enumerate(events)])

    def _append(self, events: list[NewEvent]) -> None:
        try:
            self.store.append(events)
        except EventTooLarge as exc:
            raise PayloadTooLarge(f"Graph too large: it encodes to {exc.size} bytes, over the limit of "
                                  f"{exc.limit} bytes per recorded graph version") from None

    def _retrying(self, graph_id: str, decide: Callable[[Graph], Any]) -> Any:
        return decide_and_append(lambda: self.load(graph_id), decide)

    # -- commands -----------------------------------------------------------------------------

    def create(self, user: User, payload: GraphInput) -> dict[str, Any]:
        graph = rules.reassign_ids(payload, user_id=user.id, reassign_graph_id=True)
        graph = rules.validate_graph(graph, for_run=False)
        now = utcnow()
        main = to_version_body(graph, payload.version or 1)
        subs = [to_version_body(sub, sub.version or 1) for sub in graph.sub_graphs]
        check_recursion([main, *subs], lambda gid, v: self._stored_version(user.id, gid, v))
        self._append([
            NewEvent(uuid.UUID(body.id), 1, event, user_id=user.id, occurred_at=now)
            for body in [main, *subs]
            for event in Graph.create(user.id, body, is_active=True)])
        sub_models = [graph_model(b, user_id=user.id, created_at=now) for b in subs]
        return graph_model(main, user_id=user.id, created_at=now, sub_graphs=sub_models)

    def update(self, user: User, graph_id: str, payload: GraphInput) -> dict[str, Any]:
        def decide(graph: Graph) -> dict[str, Any]:
            graph.require_owner(user.id)
            if graph.next_version > MAX_VERSION:
                raise ConflictError(f"Graph #{graph_id} has reached the highest version ({MAX_VERSION}); "
                                    "create a new graph instead")
            fresh = rules.reassign_ids(payload.model_copy(update={"id": graph_id}), user_id=user.id)
            fresh = rules.validate_graph(fresh, for_run=False)
            body = to_version_body(fresh, graph.next_version)
            check_recursion([body], lambda gid, v: self._stored_version(user.id, gid, v))
            self._record(graph, graph.add_version(user.id, body, payload.is_active), user.id)
            return graph_model(body, user_id=user.id, created_at=utcnow(), is_active=payload.is_active)

        return self._retrying(graph_id, decide)

    def _stored_version(self, user_id: str, graph_id: str, version: int) -> GraphVersionBody | None:
        """A recorded version of one of the user's graphs, or None (for the recursion check)."""
        try:
            graph = self.load(graph_id)
        except ValueError:
            return None
        if not graph.exists or graph.user_id != user_id:
            return None
        return graph.versions.get(version)

    def set_active(self, user: User, graph_id: str, version: int) -> dict[str, Any]:
        def decide(graph: Graph) -> dict[str, Any]:
            self._record(graph, graph.set_active(user.id, version), user.id)
            return {"id": graph_id, "active_graph_version": version}

        return self._retrying(graph_id, decide)

    def delete(self, user: User, graph_id: str) -> dict[str, Any]:
        """Deletes the graph, then ends what would otherwise keep starting it (schedules, trigger
        webhooks: the ``after_delete`` hooks the composition root registers), before answering."""
        def decide(graph: Graph) -> dict[str, Any]:
            events = graph.delete(user.id)
            self._record(graph, events, user.id)
            return {"version_counts": events[0].version_count}

        answer = self._retrying(graph_id, decide)
        for hook in self.after_delete:
            hook(user, graph_id)
        return answer

    def version_for_run(self, user: User, graph_id: str, version: int) -> GraphVersionBody:
        """The owner's version, or, for anyone else, that exact version if the store publishes it
        (never the graph's newest or active one: access follows the version that runs)."""
        graph = self.load(graph_id)
        if graph.exists and graph.user_id != user.id and self.publications is not None \
                and version in graph.versions and self.publications.is_published(graph_id, version):
            return graph.versions[version]
        if not graph.exists or graph.user_id != user.id:
            raise NotFoundError(f"Graph #{graph_id} not found")
        return graph.version(user.id, version)
