"""Schedules through the real stack: AutoGPT's routes and shapes, and schedulers driven by a
controllable clock: once per tick with two schedulers, the misfire policy, a DST change in
Europe/Berlin, a deleted graph, a refused tick, and a scheduler killed between its two writes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import pytest_asyncio

from schemas.events.schedules import ScheduleCreated, ScheduleFired, ScheduleRunRefused, ScheduleTicksSkipped
from services.domain.schedules.ids import tick_run_id
from services.infra import db
from services.infra.eventstore import EventStore
from services.infra.store_contract import NewEvent, table_name
from services.projector.rebuild import rebuild
from services.scheduler.service import SchedulerService
from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import eventually, publish, review
from tests.integration.processes import ServiceProcess
from tests.integration.stack import running_stack
from tests.integration.test_executions_api import sample_graph
from tests.integration.test_webhooks import trigger_graph
from tests.stories.builders import TEXT_GENERATOR_BLOCK
from tests.stories.postgres import migrated_datastore
from tests.stories.schedules import ScheduleStories
from tests.stories.world import World

INPUTS = {"input_1": "Hello", "input_2": "World"}


@pytest.fixture(scope="module")
def schedule_settings(database_url, broker):
    # no signup credits: a user without a grant has a zero balance (the refused-tick test)
    s = isolated_settings(database_url, broker.bootstrap, signup_credits=0)
    yield s
    drop_schema(database_url, s.db_schema)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(schedule_settings):
    async with running_stack(schedule_settings, executors=1) as running:
        yield running


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest_asyncio.fixture(loop_scope="session")
async def users(stack, user_ids):
    """Funded users; afterwards their schedules are deleted, so no later scheduler (whatever its
    clock) finds them due."""
    async with stack.client("root", admin=True) as admin:
        for user in (user_ids["alice"], user_ids["bob"]):
            r = await admin.post("/api/credits/admin/add_credits", json={
                "user_id": user, "amount": 10_000, "comments": "test", "idempotency_key": f"grant-{user}"})
            assert r.status_code == 200, r.text
    yield user_ids
    for user in user_ids.values():
        async with stack.client(user) as client:
            for schedule in (await client.get("/api/schedules")).json():
                await client.delete(f"/api/schedules/{schedule['id']}")


def schedules_store(stack) -> EventStore:
    return EventStore(stack.datastore, "schedules")


def events_of(stack, schedule_id: str, kind) -> list:
    return [e.decode() for e in schedules_store(stack).read_stream(uuid.UUID(schedule_id))
            if isinstance(e.decode(), kind)]


async def until(predicate, **kwargs):
    """``eventually`` for a blocking check (store reads run in a thread)."""
    return await eventually(lambda: asyncio.to_thread(predicate), **kwargs)


def start_scheduler(stack, name: str, clock) -> SchedulerService:
    service = SchedulerService(stack.settings, clock=clock, poll_s=0.02)
    stack.start(name, service.run)
    return service


async def graph_of(client) -> dict:
    r = await client.post("/api/graphs", json={"graph": sample_graph()})
    assert r.status_code == 200, r.text
    return r.json()


async def schedule_of(client, graph_id: str, **body) -> dict:
    r = await client.post(f"/api/graphs/{graph_id}/schedules",
                          json={"name": "greet", "cron": "* * * * *", "inputs": INPUTS, **body})
    assert r.status_code == 200, r.text
    return r.json()


async def listed(client, schedule_id: str) -> dict:
    async def found():
        r = await client.get(f"/api/schedules/{schedule_id}")
        return r.json() if r.status_code == 200 else None

    return await eventually(found, message="the schedule is in the read model")


def minute_after(instant: datetime, minutes: int = 1) -> datetime:
    return instant.replace(second=0, microsecond=0) + timedelta(minutes=minutes)


# -- routes and shapes ---------------------------------------------------------------------------------------


async def test_create_list_get_and_delete_in_autogpt_shapes(stack, users):
    async with stack.client(users["alice"]) as alice:
        graph = await graph_of(alice)
        created = await schedule_of(alice, graph["id"], cron="0 9 * * 1-5", timezone="Europe/Berlin")
        assert set(created) >= {"id", "name", "next_run_time", "timezone", "schedule_id", "user_id", "graph_id",
                                "graph_version", "agent_name", "cron", "input_data", "input_credentials"}
        assert (created["name"], created["cron"], created["timezone"]) == ("greet", "0 9 * * 1-5", "Europe/Berlin")
        assert (created["graph_id"], created["graph_version"], created["agent_name"]) == (graph["id"], 1, "sample")
        assert created["input_data"] == INPUTS and created["status"] == "active"
        next_run = datetime.fromisoformat(created["next_run_time"])
        assert (next_run.hour, next_run.minute) == (9, 0) and next_run.utcoffset() == timedelta(hours=1)  # CET
        assert next_run > datetime.now(UTC) and next_run.weekday() < 5

        assert await listed(alice, created["id"]) == created
        assert [s["id"] for s in (await alice.get("/api/schedules")).json()] == [created["id"]]
        assert [s["id"] for s in (await alice.get(f"/api/graphs/{graph['id']}/schedules")).json()] == [created["id"]]

        r = await alice.delete(f"/api/schedules/{created['id']}")
        assert r.status_code == 200 and r.json() == {"id": created["id"]}
        assert (await alice.get(f"/api/schedules/{created['id']}")).status_code == 404
        assert (await alice.get("/api/schedules")).json() == []
        assert (await alice.delete(f"/api/schedules/{created['id']}")).status_code == 404


async def test_the_time_zone_falls_back_to_the_users_then_utc(stack, users):
    async with stack.client(users["alice"]) as alice:
        graph = await graph_of(alice)
        assert (await schedule_of(alice, graph["id"]))["timezone"] == "UTC"
        r = await alice.post("/api/auth/user/timezone", json={"timezone": "Asia/Tokyo"})
        assert r.status_code == 200, r.text
        tokyo = await schedule_of(alice, graph["id"], cron="0 0 * * *")
        assert tokyo["timezone"] == "Asia/Tokyo" and tokyo["next_run_time"].endswith("T00:00:00+09:00")


async def test_a_preset_gives_its_inputs_under_the_requests(stack, users):
    async with stack.client(users["alice"]) as alice:
        graph = await graph_of(alice)
        r = await alice.post("/api/library/presets", json={"name": "p", "graph_id": graph["id"], "graph_version": 1,
                                                           "inputs": {"input_1": "Preset", "input_2": "kept"}})
        assert r.status_code == 200, r.text
        made = await schedule_of(alice, graph["id"], inputs={"input_1": "Request"}, preset_id=r.json()["id"])
        assert made["input_data"] == {"input_1": "Request", "input_2": "kept"} and made["preset_id"] == r.json()["id"]


@pytest.mark.parametrize(("body", "status"), [
    ({"cron": "* * * *"}, 400), ({"cron": "* * * * * *"}, 400), ({"cron": "61 * * * *"}, 400),
    ({"cron": "@daily"}, 400), ({"cron": "x" * 121}, 422), ({"cron": ""}, 422),
    ({"timezone": "Mars/Olympus"}, 400), ({"timezone": "x" * 65}, 422), ({"name": ""}, 422),
    ({"name": "n" * 201}, 422), ({"inputs": {"nope": 1}}, 400), ({"graph_version": 0}, 422),
    ({"graph_version": 9}, 404), ({"preset_id": "not-a-uuid"}, 400), ({"preset_id": str(uuid.uuid4())}, 404),
    ({"inputs": {"input_1": "x" * 600_000, "input_2": "y"}}, 413),
])
async def test_bad_schedules_are_refused_with_a_clear_4xx(stack, users, body, status):
    async with stack.client(users["alice"]) as alice:
        graph = await graph_of(alice)
        r = await alice.post(f"/api/graphs/{graph['id']}/schedules",
                             json={"name": "greet", "cron": "* * * * *", "inputs": INPUTS, **body})
        assert r.status_code == status, r.text
        assert "detail" in r.json()
        assert (await alice.get("/api/schedules")).json() == []


async def test_a_schedule_is_checked_as_a_run_of_its_graph_would_be(stack, users):
    async with stack.client(users["alice"]) as alice:
        triggered = (await alice.post("/api/graphs", json={"graph": trigger_graph()})).json()
        r = await alice.post(f"/api/graphs/{triggered['id']}/schedules", json={"name": "t", "cron": "* * * * *"})
        assert r.status_code == 400 and "triggered by an external event" in r.json()["detail"], r.text
        llm = (await alice.post("/api/graphs", json={"graph": {"name": "asks", "nodes": [
            {"id": "llm", "block_id": TEXT_GENERATOR_BLOCK, "input_default": {"model": "gpt-4o", "prompt": "hi"}}],
            "links": []}})).json()
        (slot,) = llm["credentials_input_schema"]["properties"]
        someone_elses = {"id": str(uuid.uuid4()), "provider": "openai", "type": "api_key", "title": "x"}
        r = await alice.post(f"/api/graphs/{llm['id']}/schedules", json={
            "name": "t", "cron": "* * * * *", "credentials": {slot: someone_elses}})
        assert r.status_code == 400 and r.json()["detail"]["node_errors"], r.text
        assert (await alice.get("/api/schedules")).json() == []


async def test_a_user_keeps_at_most_100_schedules(stack, users):
    async with stack.client(users["bob"]) as bob:
        graph = await graph_of(bob)
        made = [await schedule_of(bob, graph["id"], cron="0 0 1 1 *") for _ in range(100)]
        await listed(bob, made[-1]["id"])
        r = await bob.post(f"/api/graphs/{graph['id']}/schedules", json={"name": "one too many", "cron": "0 0 1 1 *",
                                                                        "inputs": INPUTS})
        assert r.status_code == 400 and "at most 100" in r.json()["detail"]
        assert (await bob.delete(f"/api/schedules/{made[0]['id']}")).status_code == 200
        await eventually(lambda: _count_is(bob, 99))
        await schedule_of(bob, graph["id"], cron="0 0 1 1 *")


async def _count_is(client, n: int):
    return len((await client.get("/api/schedules")).json()) == n or None


async def test_a_store_agents_schedules_end_when_the_store_stops_publishing_it(stack, users):
    alice, bob = users["alice"], users["bob"]
    async with stack.client(alice) as creator, stack.client(bob) as user, \
            stack.client("schedule-admin", admin=True) as admin:
        graph = await graph_of(creator)
        assert (await user.post(f"/api/graphs/{graph['id']}/schedules",
                                json={"name": "x", "cron": "* * * * *", "graph_version": 1})).status_code == 404
        version_id = await publish(creator, admin, graph["id"], username=f"sched-{alice[-8:]}", slug="greeter")
        theirs = await schedule_of(user, graph["id"], graph_version=1)
        own = await schedule_of(creator, graph["id"])
        await listed(user, theirs["id"])
        await listed(creator, own["id"])
        await review(admin, version_id, False)
        assert (await user.get(f"/api/schedules/{theirs['id']}")).status_code == 404
        assert (await creator.get(f"/api/schedules/{own['id']}")).json()["status"] == "active"
        deleted = [e.decode() for e in schedules_store(stack).read_stream(uuid.UUID(theirs["id"]))][-1]
        assert deleted.reason == "graph_unavailable"


async def test_another_users_schedules_and_graphs_are_404(stack, users):
    async with stack.client(users["alice"]) as alice, stack.client(users["bob"]) as bob:
        graph = await graph_of(alice)
        mine = await schedule_of(alice, graph["id"])
        await listed(alice, mine["id"])
        assert (await bob.post(f"/api/graphs/{graph['id']}/schedules",
                               json={"name": "x", "cron": "* * * * *"})).status_code == 404
        assert (await bob.get(f"/api/schedules/{mine['id']}")).status_code == 404
        assert (await bob.get(f"/api/graphs/{graph['id']}/schedules")).json() == []
        assert (await bob.get("/api/schedules")).json() == []
        for action in ("pause", "resume", "run"):
            assert (await bob.post(f"/api/schedules/{mine['id']}/{action}")).status_code == 404, action
        assert (await bob.delete(f"/api/schedules/{mine['id']}")).status_code == 404
        assert (await alice.get(f"/api/schedules/{mine['id']}")).json()["status"] == "active"
        assert events_of(stack, mine["id"], ScheduleFired) == []


async def test_run_now_pause_and_resume(stack, users):
    async with stack.client(users["alice"]) as alice:
        graph = await graph_of(alice)
        made = await schedule_of(alice, graph["id"])
        r = await alice.post(f"/api/schedules/{made['id']}/pause")
        assert r.status_code == 200 and r.json()["status"] == "paused" and r.json()["next_run_time"] is None
        run = await alice.post(f"/api/schedules/{made['id']}/run")  # a paused schedule may be run by hand
        assert run.status_code == 200, run.text
        done = await stack.wait_terminal(alice, graph["id"], run.json()["id"])
        assert done["outputs"] == {"greeting": ["Hello, World!!!"]}
        (fired,) = events_of(stack, made["id"], ScheduleFired)
        assert fired.manual and fired.execution_id == run.json()["id"]
        r = await alice.post(f"/api/schedules/{made['id']}/resume")
        assert r.json()["status"] == "active" and r.json()["next_run_time"] is not None


# -- the scheduler ---------------------------------------------------------------------------------------------


async def test_two_schedulers_fire_each_minute_exactly_once(stack, users):
    async with stack.client(users["alice"]) as alice:
        graph = await graph_of(alice)
        made = await schedule_of(alice, graph["id"])
        await listed(alice, made["id"])
        start = datetime.fromisoformat(made["created_at"])  # ticks count from the creation
        clock = Clock(start)
        start_scheduler(stack, "scheduler-a", clock)
        start_scheduler(stack, "scheduler-b", clock)
        try:
            for minute in range(1, 5):
                clock.now = minute_after(start, minute) + timedelta(seconds=1)
                await until(lambda m=minute: len(events_of(stack, made["id"], ScheduleFired)) >= m or None,
                                 message=f"tick {minute} fired")
                await asyncio.sleep(0.3)  # both schedulers see the tick due in this time
        finally:
            await stack.stop("scheduler-a")
            await stack.stop("scheduler-b")
        fired = events_of(stack, made["id"], ScheduleFired)
        assert [f.tick_at for f in fired] == [minute_after(start, m) for m in range(1, 5)]
        assert events_of(stack, made["id"], ScheduleTicksSkipped) == []
        for fire in fired:
            assert fire.execution_id == str(tick_run_id(made["id"], fire.tick_at))
            done = await stack.wait_terminal(alice, graph["id"], fire.execution_id)
            assert done["outputs"] == {"greeting": ["Hello, World!!!"]} and done["inputs"] == INPUTS
        runs = (await alice.get(f"/api/graphs/{graph['id']}/executions")).json()
        assert runs["pagination"]["total_items"] == 4


async def test_a_down_period_follows_the_misfire_policy(stack, users):
    async with stack.client(users["alice"]) as alice:
        graph = await graph_of(alice)
        made = await schedule_of(alice, graph["id"])
        await listed(alice, made["id"])
        start = datetime.fromisoformat(made["created_at"])  # ticks count from the creation
        clock = Clock(minute_after(start, 4) + timedelta(seconds=20))  # 4 ticks due, the latest 20 s ago
        start_scheduler(stack, "scheduler", clock)
        try:
            await until(lambda: events_of(stack, made["id"], ScheduleFired) or None, message="latest tick ran")
            (skipped,) = events_of(stack, made["id"], ScheduleTicksSkipped)
            assert (skipped.count, skipped.first_tick_at, skipped.last_tick_at) == (
                3, minute_after(start, 1), minute_after(start, 3))
            (fired,) = events_of(stack, made["id"], ScheduleFired)
            assert fired.tick_at == minute_after(start, 4)

            # an hourly schedule, and the schedulers down for three hours: its latest tick is 10 minutes
            # old, past the grace period, so every missed tick is recorded as skipped and none runs.
            # The clock first comes back to the real time: left 4 minutes ahead, it would have the
            # scheduler handle the hourly schedule's first tick early whenever the test runs in the
            # last minutes of an hour (the outage would then miss that tick).
            clock.now = datetime.now(UTC)
            hourly = await schedule_of(alice, graph["id"], cron="0 * * * *")
            await listed(alice, hourly["id"])
            top = minute_after(datetime.fromisoformat(hourly["created_at"]), 60 - datetime.fromisoformat(
                hourly["created_at"]).minute)
            clock.now = top + timedelta(hours=3, minutes=10)
            await until(lambda: events_of(stack, hourly["id"], ScheduleTicksSkipped) or None,
                        message="the outage is recorded as skipped")
            await asyncio.sleep(0.3)
        finally:
            await stack.stop("scheduler")
        (outage,) = events_of(stack, hourly["id"], ScheduleTicksSkipped)
        assert (outage.count, outage.first_tick_at, outage.last_tick_at) == (4, top, top + timedelta(hours=3))
        assert outage.handled_until == clock.now
        assert events_of(stack, hourly["id"], ScheduleFired) == []  # nothing ran for the outage
        view = (await alice.get(f"/api/schedules/{hourly['id']}")).json()
        assert datetime.fromisoformat(view["next_run_time"]) == top + timedelta(hours=4)


async def test_a_dst_change_in_berlin_fires_at_the_right_wall_clock_times(stack, users):
    async with stack.client(users["alice"]) as alice:
        graph = await graph_of(alice)
        made = await schedule_of(alice, graph["id"], cron="30 2 * * *", timezone="Europe/Berlin")
        await listed(alice, made["id"])
        # Months ahead: every earlier tick is long missed, so it is skipped and nothing runs for it.
        clock = Clock(datetime(2027, 3, 27, 12, 0, tzinfo=UTC))
        start_scheduler(stack, "scheduler", clock)
        try:
            await until(lambda: events_of(stack, made["id"], ScheduleTicksSkipped) or None)
            expected = [datetime(2027, 3, 28, 1, 0, tzinfo=UTC),  # 02:30 CET does not exist: 03:00 CEST
                        datetime(2027, 3, 29, 0, 30, tzinfo=UTC)]  # 02:30 CEST
            for n, tick in enumerate(expected, start=1):
                await eventually(lambda t=tick: _next_is(alice, made["id"], t), message=f"next run at {tick}")
                clock.now = tick + timedelta(seconds=5)
                await until(lambda k=n: len(events_of(stack, made["id"], ScheduleFired)) == k or None)
            view = await eventually(lambda: _next_is(alice, made["id"], datetime(2027, 3, 30, 0, 30, tzinfo=UTC)))
        finally:
            await stack.stop("scheduler")
        fired = events_of(stack, made["id"], ScheduleFired)
        assert [f.tick_at for f in fired] == expected
        shown = datetime.fromisoformat(view["next_run_time"])
        assert shown.isoformat() == "2027-03-30T02:30:00+02:00"


async def _next_is(client, schedule_id: str, instant: datetime):
    view = (await client.get(f"/api/schedules/{schedule_id}")).json()
    return view if view["next_run_time"] and datetime.fromisoformat(view["next_run_time"]) == instant else None


async def test_deleting_the_graph_stops_its_schedule_at_once(stack, users):
    async with stack.client(users["alice"]) as alice:
        graph = await graph_of(alice)
        made = await schedule_of(alice, graph["id"])
        await listed(alice, made["id"])
        assert (await alice.delete(f"/api/graphs/{graph['id']}")).status_code == 200
        assert (await alice.get(f"/api/schedules/{made['id']}")).status_code == 404
        assert (await alice.get("/api/schedules")).json() == []
        clock = Clock(minute_after(datetime.now(UTC), 1) + timedelta(seconds=1))
        start_scheduler(stack, "scheduler", clock)
        try:
            await asyncio.sleep(0.5)
        finally:
            await stack.stop("scheduler")
        assert events_of(stack, made["id"], ScheduleFired) == []
        deleted = [e.decode() for e in schedules_store(stack).read_stream(uuid.UUID(made["id"]))][-1]
        assert deleted.reason == "graph_deleted"


async def test_a_tick_refused_for_credits_is_recorded_notified_and_the_schedule_stays(stack, users):
    carol = users["carol"]  # never granted credits: a zero balance
    async with stack.client(carol) as client:
        graph = await graph_of(client)
        made = await schedule_of(client, graph["id"])
        await listed(client, made["id"])
        clock = Clock(minute_after(datetime.now(UTC), 1) + timedelta(seconds=1))
        start_scheduler(stack, "scheduler", clock)
        try:
            await until(lambda: events_of(stack, made["id"], ScheduleRunRefused) or None)
            await asyncio.sleep(0.3)
        finally:
            await stack.stop("scheduler")
        (refused,) = events_of(stack, made["id"], ScheduleRunRefused)
        assert refused.reason == "insufficient_credits" and "balance" in refused.message.lower()
        assert (await client.get(f"/api/graphs/{graph['id']}/executions")).json()["pagination"]["total_items"] == 0
        view = (await client.get(f"/api/schedules/{made['id']}")).json()
        assert view["status"] == "active" and view["last_outcome"] == "refused: insufficient_credits"

        async def zero_balance_notice():
            got = (await client.get("/api/notifications")).json()
            items = got["notifications"] if isinstance(got, dict) else got
            return [n for n in items if n["type"] == "ZERO_BALANCE"] or None

        assert await eventually(zero_balance_notice, message="the user is told why")


async def test_a_scheduler_killed_between_the_tick_and_its_run_leaves_exactly_one_run(stack, users, tmp_path):
    """The run's append is held by a table lock, the scheduler process is killed -9 once its tick is
    recorded, and another scheduler heals it: one run, with the tick's derived id."""
    async with stack.client(users["alice"]) as alice:
        graph = await graph_of(alice)
        # one tick only, the current minute's (due now, within the grace period; the next is a year
        # away, so the test may cross a minute boundary): created before it, as recorded
        schedule_id = str(uuid.uuid4())
        tick = datetime.now(UTC).replace(second=0, microsecond=0)
        starts = tick - timedelta(seconds=30)
        schedules_store(stack).append([NewEvent(uuid.UUID(schedule_id), 1, ScheduleCreated(
            user_id=users["alice"], graph_id=graph["id"], graph_version=1, agent_name="sample", name="killed",
            cron=f"{tick.minute} {tick.hour} {tick.day} {tick.month} *", timezone="UTC", inputs=INPUTS,
            starts_at=starts), user_id=users["alice"], occurred_at=starts)])
        await listed(alice, schedule_id)

        table = f'"{stack.settings.db_schema}"."{table_name("executions")}"'
        with psycopg.connect(stack.settings.database_url, autocommit=False) as lock:
            lock.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
            first = ServiceProcess("scheduler", stack.settings, tmp_path).start()
            try:
                await until(lambda: events_of(stack, schedule_id, ScheduleFired) or None, timeout=60,
                                 message="the tick is recorded")
                await asyncio.sleep(1.0)  # the scheduler now waits on the lock to queue the run
            finally:
                first.kill9()
            # The dead scheduler's append is one statement waiting on the lock: the server aborts
            # it once it notices the client is gone (client_connection_check_interval, 100 ms).
            await asyncio.sleep(0.5)
            lock.rollback()
        (fired,) = events_of(stack, schedule_id, ScheduleFired)
        runs = EventStore(stack.datastore, "executions")
        assert runs.stream_version(uuid.UUID(fired.execution_id)) == 0, first.log()

        second = ServiceProcess("scheduler", stack.settings, tmp_path).start()
        try:
            await until(lambda: runs.stream_version(uuid.UUID(fired.execution_id)) > 0 or None, timeout=30,
                             message="the recorded tick's run is queued")
            done = await stack.wait_terminal(alice, graph["id"], fired.execution_id)
            await asyncio.sleep(1.0)
        finally:
            second.stop()
        assert done["outputs"] == {"greeting": ["Hello, World!!!"]}
        assert fired.tick_at == tick and fired.execution_id == str(tick_run_id(schedule_id, tick))
        assert len(events_of(stack, schedule_id, ScheduleFired)) == 1
        listed_runs = (await alice.get(f"/api/graphs/{graph['id']}/executions")).json()
        assert [r["id"] for r in listed_runs["executions"]] == [fired.execution_id]



async def test_the_schedules_read_model_rebuilds_identically(stack, users):
    """After every story above (fires, skips, refusals, pauses, ends), a rebuild from the store gives
    the same rows."""
    async with stack.client(users["alice"]) as alice:
        graph = await graph_of(alice)
        made = await schedule_of(alice, graph["id"])
        await alice.post(f"/api/schedules/{made['id']}/pause")
        await alice.get("/api/schedules")  # fence: everything recorded so far is projected
    before = await asyncio.to_thread(_schedule_rows, stack.settings)
    await rebuild(stack.settings)
    after = await asyncio.to_thread(_schedule_rows, stack.settings)
    assert after == before and len(before) > 100


def _schedule_rows(settings) -> list:
    with db.connect(settings) as conn:
        return conn.execute("SELECT * FROM rm_schedules ORDER BY schedule_id").fetchall()


# -- the handler stories on PostgreSQL -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def story_datastore(database_url):
    with migrated_datastore(database_url) as datastore:
        yield datastore


class TestScheduleStoriesOnPostgres(ScheduleStories):
    @pytest.fixture
    def world(self, story_datastore) -> World:
        return World(lambda context: EventStore(story_datastore, context))
