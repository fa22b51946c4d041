"""The Schedule aggregate (pure): a graph version run on a timetable, and which ticks it handled.

State is folded from the schedule's own stream; ``decide_tick`` is the misfire policy, the one
place that says what a scheduler does with the time that passed since the last handled tick:

- nothing is due: nothing is recorded;
- the latest due tick is within the grace period: it fires (one run), and any older due ticks are
  recorded as skipped in the same append;
- every due tick is older than the grace period (the schedulers were down): they are recorded as
  skipped and nothing runs; the timetable goes on from now.

A paused schedule handles no tick; resuming counts ticks again from the resume, so the pause is
never a "missed" period. AutoGPT's scheduler runs a coalesced misfire however late it is; a run
hours late is rarely what a user wants (a "9:00 report" at 17:00), hence the grace period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.events.base import Event
from schemas.events.schedules import (
    ScheduleCreated,
    ScheduleDeleted,
    ScheduleFired,
    SchedulePaused,
    ScheduleResumed,
    ScheduleRunRefused,
    ScheduleTicksSkipped,
)
from services.domain.errors import ConflictError, NotFoundError
from services.domain.schedules.ids import tick_run_id
from services.domain.schedules.timetable import ticks_after

SKIP_COUNT_CAP = 10_000  # ticks counted one by one when recording a long outage
REFUSED = "refused: "


@dataclass(frozen=True)
class Fire:
    tick_at: datetime
    execution_id: str
    manual: bool
    refused: str | None = None


def outcome(fire: Fire | None) -> str | None:
    """What the last fire did, as the REST shapes show it: ``fired`` or ``refused: <reason>``."""
    if fire is None:
        return None
    return f"{REFUSED}{fire.refused}" if fire.refused else "fired"


@dataclass
class Schedule:
    schedule_id: str
    user_id: str | None = None
    graph_id: str = ""
    graph_version: int = 0
    agent_name: str = ""
    name: str = ""
    cron: str = ""
    timezone: str = "UTC"
    inputs: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, Any] = field(default_factory=dict)
    preset_id: str | None = None
    paused: bool = False
    deleted: bool = False
    handled_until: datetime | None = None  # every tick at or before this instant is handled
    last_fire: Fire | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    stream_version: int = 0

    @classmethod
    def from_events(cls, schedule_id: str, events: list[tuple[Event, datetime]]) -> Schedule:
        schedule = cls(schedule_id)
        for event, at in events:
            schedule.apply(event, at)
        return schedule

    def apply(self, event: Event, at: datetime | None = None) -> None:
        self.stream_version += 1
        self.updated_at = at
        if isinstance(event, ScheduleCreated):
            self.user_id, self.graph_id, self.graph_version = event.user_id, event.graph_id, event.graph_version
            self.agent_name, self.name, self.cron, self.timezone = event.agent_name, event.name, event.cron, \
                event.timezone
            self.inputs, self.credentials, self.preset_id = dict(event.inputs), dict(event.credentials), \
                event.preset_id
            self.handled_until, self.created_at = event.starts_at, at
        elif isinstance(event, SchedulePaused):
            self.paused = True
        elif isinstance(event, ScheduleResumed):
            self.paused = False
            self.handled_until = max(self.handled_until or event.resumed_at, event.resumed_at)
        elif isinstance(event, ScheduleDeleted):
            self.deleted = True
        elif isinstance(event, ScheduleFired):
            self.last_fire = Fire(event.tick_at, event.execution_id, event.manual)
            if not event.manual:
                self.handled_until = event.tick_at
        elif isinstance(event, ScheduleTicksSkipped):
            self.handled_until = event.handled_until
        elif isinstance(event, ScheduleRunRefused):
            if self.last_fire is not None and self.last_fire.execution_id == event.execution_id:
                self.last_fire = Fire(self.last_fire.tick_at, self.last_fire.execution_id, self.last_fire.manual,
                                      event.reason)

    # -- reads ----------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.user_id is not None and not self.deleted and not self.paused

    @property
    def status(self) -> str:
        return "deleted" if self.deleted else "paused" if self.paused else "active"

    def next_due(self) -> datetime | None:
        """The next tick the schedulers must handle (``None``: paused or deleted)."""
        if not self.active or self.handled_until is None:
            return None
        return next(ticks_after(self.cron, self.timezone, self.handled_until))

    def unsettled_fire(self) -> Fire | None:
        """The last fire, unless its run is known refused: its run may still have to be queued."""
        return self.last_fire if self.last_fire is not None and self.last_fire.refused is None else None

    def require_owner(self, user_id: str) -> None:
        if self.user_id is None or self.user_id != user_id or self.deleted:
            raise NotFoundError(f"Schedule #{self.schedule_id} not found")

    # -- decisions ------------------------------------------------------------------------------

    def decide_tick(self, now: datetime, grace: timedelta) -> list[Event]:
        """What a scheduler records at ``now`` (the misfire policy in the module docstring)."""
        if not self.active or self.handled_until is None:
            return []
        ticks = ticks_after(self.cron, self.timezone, self.handled_until)
        first = next(ticks)
        if first > now:
            return []
        due: list[datetime] = [first]
        capped = False
        for tick in ticks:
            if tick > now:
                break
            if len(due) >= SKIP_COUNT_CAP:
                capped = True
                break
            due.append(tick)
        latest = self._latest_before(now, grace) if capped else due[-1]
        fire = latest if latest is not None and now - latest <= grace else None
        skipped = due if capped or fire is None else due[:-1]
        events: list[Event] = []
        if skipped:
            # every tick up to the fire (or, with none, up to now) is handled by this append
            handled = now if fire is None else fire - timedelta(microseconds=1)
            events.append(ScheduleTicksSkipped(first_tick_at=skipped[0], last_tick_at=None if capped else skipped[-1],
                                               count=len(skipped), count_capped=capped, handled_until=handled))
        if fire is not None:
            events.append(ScheduleFired(tick_at=fire, execution_id=str(tick_run_id(self.schedule_id, fire))))
        return events

    def _latest_before(self, now: datetime, grace: timedelta) -> datetime | None:
        """After a capped count: the latest tick at or before ``now`` within the grace period."""
        latest = None
        for tick in ticks_after(self.cron, self.timezone, now - grace - timedelta(microseconds=1)):
            if tick > now:
                break
            latest = tick
        return latest

    def decide_run_now(self, now: datetime) -> list[Event]:
        if self.deleted:
            raise NotFoundError(f"Schedule #{self.schedule_id} not found")
        return [ScheduleFired(tick_at=now, execution_id=str(tick_run_id(self.schedule_id, now, manual=True)),
                              manual=True)]

    def pause(self, user_id: str) -> list[Event]:
        return [] if self.paused else [SchedulePaused(paused_by=user_id)]

    def resume(self, user_id: str, now: datetime) -> list[Event]:
        if not self.paused:
            return []
        return [ScheduleResumed(resumed_by=user_id, resumed_at=now)]

    def delete(self, reason: str = "user", message: str = "") -> list[Event]:
        if self.deleted:
            raise ConflictError(f"Schedule #{self.schedule_id} is already deleted")
        return [ScheduleDeleted(reason=reason, message=message)]

    def refused(self, fire: Fire, reason: str, message: str) -> list[Event]:
        return [ScheduleRunRefused(tick_at=fire.tick_at, execution_id=fire.execution_id, reason=reason,
                                   message=message[:500])]
