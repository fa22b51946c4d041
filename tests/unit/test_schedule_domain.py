"""The Schedule aggregate and its timetable (pure): cron checks, DST in a real zone, the misfire
policy, pause and resume, and the derived run ids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from schemas.events.schedules import (
    ScheduleCreated,
    ScheduleFired,
    ScheduleResumed,
    ScheduleRunRefused,
    ScheduleTicksSkipped,
)
from services.domain.errors import InvalidCommand, NotFoundError
from services.domain.schedules.ids import tick_run_id
from services.domain.schedules.schedule import SKIP_COUNT_CAP, Schedule
from services.domain.schedules.timetable import check_cron, in_zone, ticks_after

GRACE = timedelta(minutes=5)
T0 = datetime(2026, 12, 2, 10, 0, 30, tzinfo=UTC)


def at(minutes: float, base: datetime = T0) -> datetime:
    return base + timedelta(minutes=minutes)


def created(cron: str = "* * * * *", zone: str = "UTC", starts_at: datetime = T0) -> Schedule:
    schedule = Schedule(str(uuid.uuid4()))
    schedule.apply(ScheduleCreated(user_id="u1", graph_id="g1", graph_version=1, name="every minute", cron=cron,
                                   timezone=zone, starts_at=starts_at), starts_at)
    return schedule


def record(schedule: Schedule, events) -> None:
    for event in events:
        schedule.apply(event, None)


@pytest.mark.parametrize("cron", ["", "   ", "* * * *", "* * * * * *", "61 * * * *", "0 0 31 2 *", "@daily",
                                  "*/0 * * * *", "x" * 121])
def test_bad_cron_is_refused(cron):
    with pytest.raises(InvalidCommand):
        check_cron(cron)


def test_good_cron_is_normalised():
    assert check_cron("  0   9 * *  1-5 ") == "0 9 * * 1-5"


def wall(cron: str, zone: str, start: datetime, until: datetime) -> list[str]:
    out = []
    for tick in ticks_after(cron, zone, start):
        if tick > until:
            return out
        out.append(in_zone(tick, zone).isoformat())
    return out


def test_spring_forward_in_berlin_runs_the_skipped_time_right_after_the_change():
    # 2027-03-28: 02:00 CET becomes 03:00 CEST; a 02:30 job runs at 03:00 CEST that day (Debian cron)
    got = wall("30 2 * * *", "Europe/Berlin", datetime(2027, 3, 26, 12, tzinfo=UTC), datetime(2027, 3, 30, tzinfo=UTC))
    assert got == ["2027-03-27T02:30:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00"]


def test_fall_back_in_berlin_runs_a_fixed_time_once_and_hourly_jobs_every_real_hour():
    # 2027-10-31: 03:00 CEST becomes 02:00 CET; 02:30 happens twice but the job runs once
    start, end = datetime(2027, 10, 30, 12, tzinfo=UTC), datetime(2027, 11, 1, 12, tzinfo=UTC)
    assert wall("30 2 * * *", "Europe/Berlin", start, end) == ["2027-10-31T02:30:00+02:00",
                                                               "2027-11-01T02:30:00+01:00"]
    hourly = wall("0 * * * *", "Europe/Berlin", datetime(2027, 10, 30, 22, 30, tzinfo=UTC),
                  datetime(2027, 10, 31, 2, 30, tzinfo=UTC))
    assert hourly == ["2027-10-31T01:00:00+02:00", "2027-10-31T02:00:00+02:00", "2027-10-31T02:00:00+01:00",
                      "2027-10-31T03:00:00+01:00"]


def test_nothing_is_due_before_the_first_tick():
    schedule = created()
    assert schedule.decide_tick(at(0.4), GRACE) == []
    assert schedule.next_due() == datetime(2026, 12, 2, 10, 1, tzinfo=UTC)


def test_a_due_tick_fires_once_with_a_derived_run_id():
    schedule = created()
    events = schedule.decide_tick(at(0.6), GRACE)
    assert len(events) == 1 and isinstance(events[0], ScheduleFired)
    tick = datetime(2026, 12, 2, 10, 1, tzinfo=UTC)
    assert events[0].tick_at == tick
    assert events[0].execution_id == str(tick_run_id(schedule.schedule_id, tick))
    record(schedule, events)
    assert schedule.decide_tick(at(0.9), GRACE) == []  # the same tick is never handled twice
    assert schedule.next_due() == tick + timedelta(minutes=1)
    assert schedule.unsettled_fire().execution_id == events[0].execution_id


def test_after_an_outage_within_grace_the_latest_tick_runs_and_older_ones_are_skipped():
    schedule = created()
    events = schedule.decide_tick(at(3.7), GRACE)  # ticks 10:01, 10:02, 10:03, 10:04 are due
    skipped, fired = events
    assert isinstance(skipped, ScheduleTicksSkipped) and isinstance(fired, ScheduleFired)
    assert skipped.count == 3 and not skipped.count_capped
    assert skipped.first_tick_at.minute == 1 and skipped.last_tick_at.minute == 3
    assert fired.tick_at.minute == 4
    record(schedule, events)
    assert schedule.next_due().minute == 5


def test_after_an_outage_longer_than_grace_nothing_runs_and_all_is_skipped():
    schedule = created(cron="0 * * * *")
    now = at(60 * 5 + 10)  # 15:10: ticks 11:00..15:00, the latest 10 minutes old
    events = schedule.decide_tick(now, GRACE)
    assert len(events) == 1 and isinstance(events[0], ScheduleTicksSkipped)
    assert events[0].count == 5 and events[0].handled_until == now
    record(schedule, events)
    assert schedule.decide_tick(now + timedelta(seconds=1), GRACE) == []
    assert schedule.next_due() == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)


def test_a_very_long_outage_costs_one_bounded_event():
    schedule = created()
    now = at(60 * 24 * 30 + 0.5)  # thirty days of minutely ticks
    skipped, fired = schedule.decide_tick(now, GRACE)
    assert skipped.count == SKIP_COUNT_CAP and skipped.count_capped and skipped.last_tick_at is None
    assert now - fired.tick_at < timedelta(minutes=1)
    record(schedule, [skipped, fired])
    assert schedule.handled_until == fired.tick_at


def test_a_paused_schedule_fires_nothing_and_resuming_does_not_count_the_pause_as_missed():
    schedule = created()
    record(schedule, schedule.pause("u1"))
    assert schedule.decide_tick(at(30), GRACE) == [] and schedule.next_due() is None
    record(schedule, schedule.resume("u1", at(30)))
    assert schedule.handled_until == at(30)
    events = schedule.decide_tick(at(31), GRACE)
    assert [type(e) for e in events] == [ScheduleFired]
    assert not schedule.resume("u1", at(32))  # resuming an active schedule records nothing


def test_resume_never_moves_the_timetable_back():
    schedule = created()
    record(schedule, schedule.pause("u1"))
    schedule.apply(ScheduleResumed(resumed_by="u1", resumed_at=at(-10)), None)
    assert schedule.handled_until == T0


def test_run_now_fires_without_moving_the_timetable():
    schedule = created()
    (fired,) = schedule.decide_run_now(at(0.2))
    assert fired.manual and fired.execution_id == str(tick_run_id(schedule.schedule_id, at(0.2), manual=True))
    record(schedule, [fired])
    assert schedule.handled_until == T0
    assert [type(e) for e in schedule.decide_tick(at(0.6), GRACE)] == [ScheduleFired]


def test_a_refused_fire_is_settled_and_a_deleted_schedule_is_gone():
    schedule = created()
    record(schedule, schedule.decide_tick(at(0.6), GRACE))
    fire = schedule.unsettled_fire()
    record(schedule, schedule.refused(fire, "insufficient_credits", "no credits"))
    assert isinstance(schedule.refused(fire, "x", "y")[0], ScheduleRunRefused)
    assert schedule.unsettled_fire() is None and schedule.status == "active"
    record(schedule, schedule.delete("graph_deleted"))
    assert schedule.status == "deleted" and schedule.decide_tick(at(10), GRACE) == []
    with pytest.raises(NotFoundError):
        schedule.require_owner("u1")


def test_run_ids_differ_per_schedule_tick_and_kind():
    sid = str(uuid.uuid4())
    a, b = tick_run_id(sid, at(1)), tick_run_id(sid, at(2))
    assert a != b and a == tick_run_id(sid, at(1)) and a != tick_run_id(sid, at(1), manual=True)
    assert a != tick_run_id(str(uuid.uuid4()), at(1))
