"""A schedule's timetable: a 5-field cron expression read in an IANA time zone.

Parsing and next-fire times come from ``cronsim`` (written for Healthchecks), which follows
Debian's cron, DST included, as it documents: a job at a fixed wall-clock time that falls in the
hour skipped by a spring-forward change runs right after the change (02:30 in Europe/Berlin runs at
03:00 CEST that day); one that falls in the hour repeated by a fall-back change runs once, at its
first occurrence; jobs with a wildcard hour (``0 * * * *``) follow real time, so they fire every
real hour across both changes. Every instant leaving this module is UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from services.domain.errors import InvalidCommand

MAX_CRON_CHARS = 120


def check_cron(cron: str) -> str:
    """The expression, trimmed, if it is a valid 5-field crontab line (AutoGPT's
    ``CronTrigger.from_crontab``: minute, hour, day of month, month, day of week). A seconds field
    is refused: a user's schedule fires at most once a minute."""
    expr = " ".join((cron or "").split())
    if not expr or len(expr) > MAX_CRON_CHARS:
        raise InvalidCommand(f"cron must be 1 to {MAX_CRON_CHARS} characters")
    if len(expr.split(" ")) != 5:
        raise InvalidCommand(f"Invalid cron expression {expr[:60]!r}: expected 5 fields "
                             "(minute hour day-of-month month day-of-week)")
    try:
        next(CronSim(expr, datetime(2000, 1, 1, tzinfo=UTC)))
    except (CronSimError, StopIteration) as exc:
        raise InvalidCommand(f"Invalid cron expression {expr[:60]!r}: {exc}") from None
    return expr


def ticks_after(cron: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """The timetable's instants strictly after ``after``, in order, as UTC datetimes."""
    local = after.astimezone(ZoneInfo(timezone))
    for tick in CronSim(cron, local):
        yield tick.astimezone(UTC)


def next_tick(cron: str, timezone: str, after: datetime) -> datetime:
    return next(ticks_after(cron, timezone, after))


def in_zone(instant: datetime, timezone: str) -> datetime:
    """An instant shown on the wall clock of the schedule's time zone (AutoGPT's ``next_run_time``)."""
    return instant.astimezone(ZoneInfo(timezone))
