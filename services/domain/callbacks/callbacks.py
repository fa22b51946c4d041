"""The UserCallbacks aggregate (pure): one user's completion webhooks, folded from one stream.

All of a user's callbacks share a stream so the cap (``MAX_CALLBACKS_PER_USER``) holds under
concurrent registrations (two racers meet at one version) and a run's end finds its owner's
callbacks with one read. Another user's callback id is simply not in the caller's stream, so it is
"not found" by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.events.base import Event
from schemas.events.callbacks import CallbackDeleted, CallbackRegistered, CallbackUpdated
from services.domain.callbacks import rules
from services.domain.errors import InvalidCommand, NotFoundError

UNCHANGED = object()  # an update argument the caller did not send


@dataclass
class Callback:
    callback_id: str
    user_id: str
    url: str
    events: list[str]
    graph_id: str | None
    description: str
    secret_ciphertext: str
    enabled: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def wants(self, event: str, graph_id: str) -> bool:
        return self.enabled and event in self.events and (self.graph_id is None or self.graph_id == graph_id)


@dataclass
class UserCallbacks:
    user_id: str
    callbacks: dict[str, Callback] = field(default_factory=dict)  # live ones, in registration order
    stream_version: int = 0

    @classmethod
    def from_events(cls, user_id: str, events: list[tuple[Event, datetime]]) -> UserCallbacks:
        state = cls(user_id)
        for event, at in events:
            state.apply(event, at)
        return state

    def apply(self, event: Event, at: datetime | None = None) -> None:
        self.stream_version += 1
        if isinstance(event, CallbackRegistered):
            self.callbacks[event.callback_id] = Callback(
                event.callback_id, event.user_id, event.url, list(event.events), event.graph_id, event.description,
                event.secret_ciphertext, created_at=at, updated_at=at)
        elif isinstance(event, CallbackUpdated):
            found = self.callbacks.get(event.callback_id)
            if found is None:
                return
            if event.url is not None:
                found.url = event.url
            if event.events is not None:
                found.events = list(event.events)
            if event.clear_graph_id:
                found.graph_id = None
            elif event.graph_id is not None:
                found.graph_id = event.graph_id
            if event.description is not None:
                found.description = event.description
            if event.enabled is not None:
                found.enabled = event.enabled
            found.updated_at = at
        elif isinstance(event, CallbackDeleted):
            self.callbacks.pop(event.callback_id, None)

    # -- reads ----------------------------------------------------------------------------------

    def get(self, callback_id: str) -> Callback:
        found = self.callbacks.get(callback_id)
        if found is None:
            raise NotFoundError(f"Webhook #{callback_id} not found")
        return found

    def matching(self, event: str, graph_id: str) -> list[Callback]:
        return [c for c in self.callbacks.values() if c.wants(event, graph_id)]

    # -- decisions ------------------------------------------------------------------------------

    def register(self, callback_id: str, *, url: str, events: list[str], graph_id: str | None, description: str | None,
                 secret_ciphertext: str) -> list[Event]:
        """``url`` already past the address policy (the caller resolved it)."""
        if len(self.callbacks) >= rules.MAX_CALLBACKS_PER_USER:
            raise InvalidCommand(f"A user may keep at most {rules.MAX_CALLBACKS_PER_USER} webhooks; delete one first")
        return [CallbackRegistered(callback_id=callback_id, user_id=self.user_id, url=rules.check_url(url),
                                   events=rules.check_events(events), graph_id=graph_id,
                                   description=rules.check_description(description),
                                   secret_ciphertext=secret_ciphertext)]

    def update(self, callback_id: str, *, url=UNCHANGED, events=UNCHANGED, graph_id=UNCHANGED,
               description=UNCHANGED, enabled=UNCHANGED) -> list[Event]:
        """Only what the caller sent and what differs; ``graph_id=None`` removes the graph filter."""
        current = self.get(callback_id)
        change: dict = {}
        if url is not UNCHANGED and rules.check_url(url) != current.url:
            change["url"] = rules.check_url(url)
        if events is not UNCHANGED:
            if events is None:
                raise InvalidCommand("events may not be null")
            if (checked := rules.check_events(events)) != current.events:
                change["events"] = checked
        if graph_id is not UNCHANGED and graph_id != current.graph_id:
            change.update({"clear_graph_id": True} if graph_id is None else {"graph_id": graph_id})
        if description is not UNCHANGED and (text := rules.check_description(description)) != current.description:
            change["description"] = text
        if enabled is not UNCHANGED:
            if enabled is None:
                raise InvalidCommand("enabled may not be null")
            if enabled != current.enabled:
                change["enabled"] = enabled
        return [CallbackUpdated(callback_id=callback_id, **change)] if change else []

    def delete(self, callback_id: str) -> list[Event]:
        self.get(callback_id)
        return [CallbackDeleted(callback_id=callback_id)]
