"""Ids that make a schedule's runs exactly once.

A fired tick's run id is derived from the schedule and the tick, so whoever queues it (the
scheduler that fired it, or any scheduler healing a crash between the two writes) queues the same
run, and the execution stream's first-version conflict keeps it single.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def tick_run_id(schedule_id: str, tick_at: datetime, *, manual: bool = False) -> uuid.UUID:
    stamp = tick_at.astimezone(UTC).isoformat()
    return uuid.uuid5(uuid.UUID(schedule_id), f"manual:{stamp}" if manual else f"tick:{stamp}")
