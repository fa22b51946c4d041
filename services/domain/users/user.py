"""The UserAccount aggregate: one user's record, from the sign-in token's claims to the choices the
user makes (email, name, time zone, notification switches and the daily email cap). Pure.

Its stream id is ``user_stream_id(user_id)``, a uuid5 of the token's ``sub``, so every process finds a
user's stream from the id alone. ``UserCreated`` is always version 1 of it: ``create`` is a
get-or-create, and two racing first requests record one user (the loser's append is refused as
a taken version, and on reload it finds the user made).

Each decision returns the events to record and records nothing when nothing would change, so a
repeated request is harmless. Preferences are a full map: a type the user never set is on
(AutoGPT's default), so a type added later reaches existing users.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from schemas.events.base import Event
from schemas.events.notifications import NotificationType
from schemas.events.users import (
    NotificationPreferencesSet,
    UserCreated,
    UserEmailChanged,
    UserNameChanged,
    UserTimezoneSet,
)
from services.domain.errors import NotFoundError
from services.domain.users import rules
from services.domain.users.rules import TIMEZONE_NOT_SET

# Fixed forever: changing it orphans every user's stream.
USER_NAMESPACE = uuid.UUID("5d3c9f0e-2b7a-4e61-a8d4-0f6e1c9b7a35")
DEFAULT_DAILY_LIMIT = 3  # AutoGPT's max_emails_per_day
UNSUBSCRIBE_LINK = "unsubscribe_link"


def user_stream_id(user_id: str) -> uuid.UUID:
    return uuid.uuid5(USER_NAMESPACE, f"user|{user_id}")


def all_on() -> dict[NotificationType, bool]:
    return dict.fromkeys(NotificationType, True)


@dataclass
class UserAccount:
    user_id: str
    email: str | None = None
    name: str | None = None
    timezone: str = TIMEZONE_NOT_SET
    created_at: datetime | None = None
    updated_at: datetime | None = None
    preferences: dict[NotificationType, bool] = field(default_factory=all_on)
    daily_limit: int = DEFAULT_DAILY_LIMIT
    stream_version: int = 0

    # -- folding ------------------------------------------------------------------------------

    @classmethod
    def from_events(cls, user_id: str, events: list[tuple[Event, datetime | None]]) -> UserAccount:
        account = cls(user_id)
        for event, at in events:
            account.apply(event, at)
        return account

    def apply(self, event: Event, at: datetime | None = None) -> None:
        self.stream_version += 1
        self.updated_at = at
        if isinstance(event, UserCreated):
            self.email, self.name, self.created_at = event.email, event.name, at
        elif isinstance(event, UserEmailChanged):
            self.email = event.email
        elif isinstance(event, UserNameChanged):
            self.name = event.name
        elif isinstance(event, UserTimezoneSet):
            self.timezone = event.timezone
        elif isinstance(event, NotificationPreferencesSet):
            self.preferences = {t: event.preferences.get(t, True) for t in NotificationType}
            self.daily_limit = event.daily_limit

    # -- reading ------------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return self.stream_version > 0  # UserCreated is always version 1

    def wants_email(self, notification_type: NotificationType | str) -> bool:
        """Whether the user's switch for this type is on (a type never set is on)."""
        try:
            return self.preferences.get(NotificationType(notification_type), True)
        except ValueError:
            return False

    # -- decisions ----------------------------------------------------------------------------

    def create(self, user_id: str, email: str | None, name: str | None = None) -> list[Event]:
        """Get-or-create from the token's claims: nothing when the user is already recorded. The
        claims come from the identity provider, not the client, so they are taken as they are
        (a token without an email gives a user without an address until they set one)."""
        if self.exists:
            return []
        return [UserCreated(user_id=user_id, email=email or "", name=rules.clean_name(name))]

    def _require(self) -> None:
        if not self.exists:
            raise NotFoundError(f"User {self.user_id!r} not found")

    def change_email(self, email: str) -> list[Event]:
        self._require()
        email = rules.clean_email(email)
        return [] if email == self.email else [UserEmailChanged(email=email)]

    def change_name(self, name: str | None) -> list[Event]:
        self._require()
        name = rules.clean_name(name)
        return [] if name == self.name else [UserNameChanged(name=name)]

    def set_timezone(self, timezone: str) -> list[Event]:
        self._require()
        timezone = rules.check_timezone(timezone)
        return [] if timezone == self.timezone else [UserTimezoneSet(timezone=timezone)]

    def set_preferences(self, preferences: dict[str, bool], daily_limit: int | None = None) -> list[Event]:
        """Merge: the types present overwrite, the others keep their switch; ``daily_limit`` None
        keeps the cap. The event carries the whole resulting map."""
        self._require()
        merged = {**self.preferences, **rules.parse_preferences(preferences)}
        limit = self.daily_limit if daily_limit is None else rules.check_daily_limit(daily_limit)
        return self._preferences_set(merged, limit, "preferences")

    def unsubscribe(self) -> list[Event]:
        """The signed link in an email: every type's email off; the daily cap stays as it was."""
        self._require()
        return self._preferences_set(dict.fromkeys(NotificationType, False), self.daily_limit, UNSUBSCRIBE_LINK)

    def _preferences_set(self, preferences: dict[NotificationType, bool], daily_limit: int, via: str) -> list[Event]:
        if preferences == self.preferences and daily_limit == self.daily_limit:
            return []
        return [NotificationPreferencesSet(preferences=preferences, daily_limit=daily_limit, via=via)]
