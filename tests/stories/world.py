"""The story harness: one world of stores per story, and its given / when / then steps.

A world holds one store per context, all of one kind (in memory, or PostgreSQL sharing a schema
with the module's other stories: ids and users are fresh per world, so stories never meet). "Then"
reads what each context's log gained since "when", so it sees every new event, on whatever stream
the command wrote, and a command that wrote somewhere unexpected fails the story.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from schemas.events.base import Event, event_class
from schemas.topics import CONTEXTS
from services.infra.auth import User
from services.infra.event_codec import RecordedEvent
from services.infra.store_contract import NewEvent

Result = TypeVar("Result")
MakeStore = Callable[[str], Any]  # context -> a store with EventStore's surface


@dataclass(frozen=True)
class Expect:
    """An expected new event: its type, its stream if given, and payload fields it must hold."""

    type: str
    stream: uuid.UUID | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def context(self) -> str:
        return event_class(self.type).CONTEXT


def expect(type_name: str, stream: uuid.UUID | str | None = None, **fields: Any) -> Expect:
    """A dict field matches a payload dict holding at least those keys (recursively); any other
    value must be equal."""
    return Expect(type_name, None if stream is None else uuid.UUID(str(stream)), fields)


def _holds(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and _holds(actual[k], v) for k, v in expected.items())
    return actual == expected


class World:
    def __init__(self, make_store: MakeStore) -> None:
        self.stores = {context: make_store(context) for context in CONTEXTS}
        self._suffix = uuid.uuid4().hex[:8]
        self._marks: dict[str, int] | None = None

    def store(self, context: str) -> Any:
        return self.stores[context]

    def user(self, name: str) -> User:
        """A user of this world only (the real store's schema is shared by a module's stories)."""
        return User(id=f"{name}-{self._suffix}", email=f"{name}@example.com")

    # -- given --------------------------------------------------------------------------------

    def given(self, stream_id: uuid.UUID, *events: Event, user_id: str | None = None) -> None:
        """The story's past: ``events`` recorded on the stream after whatever it holds."""
        store = self.stores[events[0].CONTEXT]
        start = store.stream_version(stream_id)
        store.append([NewEvent(stream_id, start + i + 1, event, user_id=user_id) for i, event in enumerate(events)])

    # -- when ---------------------------------------------------------------------------------

    def when(self, command: Callable[[], Result]) -> Result:
        self._marks = {context: store.head() for context, store in self.stores.items()}
        return command()

    def refused(self, error: type[BaseException], command: Callable[[], Any], match: str | None = None) -> Any:
        """When and then in one: ``command`` raises ``error`` and records nothing anywhere."""
        with pytest.raises(error, match=match) as caught:
            self.when(command)
        assert [e.type for e in self.new_events()] == [], "a refused command recorded events"
        return caught.value

    # -- then ---------------------------------------------------------------------------------

    def new_events(self) -> list[RecordedEvent]:
        """Everything recorded since ``when``: context by context, each in log order."""
        assert self._marks is not None, "then before when"
        return [e for context, mark in self._marks.items() for e in self.stores[context].read_log(after=mark)]

    def then(self, *expected: Expect) -> list[RecordedEvent]:
        """Exactly these new events (in log order within a context; across contexts in any order)."""
        ordered = sorted(expected, key=lambda x: CONTEXTS.index(x.context))
        new = self.new_events()
        assert [e.type for e in new] == [x.type for x in ordered]
        for recorded, wanted in zip(new, ordered):
            if wanted.stream is not None:
                assert recorded.stream_id == wanted.stream, f"{recorded.type} on another stream"
            for name, value in wanted.fields.items():
                assert _holds(recorded.payload.get(name), value), \
                    f"{recorded.type}.{name} is {recorded.payload.get(name)!r}, expected {value!r}"
        return new
