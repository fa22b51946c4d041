"""The scheduler process (``agentloom serve scheduler``): finds due schedules and fires their ticks.

It keeps no state of its own that matters. Which schedules are due comes from ``rm_schedules``
(``next_fire_at``); what a tick does is decided on the schedule's stream by
``ScheduleCommands.fire_due`` at the stream's expected version, so any number of schedulers may run
side by side (or be killed at any point): of two racing for one tick, one records it and the other
loses the append and moves on. A sweep finds fires whose run never got queued (a crash between
the two writes) and queues them under their derived ids.

Lateness (how long after its tick a fire was recorded) is kept for ``status`` and the heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

from services.command_api.application.bootstrap import CommandServices
from services.command_api.application.schedules import ScheduleCommands
from services.infra.settings import Settings
from services.infra.store_contract import utcnow

log = logging.getLogger(__name__)

BATCH = 500  # due schedules handled per pass
PARALLEL = 8  # schedules handled at once (threads; concurrent runs share the execute path's group commits)
SWEEP_EVERY_S = 5.0
UNSETTLED_AFTER = timedelta(seconds=5)  # a fire this old with no run is a crash's leftover

_DUE = ("SELECT schedule_id, next_fire_at FROM rm_schedules WHERE status = 'active' AND next_fire_at <= %s "
        "ORDER BY next_fire_at LIMIT %s")
_EARLIEST = "SELECT min(next_fire_at) AS at FROM rm_schedules WHERE status = 'active'"
_UNSETTLED = ("SELECT s.schedule_id FROM rm_schedules s WHERE s.status <> 'deleted' AND s.last_outcome = 'fired' "
              "AND s.last_fired_logged < %s AND NOT EXISTS (SELECT 1 FROM rm_executions e "
              "WHERE e.execution_id = s.last_execution_id) LIMIT 100")


@dataclass
class SchedulerStats:
    passes: int = 0
    fired: int = 0
    skipped: int = 0
    settled: int = 0
    errors: int = 0
    lateness_s: deque[float] = field(default_factory=lambda: deque(maxlen=1000))

    def lateness_p99(self) -> float | None:
        if not self.lateness_s:
            return None
        ordered = sorted(self.lateness_s)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class SchedulerService:
    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utcnow,
                 poll_s: float | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.poll_s = poll_s if poll_s is not None else settings.scheduler_poll_s
        self.services = CommandServices(settings)
        s = self.services
        self.schedules = ScheduleCommands(s.stores["schedules"], s.graph_commands, s.execution_commands,
                                          s.preset_commands, s.user_commands, s.read_models, clock=clock,
                                          grace=timedelta(seconds=settings.scheduler_misfire_grace_s))
        self.read_models = s.read_models
        self.stats = SchedulerStats()
        self.ready = False
        # per schedule, the next instant its stream says it is due: a lagging read model does not
        # make this scheduler load the same stream again and again
        self._not_before: dict[str, datetime] = {}
        self._last_sweep = 0.0

    def status(self) -> tuple[bool, dict]:
        return self.ready, {"passes": self.stats.passes, "fired": self.stats.fired, "skipped": self.stats.skipped,
                            "settled": self.stats.settled,
                            "errors": self.stats.errors, "lateness_p99_s": self.stats.lateness_p99()}

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.to_thread(self.read_models.open)
        self.ready = True
        try:
            while not stop.is_set():
                try:
                    await self.run_once()
                except Exception:  # the database may be away for a while: keep trying
                    self.stats.errors += 1
                    log.exception("scheduler: pass failed")
                try:
                    await asyncio.wait_for(stop.wait(), timeout=await self._pause())
                except TimeoutError:
                    pass
        finally:
            self.ready = False
            await asyncio.to_thread(self.read_models.close)
            await asyncio.to_thread(self.services.datastore.close)

    async def run_once(self) -> int:
        """One pass: every due schedule handled (a few at a time, so a minute boundary shared by many
        schedules is not served one by one), and every few seconds the unsettled fires."""
        now = self.clock()
        rows = await asyncio.to_thread(self.read_models.all, _DUE, (now, BATCH))
        before = self.stats.fired
        gate = asyncio.Semaphore(PARALLEL)

        async def handle(schedule_id: str) -> None:
            async with gate:
                try:
                    next_due = await asyncio.to_thread(self._fire, schedule_id, now)
                except Exception:
                    self.stats.errors += 1
                    log.exception("scheduler: schedule %s failed", schedule_id)
                    return
            if next_due is None:
                self._not_before.pop(schedule_id, None)
            else:
                self._not_before[schedule_id] = next_due

        due = [str(r["schedule_id"]) for r in rows]
        await asyncio.gather(*(handle(sid) for sid in due
                               if self._not_before.get(sid) is None or self._not_before[sid] <= now))
        self.stats.passes += 1
        if time.monotonic() - self._last_sweep >= SWEEP_EVERY_S:
            self._last_sweep = time.monotonic()
            await self.sweep()
        return self.stats.fired - before

    def _fire(self, schedule_id: str, now: datetime) -> datetime | None:
        outcome = self.schedules.fire_due(schedule_id, now)
        self.stats.skipped += outcome.skipped
        if outcome.fired_tick is not None:
            self.stats.fired += 1
            self.stats.lateness_s.append(max(0.0, (self.clock() - outcome.fired_tick).total_seconds()))
        return outcome.next_due

    async def sweep(self) -> None:
        """Queue the runs of fires a crashed scheduler recorded but never queued."""
        rows = await asyncio.to_thread(self.read_models.all, _UNSETTLED, (utcnow() - UNSETTLED_AFTER,))
        for row in rows:
            try:
                await asyncio.to_thread(self.schedules.settle, str(row["schedule_id"]))
                self.stats.settled += 1
            except Exception:
                self.stats.errors += 1
                log.exception("scheduler: settling schedule %s failed", row["schedule_id"])

    async def _pause(self) -> float:
        """Until the earliest next tick, at most ``poll_s``, at least 10 ms."""
        try:
            row = await asyncio.to_thread(self.read_models.one, _EARLIEST, ())
        except psycopg.Error:  # the next pass logs it
            return self.poll_s
        earliest = row["at"] if row else None
        if earliest is None:
            return self.poll_s
        return min(self.poll_s, max(0.01, (earliest - self.clock()).total_seconds()))
