"""Poison executions: park what retrying will not cure, so the executor goes on (DESIGN §2.7).

An execution that keeps failing for a reason retrying will not cure (its stream does not load or
fold, its runner raises a non-transient error ``POISON_AFTER`` times) would otherwise hold its
user's slot and its partition's offset for ever. It is parked in ``dead_letters`` (consumer
``executor``): the service stops driving it, frees its slot and offset and ignores its later
messages. Losing a write race, the database or the broker (``is_transient``) is a resume, never
poison.

Operators decide with ``agentloom deadletters retry|skip``. The control loop polls those decisions
(every ``RETRY_POLL_S``): ``retry`` makes the execution's owner drive it again (the service decides
ownership), ``skip`` leaves it alone for good. The same loop now and then prunes old node counters.

One dead letter per execution: a re-park counts an attempt on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

import psycopg
from aiokafka.errors import KafkaError

from services.infra import deadletters
from services.infra.store_contract import ConcurrencyConflict

log = logging.getLogger("services.executor.service")  # the logger these messages always had (log filters keep working)
CONSUMER = "executor"
CONTEXT = "executions"
POISON_AFTER = 3  # non-transient failures in a row before an execution is parked
RETRY_POLL_S = 2.0
PRUNE_EVERY_S = 3600.0


def is_transient(exc: BaseException) -> bool:
    """Losing a write race, the database or the broker: resume from the store, never park. The
    database rule is the one every consumer uses (``deadletters.is_transient_db_error``)."""
    return isinstance(exc, (ConcurrencyConflict, KafkaError, TimeoutError)) or deadletters.is_transient_db_error(exc)


class DeadLetters:
    """The executor's dead letters: which executions are parked, and parking/resolving them.

    ``pool`` (the service's pool of short control statements: dead letters, child limits) is set
    when the service starts; ``parked`` holds the executions whose messages the service ignores."""

    def __init__(self, pool=None) -> None:
        self.pool = pool
        self.parked: set[str] = set()
        self.open = 0  # open dead letters of this consumer, as last seen

    async def park(self, handle, exc: Exception) -> bool:
        """Record the execution as a dead letter (one entry per execution: a re-park counts an
        attempt on it). False if that could not be recorded: then it is retried as before."""
        error = f"{type(exc).__name__}: {exc}"
        try:
            async with self.pool.connection() as conn:
                row = await (await conn.execute(
                    "SELECT position FROM dead_letters WHERE consumer = %s AND context = %s AND stream_id = %s "
                    "ORDER BY id DESC LIMIT 1", (CONSUMER, CONTEXT, handle.execution_id))).fetchone()
                position = row[0] if row else handle.position
                if position is None:
                    position = -1 - uuid.UUID(handle.execution_id).int % (1 << 62)
                await deadletters.park(conn, consumer=CONSUMER, context=CONTEXT, stream_id=handle.execution_id,
                                       position=position, error=error, event_type=handle.event_type)
        except (psycopg.Error, OSError) as db_exc:
            log.warning("execution %s: could not park it (%s)", handle.execution_id, db_exc)
            return False
        self.parked.add(handle.execution_id)
        self.open += 1 if handle.dead_letter_id is None else 0
        log.error("execution %s parked as a dead letter (%s); `agentloom deadletters retry` drives it again",
                  handle.execution_id, error)
        return True

    async def resolve(self, handle) -> None:
        async with self.pool.connection() as conn:
            await deadletters.resolve(conn, handle.dead_letter_id)
        handle.dead_letter_id = None

    async def poll(self) -> list[deadletters.DeadLetter]:
        """Refresh ``parked`` and ``open``; returns the dead letters an operator asked to retry."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                "SELECT stream_id, status FROM dead_letters WHERE consumer = %s AND context = %s "
                "AND status IN ('parked', 'retry', 'skipped')", (CONSUMER, CONTEXT))).fetchall()
            retries = await deadletters.take_retries(conn, consumer=CONSUMER, context=CONTEXT)
        self.open = sum(1 for _, status in rows if status in deadletters.OPEN_STATUSES)
        self.parked |= {stream for stream, status in rows if status != "retry"}
        return retries


async def control_loop(stop: asyncio.Event, *, interval: Callable[[], float], poll: Callable[[], Awaitable[None]],
                       prune: Callable[[], Awaitable[None]]) -> None:
    """Every ``interval()`` seconds: ``poll`` operator decisions; now and then ``prune`` old counters."""
    pruned = time.monotonic()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval())
        except TimeoutError:
            pass
        try:
            await poll()
            if time.monotonic() - pruned > PRUNE_EVERY_S:
                pruned = time.monotonic()
                await prune()
        except (psycopg.Error, OSError) as exc:
            log.debug("executor control pass failed: %s", exc)
        except Exception:  # this loop must outlive any one bad pass
            log.exception("executor control pass failed")
