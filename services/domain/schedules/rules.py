"""Bounds of a schedule (pure), each in one place."""

from __future__ import annotations

from services.domain.errors import InvalidCommand

MAX_SCHEDULE_NAME = 200
MAX_SCHEDULES_PER_USER = 100  # active or paused; a user's schedules are a standing load on the executors


def check_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned or len(cleaned) > MAX_SCHEDULE_NAME:
        raise InvalidCommand(f"name must be 1 to {MAX_SCHEDULE_NAME} characters")
    return cleaned
