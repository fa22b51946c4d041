"""Background services report liveness every second so ``GET /health`` can tell the truth about
processes it does not host (relay, projector, executor), wherever they run."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable

import psycopg
from psycopg.types.json import Jsonb

from services.infra import db
from services.infra.settings import Settings

log = logging.getLogger(__name__)
STALE_AFTER_S = 5.0


def instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def beat(settings: Settings, component: str, status: Callable[[], tuple[bool, dict]],
               stop: asyncio.Event, interval: float = 1.0) -> None:
    me = instance_id()
    conn = None
    while not stop.is_set():
        try:
            if conn is None or conn.closed:
                conn = await db.aconnect(settings, autocommit=True)
                await conn.execute("SET synchronous_commit TO OFF")  # liveness, not data
            ready, details = status()
            await conn.execute(
                "INSERT INTO component_heartbeats (component, instance, ready, details, updated_at) "
                "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (component, instance) DO UPDATE "
                "SET ready = EXCLUDED.ready, details = EXCLUDED.details, updated_at = now()",
                (component, me, ready, Jsonb(details)))
        except (psycopg.Error, OSError) as exc:
            log.debug("heartbeat failed: %s", exc)
            conn = None
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
    if conn is not None:
        try:
            await conn.execute("DELETE FROM component_heartbeats WHERE component = %s AND instance = %s",
                               (component, me))
        except psycopg.Error:
            pass
        await conn.close()


async def component_status(pool, components: list[str]) -> dict[str, dict]:
    """``{component: {"ready": bool, "instances": n, ...}}`` from fresh heartbeats."""
    out = {c: {"ready": False, "instances": 0} for c in components}
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            "SELECT component, ready, details FROM component_heartbeats "
            "WHERE updated_at > now() - make_interval(secs => %s)", (STALE_AFTER_S,))).fetchall()
    for component, ready, details in rows:
        entry = out.setdefault(component, {"ready": False, "instances": 0})
        entry["instances"] += 1
        entry["ready"] = entry["ready"] or ready
        entry.setdefault("details", []).append(details)
    return out
