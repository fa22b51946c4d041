"""User commands: get-or-create from the token's claims, email, name, time zone, notification
preferences (with the signed unsubscribe link), and the strongly consistent reads of the record.

Every command is a get-or-create: a user with no stream yet is first recorded from the token's
claims, in the same append as the change, so the record never lacks its ``UserCreated``. Reads fold
the stream on this side (like ``GET /api/credits``), so a client sees its own change on the very
next request; a user never recorded reads as the defaults from the claims and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time

from schemas.events.base import Event
from services.domain.notifications.ids import mail_day_id
from services.domain.users.user import UserAccount, user_stream_id
from services.infra.appending import decide_and_append
from services.infra.auth import User
from services.infra.eventstore import EventStore
from services.infra.store_contract import NewEvent, utcnow

KEEP = object()  # "leave this field as it is" (a PUT that does not name the name)


class UserCommands:
    def __init__(self, store: EventStore, notifications: EventStore | None = None,
                 now: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.notifications = notifications
        self.now = now

    # -- reads --------------------------------------------------------------------------------

    def load(self, user_id: str) -> UserAccount:
        events = self.store.read_stream(user_stream_id(user_id))
        return UserAccount.from_events(user_id, [(e.decode(), e.occurred_at) for e in events])

    def view(self, user: User) -> UserAccount:
        """The recorded user, or the one the claims would create (nothing written)."""
        account = self.load(user.id)
        now = self.now()
        for event in account.create(user.id, user.email):
            account.apply(event, now)
        return account

    def emails_sent_today(self, user_id: str) -> tuple[int, datetime]:
        """Emails counted against today's cap (the notifier's mail-day stream) and the UTC midnight
        the count started from."""
        today = self.now().astimezone(UTC).date()
        midnight = datetime.combine(today, time(0), tzinfo=UTC)
        if self.notifications is None:
            return 0, midnight
        return len(self.notifications.read_stream(mail_day_id(user_id, today.isoformat()))), midnight

    # -- commands -----------------------------------------------------------------------------

    def _change(self, user: User, decide: Callable[[UserAccount], list[Event]]) -> tuple[UserAccount, bool]:
        """Create the user from the claims if needed, then ``decide``, all in one append; the
        account as recorded and whether this call created it."""
        def record(account: UserAccount) -> tuple[UserAccount, bool]:
            base, now = account.stream_version, self.now()
            events = account.create(user.id, user.email)
            for event in events:
                account.apply(event, now)
            created = bool(events)
            changes = decide(account)
            for event in changes:
                account.apply(event, now)
            events += changes
            if events:
                self.store.append([NewEvent(user_stream_id(user.id), base + i + 1, event, user_id=user.id,
                                            occurred_at=now) for i, event in enumerate(events)])
            return account, created

        return decide_and_append(lambda: self.load(user.id), record)

    def get_or_create(self, user: User) -> tuple[UserAccount, bool]:
        return self._change(user, lambda account: [])

    def change_email(self, user: User, email: str) -> UserAccount:
        return self._change(user, lambda account: account.change_email(email))[0]

    def set_timezone(self, user: User, timezone: str) -> UserAccount:
        return self._change(user, lambda account: account.set_timezone(timezone))[0]

    def set_preferences(self, user: User, preferences: dict[str, bool], daily_limit: int | None,
                        email: str | None = None) -> UserAccount:
        """AutoGPT's preferences POST: the switches given (merged), the cap, and the email when one
        is given and differs."""
        def decide(account: UserAccount) -> list[Event]:
            events = account.change_email(email) if email is not None else []
            return events + account.set_preferences(preferences, daily_limit)

        return self._change(user, decide)[0]

    def update_profile(self, user: User, *, name: object = KEEP, email: str | None = None,
                       timezone: str | None = None) -> UserAccount:
        """``PUT /api/user``: each field given changes, in one append (all or none)."""
        def decide(account: UserAccount) -> list[Event]:
            events: list[Event] = []
            if name is not KEEP:
                events += account.change_name(name)  # type: ignore[arg-type]
            if email is not None:
                events += account.change_email(email)
            if timezone is not None:
                events += account.set_timezone(timezone)
            return events

        return self._change(user, decide)[0]

    def unsubscribe(self, user_id: str) -> UserAccount:
        """The signed link in an email: every email off. A user never recorded has no address to
        mail, so there is nothing to turn off and nothing is written."""
        def record(account: UserAccount) -> UserAccount:
            if not account.exists:
                return account
            base, now = account.stream_version, self.now()
            events = account.unsubscribe()
            if events:
                self.store.append([NewEvent(user_stream_id(user_id), base + i + 1, event, user_id=user_id,
                                            occurred_at=now) for i, event in enumerate(events)])
                for event in events:
                    account.apply(event, now)
            return account

        return decide_and_append(lambda: self.load(user_id), record)
