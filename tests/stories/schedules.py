"""Stories of the schedule handlers (``ScheduleCommands``): what creating records, what a tick
records on both logs, how a crash between the two writes is healed, how a lost race and a refusal
end, and what a deleted graph does to a tick."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from schemas.events.credits import CreditsGranted
from schemas.events.graphs import GraphCreated, GraphDeleted
from schemas.events.schedules import ScheduleCreated
from schemas.events.users import UserCreated, UserTimezoneSet
from services.command_api.application.executions import ExecutionCommands
from services.command_api.application.graphs import GraphCommands
from services.command_api.application.presets import PresetCommands
from services.command_api.application.schedules import ScheduleCommands
from services.command_api.application.users import UserCommands
from services.domain.credits.ledger import ledger_stream_id
from services.domain.errors import InvalidCommand, NotFoundError
from services.domain.schedules.ids import tick_run_id
from services.domain.users.user import user_stream_id
from services.infra.ledger_service import LedgerService
from tests.stories.builders import graph_body
from tests.stories.fakes import RacingWriter
from tests.stories.world import expect

START = datetime(2026, 12, 2, 10, 0, 30, tzinfo=UTC)
TICK = datetime(2026, 12, 2, 10, 1, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FailingOnce:
    """The executions store as a scheduler sees it when it dies between its two writes: the first
    append raises (the process is gone), later ones go through."""

    def __init__(self, store) -> None:
        self._store, self.failed = store, False

    def append(self, events):
        if not self.failed:
            self.failed = True
            raise ConnectionError("the scheduler died here")
        return self._store.append(events)

    def __getattr__(self, name):
        return getattr(self._store, name)


def _schedules(world, *, clock=None, executions_store=None, schedules_store=None) -> ScheduleCommands:
    graphs = GraphCommands(world.store("graphs"))
    executions = ExecutionCommands(executions_store or world.store("executions"), graphs,
                                   ledger=LedgerService(world.store("credits")))
    presets = PresetCommands(world.store("library"), graphs, executions)
    return ScheduleCommands(schedules_store or world.store("schedules"), graphs, executions, presets,
                            UserCommands(world.store("users")), None, clock=clock or Clock(START))


def _graph(world, owner) -> uuid.UUID:
    gid = uuid.uuid4()
    world.given(gid, GraphCreated(user_id=owner.id, graph=graph_body(gid)), user_id=owner.id)
    return gid


def _credits(world, owner, amount: int = 500) -> None:
    world.given(ledger_stream_id(owner.id), CreditsGranted(transaction_key="g-1", amount=amount,
                                                           running_balance=amount), user_id=owner.id)


def _schedule(world, owner, gid, cron: str = "* * * * *") -> str:
    sid = uuid.uuid4()
    world.given(sid, ScheduleCreated(user_id=owner.id, graph_id=str(gid), graph_version=1, name="s", cron=cron,
                                     timezone="UTC", inputs={"x": 1}, starts_at=START), user_id=owner.id)
    return str(sid)


class ScheduleStories:
    def test_creating_records_the_schedule_in_the_users_zone(self, world):
        alice = world.user("alice")
        gid = _graph(world, alice)
        world.given(user_stream_id(alice.id), UserCreated(user_id=alice.id, email="a@example.com"),
                    UserTimezoneSet(timezone="Europe/Berlin"), user_id=alice.id)
        view = world.when(lambda: _schedules(world).create(
            alice, str(gid), graph_version=None, name=" nightly ", cron="0  2 * * *", inputs={"x": 1},
            credentials={}, timezone=None, preset_id=None))
        world.then(expect("ScheduleCreated", view["id"], user_id=alice.id, graph_id=str(gid), graph_version=1,
                          name="nightly", cron="0 2 * * *", timezone="Europe/Berlin", inputs={"x": 1}))
        assert view["next_run_time"] == "2026-12-03T02:00:00+01:00"

    def test_a_bad_schedule_records_nothing(self, world):
        alice, bob = world.user("alice"), world.user("bob")
        gid = str(_graph(world, alice))
        make = _schedules(world).create
        world.refused(InvalidCommand, lambda: make(alice, gid, graph_version=1, name="s", cron="* * *", inputs={},
                                                   credentials={}, timezone=None, preset_id=None))
        world.refused(InvalidCommand, lambda: make(alice, gid, graph_version=1, name="s", cron="* * * * *",
                                                   inputs={"nope": 1}, credentials={}, timezone=None, preset_id=None))
        world.refused(NotFoundError, lambda: make(bob, gid, graph_version=1, name="s", cron="* * * * *", inputs={},
                                                  credentials={}, timezone=None, preset_id=None))

    def test_a_due_tick_records_its_fire_and_its_run_under_the_derived_id(self, world):
        alice = world.user("alice")
        _credits(world, alice)
        gid = _graph(world, alice)
        sid = _schedule(world, alice, gid)
        run_id = tick_run_id(sid, TICK)
        outcome = world.when(lambda: _schedules(world).fire_due(sid, TICK + timedelta(seconds=2)))
        world.then(expect("ExecutionQueued", run_id, user_id=alice.id, graph_id=str(gid), inputs={"x": 1}),
                   expect("ScheduleFired", sid, tick_at=TICK.isoformat().replace("+00:00", "Z"),
                          execution_id=str(run_id)))
        assert (outcome.fired_tick, outcome.next_due) == (TICK, TICK + timedelta(minutes=1))
        world.when(lambda: _schedules(world).fire_due(sid, TICK + timedelta(seconds=3)))
        world.then()  # the tick is handled: nothing more

    def test_a_crash_between_the_fire_and_its_run_is_healed_with_exactly_one_run(self, world):
        alice = world.user("alice")
        _credits(world, alice)
        sid = _schedule(world, alice, _graph(world, alice))
        dying = _schedules(world, executions_store=FailingOnce(world.store("executions")))
        try:
            world.when(lambda: dying.fire_due(sid, TICK))
        except ConnectionError:
            pass
        world.then(expect("ScheduleFired", sid))  # the tick is recorded, its run is not
        world.when(lambda: _schedules(world).settle(sid))
        world.then(expect("ExecutionQueued", tick_run_id(sid, TICK)))
        world.when(lambda: _schedules(world).settle(sid))
        world.when(lambda: _schedules(world).fire_due(sid, TICK + timedelta(seconds=30)))
        world.then()

    def test_a_scheduler_that_loses_the_tick_to_another_records_nothing_more(self, world):
        alice = world.user("alice")
        _credits(world, alice)
        sid = _schedule(world, alice, _graph(world, alice))
        rival = _schedules(world)
        racing = RacingWriter(world.store("schedules"), lambda: rival.fire_due(sid, TICK))
        outcome = world.when(lambda: _schedules(world, schedules_store=racing).fire_due(sid, TICK))
        new = world.then(expect("ExecutionQueued", tick_run_id(sid, TICK)), expect("ScheduleFired", sid))
        assert outcome.fired_tick is None and len(new) == 2  # one fire and one run, the rival's

    def test_a_tick_refused_for_credits_is_recorded_and_the_schedule_stays(self, world):
        alice = world.user("alice")  # no credits
        sid = _schedule(world, alice, _graph(world, alice))
        world.when(lambda: _schedules(world).fire_due(sid, TICK))
        world.then(expect("ScheduleFired", sid),
                   expect("ScheduleRunRefused", sid, reason="insufficient_credits", execution_id=str(
                       tick_run_id(sid, TICK))))
        assert _schedules(world).load(sid).status == "active"
        world.when(lambda: _schedules(world).settle(sid))
        world.then()  # a refused fire is settled

    def test_a_tick_of_a_deleted_graph_ends_the_schedule_instead_of_firing(self, world):
        alice = world.user("alice")
        _credits(world, alice)
        gid = _graph(world, alice)
        sid = _schedule(world, alice, gid)
        world.given(gid, GraphDeleted(version_count=1), user_id=alice.id)
        outcome = world.when(lambda: _schedules(world).fire_due(sid, TICK))
        world.then(expect("ScheduleDeleted", sid, reason="graph_unavailable"))
        assert outcome.next_due is None

    def test_run_now_records_a_manual_fire_and_its_run(self, world):
        alice = world.user("alice")
        _credits(world, alice)
        sid = _schedule(world, alice, _graph(world, alice))
        meta = world.when(lambda: _schedules(world).run_now(alice, sid))
        run_id = tick_run_id(sid, START, manual=True)
        world.then(expect("ExecutionQueued", run_id), expect("ScheduleFired", sid, manual=True))
        assert meta["id"] == str(run_id)
        world.refused(NotFoundError, lambda: _schedules(world).run_now(world.user("bob"), sid))

