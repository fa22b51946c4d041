"""Events of the schedules context: runs that start themselves on a cron timetable.

One stream per schedule (its own UUID). The stream is the schedule's whole truth, the scheduler's
included: there is no job store beside it. Each tick the scheduler handles is one append at the
stream's expected version (``ScheduleFired`` or ``ScheduleTicksSkipped``), so two schedulers racing
for one tick cannot both record it, and the run a fire queues has an id derived from (schedule,
tick), so queueing it twice queues it once.

Times named ``*_at`` are UTC instants; the cron expression is read in the schedule's ``timezone``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from schemas.events.base import Event


class ScheduleEvent(Event):
    CONTEXT: ClassVar[str] = "schedules"


class ScheduleCreated(ScheduleEvent):
    """A schedule for one graph version, with the run's inputs and credential references (a
    preset's values already merged in). Ticks count from ``starts_at`` (the creation)."""

    TYPE: ClassVar[str] = "ScheduleCreated"
    user_id: str
    graph_id: str
    graph_version: int
    agent_name: str = ""
    name: str
    cron: str
    timezone: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, Any] = Field(default_factory=dict)
    preset_id: str | None = None
    starts_at: datetime


class SchedulePaused(ScheduleEvent):
    """No tick fires until it is resumed; ticks that fall in the pause are not missed ticks."""

    TYPE: ClassVar[str] = "SchedulePaused"
    paused_by: str


class ScheduleResumed(ScheduleEvent):
    """Ticks count again from ``resumed_at``."""

    TYPE: ClassVar[str] = "ScheduleResumed"
    resumed_by: str
    resumed_at: datetime


class ScheduleDeleted(ScheduleEvent):
    """The schedule ended for good. ``reason``: ``user`` (deleted by its owner), ``graph_deleted``
    (its graph was deleted), ``graph_unavailable`` (the user can no longer run that graph version,
    found when a tick came)."""

    TYPE: ClassVar[str] = "ScheduleDeleted"
    reason: str = "user"
    message: str = ""


class ScheduleFired(ScheduleEvent):
    """One tick handled by starting a run: ``tick_at`` is the timetable's time (or the request's,
    when ``manual``: "run now"), ``execution_id`` the run's id, derived from (schedule, tick)."""

    TYPE: ClassVar[str] = "ScheduleFired"
    tick_at: datetime
    execution_id: str
    manual: bool = False


class ScheduleTicksSkipped(ScheduleEvent):
    """Ticks missed while no scheduler ran, older than the grace period, recorded and not run (the
    misfire policy: only the latest missed tick runs, and only within the grace period).
    ``count`` stops at a cap (``count_capped``) so a long outage costs one bounded event."""

    TYPE: ClassVar[str] = "ScheduleTicksSkipped"
    first_tick_at: datetime
    last_tick_at: datetime | None = None
    count: int
    count_capped: bool = False
    handled_until: datetime
    reason: str = "missed"


class ScheduleRunRefused(ScheduleEvent):
    """A fired tick whose run was refused (``reason``: ``insufficient_credits``, ``invalid``); no run
    exists for it. The schedule stays and the next tick tries again."""

    TYPE: ClassVar[str] = "ScheduleRunRefused"
    tick_at: datetime
    execution_id: str
    reason: str
    message: str = ""
