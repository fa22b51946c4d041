"""One user's emails of one UTC day, against their daily cap (pure).

Each email first takes a place here (``EmailQuotaUsed`` at the next stream version), so two
processes racing for the last place cannot both win: the loser's append meets a taken version,
folds again and finds the day full. A notification that already holds a place (a delivery retried
after a crash) keeps it rather than taking a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.events.base import Event
from schemas.events.notifications import EmailQuotaUsed


@dataclass
class MailDay:
    user_id: str
    day: str  # YYYY-MM-DD (UTC)
    stream_version: int = 0
    notification_ids: list[str] = field(default_factory=list)

    @classmethod
    def from_events(cls, user_id: str, day: str, events) -> MailDay:
        mail_day = cls(user_id, day)
        for event in events:
            mail_day.apply(event)
        return mail_day

    def apply(self, event: Event) -> None:
        self.stream_version += 1
        if isinstance(event, EmailQuotaUsed):
            self.notification_ids.append(event.notification_id)

    @property
    def used(self) -> int:
        return len(self.notification_ids)

    def take(self, notification_id: str, daily_limit: int) -> tuple[bool, list[Event]]:
        """``(allowed, events to record)``: allowed when the notification already holds a place or
        one is still free under ``daily_limit``."""
        if notification_id in self.notification_ids:
            return True, []
        if self.used >= daily_limit:
            return False, []
        return True, [EmailQuotaUsed(user_id=self.user_id, day=self.day, notification_id=notification_id)]
