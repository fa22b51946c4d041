"""The reconnect loop of a Kafka consumer service: run its consume step until stopped, and after
a broker, network or database connection failure mark it not ready, log, wait a second and start
it again (a new consumer and connection; uncommitted offsets are redelivered). Any other error is
a bug and ends the process, which the supervisor restarts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)
TRANSIENT_ERRORS = (KafkaError, OSError, psycopg.OperationalError)
RECONNECT_AFTER_S = 1.0


async def consume_until_stopped(name: str, consume: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event,
                                *, on_down: Callable[[], None]) -> None:
    while not stop.is_set():
        try:
            await consume(stop)
        except TRANSIENT_ERRORS as exc:
            on_down()
            log.warning("%s: %s; reconnecting", name, exc)
            await asyncio.sleep(RECONNECT_AFTER_S)
