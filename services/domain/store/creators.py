"""A creator's profile and the username it holds (pure).

A username is held by whoever last claimed it and has not released it (``Username``); a profile
change that takes a new username claims the new one and releases the old one in the same append,
so at every version of the store exactly one user holds a username or nobody does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events.base import Event
from schemas.events.store import ProfileSaved, UsernameClaimed, UsernameReleased
from services.domain.errors import ConflictError


@dataclass
class Username:
    username: str
    holder: str | None = None
    stream_version: int = 0

    @classmethod
    def from_events(cls, username: str, events: list[Event]) -> Username:
        held = cls(username)
        for event in events:
            held.stream_version += 1
            if isinstance(event, UsernameClaimed):
                held.holder = event.user_id
            elif isinstance(event, UsernameReleased):
                held.holder = None
        return held

    def claim(self, user_id: str) -> list[Event]:
        if self.holder == user_id:
            return []
        if self.holder is not None:
            raise ConflictError(f"Username {self.username!r} is already taken")
        return [UsernameClaimed(user_id=user_id, username=self.username)]

    def release(self, user_id: str) -> list[Event]:
        return [UsernameReleased(user_id=user_id)] if self.holder == user_id else []


@dataclass
class Profile:
    user_id: str
    username: str | None = None
    name: str = ""
    description: str = ""
    links: list[str] = field(default_factory=list)
    avatar_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    stream_version: int = 0

    @classmethod
    def from_events(cls, user_id: str, events: list[tuple[Event, datetime]]) -> Profile:
        profile = cls(user_id)
        for event, at in events:
            profile.apply(event, at)
        return profile

    def apply(self, event: Event, at: datetime | None = None) -> None:
        self.stream_version += 1
        if isinstance(event, ProfileSaved):
            self.username, self.name, self.description = event.username, event.name, event.description
            self.links, self.avatar_url = list(event.links), event.avatar_url
            self.created_at = self.created_at or at
            self.updated_at = at

    @property
    def exists(self) -> bool:
        return self.username is not None

    def save(self, **fields: Any) -> list[Event]:
        """The whole profile after the change; nothing when nothing changes."""
        current = {"username": self.username, "name": self.name, "description": self.description,
                   "links": self.links, "avatar_url": self.avatar_url}
        wanted = {**current, **{k: v for k, v in fields.items() if v is not None}}
        if wanted == current:
            return []
        return [ProfileSaved(user_id=self.user_id, **wanted)]
