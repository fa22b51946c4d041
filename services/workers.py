"""Entry points of the background services (``agentloom serve relay|projector|executor|notifier|scheduler``).

Each runs until ``stop`` is set and reports a heartbeat so ``GET /health`` can see it.
"""

from __future__ import annotations

import asyncio

from schemas.topics import CONTEXTS
from services.infra.heartbeat import beat
from services.infra.settings import Settings


async def run_relay(settings: Settings, stop: asyncio.Event) -> None:
    from services.infra.relay import Relay

    relays = [Relay(settings, context) for context in CONTEXTS]

    def status() -> tuple[bool, dict]:
        return (all(r.stats.active for r in relays),
                {r.context: {"position": r.stats.position, "published": r.stats.published,
                             "waiting_for_lock": r.stats.waiting_for_lock, "parked": r.stats.parked,
                             "held_streams": r.stats.held_streams, "record_limit": r.stats.record_limit}
                 for r in relays})

    await asyncio.gather(beat(settings, "relay", status, stop), *(r.run(stop) for r in relays))


async def run_projector(settings: Settings, stop: asyncio.Event) -> None:
    from services.projector.runner import Projector

    projector = Projector(settings)

    def status() -> tuple[bool, dict]:
        stats = projector.stats
        return stats.ready, {"applied": stats.applied, "reapplied_batches": stats.not_next, "parked": stats.parked,
                             "held": stats.held, "blocked_streams": stats.blocked_streams, **stats.lag_quantiles()}

    await asyncio.gather(beat(settings, "projector", status, stop), projector.run(stop))


async def run_executor(settings: Settings, stop: asyncio.Event) -> None:
    from services.executor.service import ExecutorService

    service = ExecutorService(settings)
    await asyncio.gather(beat(settings, "executor", service.status, stop), service.run(stop))


async def run_notifier(settings: Settings, stop: asyncio.Event) -> None:
    from services.notifier.service import NotifierService

    service = NotifierService(settings)
    await asyncio.gather(beat(settings, "notifier", service.status, stop), service.run(stop))


async def run_scheduler(settings: Settings, stop: asyncio.Event) -> None:
    """The schedules' ticks and the stuck-run watchdog: the two time-driven jobs, side by side."""
    from services.scheduler.service import SchedulerService
    from services.scheduler.watchdog import StuckRunWatchdog

    service = SchedulerService(settings)
    watchdog = StuckRunWatchdog(settings, service.services.stores["executions"], service.read_models)
    await asyncio.gather(beat(settings, "scheduler", service.status, stop), service.run(stop), watchdog.run(stop))


RUNNERS = {"relay": run_relay, "projector": run_projector, "executor": run_executor, "notifier": run_notifier,
           "scheduler": run_scheduler}


# The services that meet blocks, and so load the catalogue at start (``infra/process_start.py``).
LOADS_BLOCKS = ("projector", "executor", "notifier", "scheduler")


async def run(name: str, settings: Settings, stop: asyncio.Event) -> None:
    await RUNNERS[name](settings, stop)
