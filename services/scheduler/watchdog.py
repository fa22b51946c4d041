"""The stuck-run watchdog (in the scheduler process): finds runs QUEUED or RUNNING with no event
for longer than ``stuck_queued_s`` / ``stuck_running_s``, records ``ExecutionStuckDetected`` in
each one's history and, with ``stuck_fail_runs``, ends it in the same append: every open node
TERMINATED and the run FAILED with a message, by the executor's own rule (``Planner.finish``).

Candidates come from ``rm_executions``; the verdict is made on the run's stream and appended at
its expected version, so a run that moved meanwhile (its owner recorded something) loses nothing:
the append is refused and the run is looked at again on a later pass. Any number of watchdogs may
run; each verdict is recorded once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from schemas.events.executions import ExecutionStuckDetected
from services.domain.executions.state import ExecutionState
from services.domain.executions.stuck import stuck
from services.executor.scheduling.planner import Planner
from services.infra.eventstore import EventStore
from services.infra.read_model_reader import ReadModelReader
from services.infra.settings import Settings
from services.infra.store_contract import ConcurrencyConflict, NewEvent, utcnow

log = logging.getLogger(__name__)
BATCH = 100

_CANDIDATES = ("SELECT execution_id FROM rm_executions WHERE (status = 'QUEUED' AND updated_at < %s) "
               "OR (status = 'RUNNING' AND updated_at < %s) ORDER BY updated_at LIMIT %s")


class StuckRunWatchdog:
    def __init__(self, settings: Settings, store: EventStore, read_models: ReadModelReader, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings, self.store, self.read_models, self.clock = settings, store, read_models, clock
        self.flagged = 0
        self.failed = 0

    async def run(self, stop: asyncio.Event) -> None:
        """A pass every ``watchdog_every_s``, the first one after the first pause (nothing can be
        stuck for long at start, and the read-model pool is being opened by the scheduler)."""
        while True:
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.settings.watchdog_every_s)
                return
            except TimeoutError:
                pass
            try:
                await self.run_once()
            except Exception:  # the database may be away for a while: keep trying
                log.exception("watchdog: pass failed")

    async def run_once(self) -> int:
        now = self.clock()
        s = self.settings
        rows = await asyncio.to_thread(self.read_models.all, _CANDIDATES, (
            now - timedelta(seconds=s.stuck_queued_s), now - timedelta(seconds=s.stuck_running_s), BATCH))
        handled = 0
        for row in rows:
            handled += await asyncio.to_thread(self.check, row["execution_id"])
        return handled

    def check(self, execution_id: uuid.UUID | str) -> int:
        """The verdict on one run, from its stream; 1 if something was recorded."""
        stream = uuid.UUID(str(execution_id))
        recorded = self.store.read_stream(stream)
        if not recorded:
            return 0
        state = ExecutionState.from_events(str(stream), ((r.decode(), r.occurred_at) for r in recorded))
        verdict = stuck(state, recorded[-1].occurred_at, self.clock(), queued_s=self.settings.stuck_queued_s,
                        running_s=self.settings.stuck_running_s)
        if verdict is None or (verdict.status in state.stuck_flagged and not self.settings.stuck_fail_runs):
            return 0
        events = []
        if verdict.status not in state.stuck_flagged:
            events.append(ExecutionStuckDetected(status=verdict.status, idle_s=round(verdict.idle_s, 3),
                                                 deadline_s=verdict.deadline_s))
        if self.settings.stuck_fail_runs and state.graph is not None:
            planner = Planner(state, max_node_executions=self.settings.max_node_executions)
            planner.finish(error=verdict.error)
            events += [event for event, _ in planner.take()]
        now = utcnow()
        try:
            self.store.append([NewEvent(stream, len(recorded) + i + 1, event, user_id=state.user_id, occurred_at=now)
                               for i, event in enumerate(events)])
        except ConcurrencyConflict:
            return 0  # the run moved meanwhile: not stuck after all
        self.flagged += 1
        self.failed += int(self.settings.stuck_fail_runs)
        log.warning("watchdog: execution %s stuck (%s for %.0f s)%s", stream, verdict.status, verdict.idle_s,
                    "; failed" if self.settings.stuck_fail_runs else "")
        return 1

