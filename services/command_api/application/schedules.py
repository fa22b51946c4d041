"""Schedule commands: create, pause, resume, delete and "run now" for users; and the two steps a
scheduler takes on a due schedule, ``fire_due`` and ``settle``.

A tick is two writes to two logs: ``ScheduleFired`` on the schedule's stream, then the run's
``ExecutionQueued``. The first is decided at the stream's expected version, so of any number of
schedulers exactly one records a tick. The run's id is derived from (schedule, tick), so the second
write, made by whoever gets to it, queues one run however often it is attempted. A crash between
the two leaves a fire whose run is missing: ``settle`` queues it (a scheduler settles a schedule's
last fire before deciding its next tick, and sweeps for unsettled fires), and the derived id keeps
the late attempt from doubling a run that did get queued.

A run the platform refuses is recorded on the schedule (``ScheduleRunRefused``) with the reason:
for a zero balance the schedule stays (the execute path notifies the user, ZERO_BALANCE); when the
user can no longer run the graph version (deleted, or no longer published to them) the schedule
ends. The graph's delete command ends its schedules at once (``end_for_graph``); the check at the
tick is the backstop for schedules created while the delete ran and for access lost in the store.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.events.schedules import ScheduleCreated, ScheduleFired, ScheduleTicksSkipped
from services.command_api.application.executions import ExecutionCommands, credential_references
from services.command_api.application.graphs import GraphCommands
from services.command_api.application.presets import PresetCommands
from services.command_api.application.users import UserCommands
from services.domain.errors import (
    DomainRefusal,
    Forbidden,
    InsufficientCredits,
    InvalidCommand,
    NotFoundError,
    PayloadTooLarge,
)
from services.domain.graphs.run_inputs import check_inputs
from services.domain.schedules.rules import MAX_SCHEDULES_PER_USER, check_name
from services.domain.schedules.schedule import Fire, Schedule, outcome
from services.domain.schedules.shapes import schedule_view
from services.domain.schedules.timetable import check_cron
from services.domain.users.rules import TIMEZONE_NOT_SET, check_timezone
from services.infra.appending import decide_and_append
from services.infra.auth import User
from services.infra.eventstore import EventStore
from services.infra.read_model_reader import ReadModelReader
from services.infra.store_contract import ConcurrencyConflict, EventTooLarge, NewEvent, utcnow

log = logging.getLogger(__name__)
DEFAULT_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class TickOutcome:
    next_due: datetime | None  # when the schedule needs a look again (None: never)
    fired_tick: datetime | None = None  # the tick this call fired
    skipped: int = 0  # missed ticks this call recorded as skipped


def view(schedule: Schedule) -> dict[str, Any]:
    fire = schedule.last_fire
    return schedule_view(
        schedule_id=schedule.schedule_id, user_id=schedule.user_id or "", graph_id=schedule.graph_id,
        graph_version=schedule.graph_version, agent_name=schedule.agent_name, name=schedule.name,
        cron=schedule.cron, timezone=schedule.timezone, inputs=schedule.inputs, credentials=schedule.credentials,
        preset_id=schedule.preset_id, status=schedule.status, next_due=schedule.next_due(),
        last_fired_at=fire.tick_at if fire else None, last_execution_id=fire.execution_id if fire else None,
        last_outcome=outcome(fire), created_at=schedule.created_at)


class ScheduleCommands:
    def __init__(self, store: EventStore, graphs: GraphCommands, executions: ExecutionCommands,
                 presets: PresetCommands, users: UserCommands, read_models: ReadModelReader | None, *,
                 clock: Callable[[], datetime] = utcnow, grace: timedelta = DEFAULT_GRACE) -> None:
        self.store = store
        self.graphs = graphs
        self.executions = executions
        self.presets = presets
        self.users = users
        self.read_models = read_models
        self.clock = clock
        self.grace = grace

    def load(self, schedule_id: str) -> Schedule:
        events = self.store.read_stream(uuid.UUID(schedule_id))
        return Schedule.from_events(schedule_id, [(e.decode(), e.occurred_at) for e in events])

    def owned(self, user: User, schedule_id: str) -> Schedule:
        schedule = self.load(schedule_id)
        schedule.require_owner(user.id)
        return schedule

    def _append(self, schedule: Schedule, events: list) -> None:
        """At the version the schedule was loaded at (a lost race raises ``ConcurrencyConflict``)."""
        if not events:
            return
        now = utcnow()
        try:
            self.store.append([NewEvent(uuid.UUID(schedule.schedule_id), schedule.stream_version + i + 1, event,
                                        user_id=schedule.user_id, occurred_at=now)
                               for i, event in enumerate(events)])
        except EventTooLarge as exc:
            raise PayloadTooLarge(f"Schedule too large: it encodes to {exc.size} bytes, over the limit of "
                                  f"{exc.limit} bytes") from None
        for event in events:
            schedule.apply(event, now)

    def _change(self, user: User, schedule_id: str, decide: Callable[[Schedule], list]) -> Schedule:
        def record(schedule: Schedule) -> Schedule:
            schedule.require_owner(user.id)
            self._append(schedule, decide(schedule))
            return schedule

        return decide_and_append(lambda: self.load(schedule_id), record)

    # -- users' commands ------------------------------------------------------------------------

    def create(self, user: User, graph_id: str, *, graph_version: int | None, name: str, cron: str,
               inputs: dict[str, Any], credentials: dict[str, Any], timezone: str | None,
               preset_id: str | None) -> dict[str, Any]:
        """Validated now, as AutoGPT does: the cron expression, the time zone (the request's, else
        the user's saved one, else UTC) and the inputs against the graph version that will run
        (a preset's values merged under the request's)."""
        name, cron = check_name(name), check_cron(cron)
        zone = check_timezone(timezone) if timezone else self._user_zone(user)
        body = self.graphs.version_for_run(user, graph_id, graph_version)  # None: the active version
        if preset_id is not None:
            inputs, credentials = self.presets.for_run(user, preset_id, graph_id, body.version, inputs, credentials)
        else:
            check_inputs(body, inputs, for_run=True)
        self.executions.check_run(user, body, credentials)
        self._check_count(user)
        schedule = Schedule(str(uuid.uuid4()))
        self._append(schedule, [ScheduleCreated(
            user_id=user.id, graph_id=graph_id, graph_version=body.version, agent_name=body.name or "",
            name=name, cron=cron, timezone=zone, inputs=inputs, credentials=credential_references(credentials),
            preset_id=preset_id, starts_at=self.clock())])
        return view(schedule)

    def _user_zone(self, user: User) -> str:
        zone = self.users.load(user.id).timezone
        return "UTC" if not zone or zone == TIMEZONE_NOT_SET else zone

    def _check_count(self, user: User) -> None:
        if self.read_models is None:
            return
        row = self.read_models.one("SELECT count(*) AS n FROM rm_schedules WHERE user_id = %s AND status <> 'deleted'",
                                   (user.id,))
        if row and row["n"] >= MAX_SCHEDULES_PER_USER:
            raise InvalidCommand(f"A user may keep at most {MAX_SCHEDULES_PER_USER} schedules; delete one first")

    def delete(self, user: User, schedule_id: str) -> dict[str, str]:
        self._change(user, schedule_id, lambda s: s.delete("user"))
        return {"id": schedule_id}

    def pause(self, user: User, schedule_id: str) -> dict[str, Any]:
        return view(self._change(user, schedule_id, lambda s: s.pause(user.id)))

    def resume(self, user: User, schedule_id: str) -> dict[str, Any]:
        return view(self._change(user, schedule_id, lambda s: s.resume(user.id, self.clock())))

    def run_now(self, user: User, schedule_id: str) -> dict[str, Any]:
        """One run at once with the schedule's values, recorded on the schedule like a tick (a paused
        schedule may be run by hand). Refusals answer the caller as on execute."""
        schedule = self._change(user, schedule_id, lambda s: s.decide_run_now(self.clock()))
        fire = schedule.last_fire
        assert fire is not None
        try:
            return self._queue(schedule, fire)
        except DomainRefusal as exc:
            self._record_refusal(schedule, fire, exc)
            raise

    def view(self, user: User, schedule_id: str) -> dict[str, Any]:
        return view(self.owned(user, schedule_id))

    def end_for_graph(self, user: User, graph_id: str) -> None:
        """Every live schedule of a deleted graph ends (``after_delete`` hook of the graph's delete)."""
        self._end_all("graph_id = %s", (graph_id,), "graph_deleted", f"Graph #{graph_id} was deleted")

    def end_for_unpublished(self, owner_id: str, graph_id: str, graph_version: int) -> None:
        """Other users' schedules of a graph version the store no longer publishes end
        (``after_unpublish`` hook of the store's review); the owner's own schedules stay."""
        self._end_all("graph_id = %s AND graph_version = %s AND user_id <> %s", (graph_id, graph_version, owner_id),
                      "graph_unavailable", f"Graph #{graph_id} version {graph_version} is no longer published")

    def _end_all(self, where: str, params: tuple, reason: str, message: str) -> None:
        """End every live schedule the read model lists under ``where`` (each decided on its stream)."""
        if self.read_models is None:
            return
        rows = self.read_models.all(f"SELECT schedule_id FROM rm_schedules WHERE {where} "  # noqa: S608 - our clauses
                                    "AND status <> 'deleted'", params)
        for row in rows:
            self.end(str(row["schedule_id"]), reason, message)

    def end(self, schedule_id: str, reason: str, message: str) -> None:
        def record(schedule: Schedule) -> None:
            if schedule.user_id is not None and not schedule.deleted:
                self._append(schedule, schedule.delete(reason, message))

        decide_and_append(lambda: self.load(schedule_id), record)

    # -- the scheduler's steps ------------------------------------------------------------------

    def fire_due(self, schedule_id: str, now: datetime) -> TickOutcome:
        """Handle whatever is due on one schedule at ``now``. A lost race means another scheduler
        handled it: nothing to do but look again later."""
        schedule = self.load(schedule_id)
        self._settle(schedule)
        events = schedule.decide_tick(now, self.grace)
        if not events:
            return TickOutcome(schedule.next_due())
        user = User(id=schedule.user_id or "")
        try:
            self.graphs.version_for_run(user, schedule.graph_id, schedule.graph_version)
        except (NotFoundError, Forbidden):
            self.end(schedule_id, "graph_unavailable",
                     f"Graph #{schedule.graph_id} version {schedule.graph_version} can no longer be run")
            return TickOutcome(None)
        try:
            self._append(schedule, events)
        except ConcurrencyConflict:
            return TickOutcome(now)  # another scheduler recorded this tick
        fired = next((e for e in events if isinstance(e, ScheduleFired)), None)
        self._settle(schedule)
        return TickOutcome(schedule.next_due(), fired.tick_at if fired else None,
                           sum(e.count for e in events if isinstance(e, ScheduleTicksSkipped)))

    def settle(self, schedule_id: str) -> None:
        self._settle(self.load(schedule_id))

    def _settle(self, schedule: Schedule) -> None:
        """Queue the run of the schedule's last fire unless it is queued or known refused (the
        derived id makes this a read when the run exists)."""
        fire = schedule.unsettled_fire()
        if fire is None or schedule.user_id is None or schedule.deleted:
            return
        if self.executions.store.stream_version(uuid.UUID(fire.execution_id)) > 0:
            return  # queued (the common case: one indexed read)
        try:
            self._queue(schedule, fire)
        except DomainRefusal as exc:
            self._record_refusal(schedule, fire, exc)

    def _queue(self, schedule: Schedule, fire: Fire) -> dict[str, Any]:
        return self.executions.execute(
            User(id=schedule.user_id or ""), schedule.graph_id, schedule.graph_version, dict(schedule.inputs),
            dict(schedule.credentials), preset_id=schedule.preset_id, execution_id=uuid.UUID(fire.execution_id))

    def _record_refusal(self, schedule: Schedule, fire: Fire, exc: DomainRefusal) -> None:
        reason = ("insufficient_credits" if isinstance(exc, InsufficientCredits) else
                  "graph_unavailable" if isinstance(exc, (NotFoundError, Forbidden)) else "invalid")
        log.info("schedule %s: run of tick %s refused (%s): %s", schedule.schedule_id, fire.tick_at, reason, exc)

        def record(current: Schedule) -> None:
            last = current.last_fire
            if last is None or last.execution_id != fire.execution_id or last.refused is not None:
                return
            self._append(current, current.refused(last, reason, str(exc)))

        decide_and_append(lambda: self.load(schedule.schedule_id), record)
        if reason == "graph_unavailable":
            self.end(schedule.schedule_id, reason, str(exc))
