"""Clock and timer blocks (AutoGPT ids): current time/date/date-time, and a countdown.

``format_type`` is a discriminated union (``discriminator`` = "strftime" | "iso8601") whose
variants carry their own ``timezone``; AutoGPT keeps the zone there rather than on the block, and
saved graphs depend on that shape, so it is kept here too. ``use_user_timezone`` takes the user's
profile zone from ``RunContext.extra["user_timezone"]`` when the executor supplies one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from services.blocks.bounds import MAX_REPEAT, approx_size, too_many_chars
from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)

# The zones AutoGPT offers (one per distinct UTC offset), in its order.
TIMEZONES = (
    "UTC", "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver",
    "America/Chicago", "America/New_York", "America/Caracas", "America/Sao_Paulo", "America/St_Johns",
    "Atlantic/South_Georgia", "Atlantic/Azores", "Europe/London", "Europe/Paris", "Europe/Athens",
    "Europe/Moscow", "Asia/Tehran", "Asia/Dubai", "Asia/Kabul", "Asia/Karachi", "Asia/Kolkata",
    "Asia/Kathmandu", "Asia/Dhaka", "Asia/Yangon", "Asia/Bangkok", "Asia/Shanghai", "Australia/Eucla",
    "Asia/Tokyo", "Australia/Adelaide", "Australia/Sydney", "Australia/Lord_Howe", "Pacific/Noumea",
    "Pacific/Auckland", "Pacific/Chatham", "Pacific/Tongatapu", "Pacific/Kiritimati", "Etc/GMT-12",
    "Etc/GMT+12",
)
TimezoneLiteral = Literal[TIMEZONES]  # type: ignore[valid-type]


class TimeStrftimeFormat(BaseModel):
    discriminator: Literal["strftime"]
    format: str = "%H:%M:%S"
    timezone: TimezoneLiteral = "UTC"
    use_user_timezone: bool = False


class TimeISO8601Format(BaseModel):
    discriminator: Literal["iso8601"]
    timezone: TimezoneLiteral = "UTC"
    use_user_timezone: bool = False
    include_microseconds: bool = False


class DateStrftimeFormat(BaseModel):
    discriminator: Literal["strftime"]
    format: str = "%Y-%m-%d"
    timezone: TimezoneLiteral = "UTC"
    use_user_timezone: bool = False


class DateISO8601Format(BaseModel):
    discriminator: Literal["iso8601"]
    timezone: TimezoneLiteral = "UTC"
    use_user_timezone: bool = False


class StrftimeFormat(BaseModel):
    discriminator: Literal["strftime"]
    format: str = "%Y-%m-%d %H:%M:%S"
    timezone: TimezoneLiteral = "UTC"
    use_user_timezone: bool = False


class ISO8601Format(BaseModel):
    discriminator: Literal["iso8601"]
    timezone: TimezoneLiteral = "UTC"
    use_user_timezone: bool = False
    include_microseconds: bool = False


def _zone(name: str) -> dt.tzinfo:
    if name == "UTC":
        return dt.UTC  # needs no tz database
    return ZoneInfo(name)


def _now(fmt: Any, ctx: RunContext) -> dt.datetime:
    user_zone = ctx.extra.get("user_timezone")
    name = user_zone if fmt.use_user_timezone and user_zone else fmt.timezone
    return dt.datetime.now(tz=_zone(name))


def _iso(moment: dt.datetime, include_microseconds: bool) -> str:
    return moment.isoformat() if include_microseconds else moment.isoformat(timespec="seconds")


def _parses(fmt: str) -> Any:
    """Predicate for test_output: the value parses with ``fmt`` (exact values depend on the clock)."""
    def check(value: Any) -> bool:
        try:
            dt.datetime.strptime(value, fmt)
        except (TypeError, ValueError):
            return False
        return True
    return check


def _days_from_today(fmt: str, days: int) -> Any:
    def check(value: Any) -> bool:
        shown = dt.datetime.strptime(value, fmt).date()
        expected = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)
        return abs((shown - expected).days) <= 1
    return check


class GetCurrentTimeBlock(Block):
    """Emits the current time whenever ``trigger`` receives anything."""

    id = "a892b8d9-3e4e-4e9c-9c1e-75f8efcf1bfa"
    description = "Outputs the current time."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        trigger: str = SchemaField(description="Any data; triggers the output of the current time.")
        format_type: Annotated[TimeStrftimeFormat | TimeISO8601Format,
                               Field(discriminator="discriminator")] = SchemaField(
            default=TimeStrftimeFormat(discriminator="strftime"),
            description="Output format: strftime with a custom format, or ISO 8601.")

    class Output(BlockSchemaOutput):
        time: str = SchemaField(description="The current time in the chosen format (default %H:%M:%S).")

    test_input = [
        {"trigger": "Hello"},
        {"trigger": "Hello", "format_type": {"discriminator": "strftime", "format": "%H:%M"}},
        {"trigger": "Hello", "format_type": {"discriminator": "iso8601", "timezone": "UTC"}},
        {"trigger": "Hello", "format_type": {"discriminator": "iso8601", "timezone": "Asia/Kolkata"}},
    ]
    test_output = [
        ("time", _parses("%H:%M:%S")),
        ("time", _parses("%H:%M")),
        ("time", lambda t: t.startswith("T") and t.endswith("+00:00") and len(t) == len("T12:00:00+00:00")),
        ("time", lambda t: t.startswith("T") and t.endswith("+05:30")),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        fmt = input_data.format_type
        now = _now(fmt, ctx)
        if isinstance(fmt, TimeISO8601Format):
            yield "time", "T" + _iso(now, fmt.include_microseconds).split("T", 1)[1]
        else:
            yield "time", now.strftime(fmt.format)


class GetCurrentDateBlock(Block):
    """Emits today's date shifted back by ``offset`` days (a positive offset means the past)."""

    id = "b29c1b50-5d0e-4d9f-8f9d-1b0e6fcbf0b1"
    description = "Outputs the current date, optionally offset by a number of days."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        trigger: str = SchemaField(description="Any data; triggers the output of the current date.")
        offset: int | str = SchemaField(default=0, title="Days Offset",
                                              description="Number of days to subtract from today.")
        format_type: Annotated[DateStrftimeFormat | DateISO8601Format,
                               Field(discriminator="discriminator")] = SchemaField(
            default=DateStrftimeFormat(discriminator="strftime"),
            description="Output format: strftime with a custom format, or ISO 8601.")

    class Output(BlockSchemaOutput):
        date: str = SchemaField(description="The date in the chosen format (default YYYY-MM-DD).")

    test_input = [
        {"trigger": "Hello", "offset": "7"},
        {"trigger": "Hello", "offset": 7, "format_type": {"discriminator": "strftime", "format": "%m/%d/%Y"}},
        {"trigger": "Hello", "offset": "0", "format_type": {"discriminator": "iso8601", "timezone": "UTC"}},
        {"trigger": "Hello", "offset": "soon"},
    ]
    test_output = [
        ("date", _days_from_today("%Y-%m-%d", 7)),
        ("date", _days_from_today("%m/%d/%Y", 7)),
        ("date", lambda t: len(t) == 10 and t[4] == "-" and t[7] == "-" and _days_from_today("%Y-%m-%d", 0)(t)),
        ("date", _days_from_today("%Y-%m-%d", 0)),  # unparseable offset counts as 0
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        try:
            offset = int(input_data.offset)
        except (TypeError, ValueError):
            offset = 0
        fmt = input_data.format_type
        day = _now(fmt, ctx) - dt.timedelta(days=offset)
        yield "date", day.date().isoformat() if isinstance(fmt, DateISO8601Format) else day.strftime(fmt.format)


class GetCurrentDateAndTimeBlock(Block):
    """Emits the current date and time; the ISO form is RFC 3339 with the zone offset."""

    id = "716a67b3-6760-42e7-86dc-18645c6e00fc"
    description = "Outputs the current date and time."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        trigger: str = SchemaField(description="Any data; triggers the output of the current date and time.")
        format_type: Annotated[StrftimeFormat | ISO8601Format,
                               Field(discriminator="discriminator")] = SchemaField(
            default=StrftimeFormat(discriminator="strftime"),
            description="Output format: strftime with a custom format, or ISO 8601 / RFC 3339.")

    class Output(BlockSchemaOutput):
        date_time: str = SchemaField(description="The date and time in the chosen format "
                                     "(default YYYY-MM-DD HH:MM:SS).")

    test_input = [
        {"trigger": "Hello"},
        {"trigger": "Hello", "format_type": {"discriminator": "strftime", "format": "%Y/%m/%d"}},
        {"trigger": "Hello", "format_type": {"discriminator": "iso8601", "timezone": "UTC",
                                             "include_microseconds": True}},
    ]
    test_output = [
        ("date_time", lambda t: abs(dt.datetime.now(dt.UTC) - dt.datetime.strptime(
            t, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)) < dt.timedelta(seconds=10)),
        ("date_time", _days_from_today("%Y/%m/%d", 0)),
        ("date_time", lambda t: "." in t and abs(dt.datetime.now(dt.UTC)
                                                 - dt.datetime.fromisoformat(t)) < dt.timedelta(seconds=10)),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        fmt = input_data.format_type
        now = _now(fmt, ctx)
        if isinstance(fmt, ISO8601Format):
            yield "date_time", _iso(now, fmt.include_microseconds)
        else:
            yield "date_time", now.strftime(fmt.format)


class CountdownTimerBlock(Block):
    """Waits the given duration, then emits ``input_message``; repeats ``repeat`` times.

    Sleeping is ``asyncio.sleep``, so a waiting timer holds no worker thread.
    """

    id = "d67a9c52-5e4e-11e2-bcfd-0800200c9a71"
    description = "Outputs a message after a given duration, optionally repeatedly."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        input_message: Any = SchemaField(default="timer finished", advanced=False,
                                         description="Message to output when the timer finishes.")
        seconds: int | str = SchemaField(default=0, advanced=False, description="Duration in seconds.")
        minutes: int | str = SchemaField(default=0, advanced=False, description="Duration in minutes.")
        hours: int | str = SchemaField(default=0, advanced=False, description="Duration in hours.")
        days: int | str = SchemaField(default=0, advanced=False, description="Duration in days.")
        repeat: int = SchemaField(default=1, le=MAX_REPEAT, description="Number of times the timer runs.")

    class Output(BlockSchemaOutput):
        output_message: Any = SchemaField(description="The message, once per finished timer.")

    test_input = [
        {"seconds": 0},
        {"input_message": "Custom message", "seconds": "0", "repeat": 2},
        {"input_message": {"done": True}, "repeat": 0},
    ]
    test_output = [
        ("output_message", "timer finished"),
        ("output_message", "Custom message"),
        ("output_message", "Custom message"),
    ]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        total = (int(input_data.seconds) + int(input_data.minutes) * 60
                 + int(input_data.hours) * 3600 + int(input_data.days) * 86400)
        refused = too_many_chars(max(input_data.repeat, 0) * approx_size(input_data.input_message),
                                 "the repeated messages")
        if refused:
            yield "error", refused
            return
        for _ in range(input_data.repeat):
            # A zero-length timer still gives the event loop a turn between messages.
            await asyncio.sleep(total if total > 0 else 0)
            yield "output_message", input_data.input_message
