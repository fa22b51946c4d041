"""Which projections handle which context, and the read-model tables each one owns.

A context's events may feed more than one projection (a graph's creation is also its owner's
library entry; a run also counts in its graph's library figures); they run in the order listed,
in the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.projector.projections import (
    apikeys,
    callbacks,
    credits,
    executions,
    graphs,
    integrations,
    library,
    library_runs,
    notifications,
    reviews,
    schedules,
    store,
    store_runs,
)

Handler = Callable[..., Awaitable[None]]
# A stage is a handler ``(cur, env, event)``, or a class of which each applied batch gets its own
# instance: ``apply(cur, env, event)`` for each event, then ``finish(cur, latest)`` once, after the
# batch's last event and in the same transaction, with each stream's last applied envelope. A class
# is for what several events of a batch move but one write can decide.
Stage = Handler | type

PROJECTIONS: dict[str, tuple[Stage, ...]] = {
    "graphs": (graphs.apply, library.apply_graph_event),
    "executions": (library_runs.apply, store_runs.apply, executions.Executions, reviews.apply),
    "credits": (credits.apply,),
    "apikeys": (apikeys.apply,),
    "integrations": (integrations.apply,),
    "notifications": (notifications.apply,),
    "library": (library.apply,),
    "store": (store.apply,),
    "schedules": (schedules.apply,),
    "callbacks": (callbacks.apply,),
}


class Batch:
    """A context's stages for one applied batch, in their listed order."""

    def __init__(self, stages: tuple[Stage, ...]) -> None:
        self._stateful = [stage() for stage in stages if isinstance(stage, type)]
        made = iter(self._stateful)
        self._apply = [next(made).apply if isinstance(stage, type) else stage for stage in stages]

    async def apply(self, cur, env, event) -> None:
        for apply in self._apply:
            await apply(cur, env, event)

    async def finish(self, cur, latest: list) -> None:
        for stage in self._stateful:
            await stage.finish(cur, latest)


def open_batch(context: str) -> Batch:
    return Batch(PROJECTIONS[context])


TABLES = {
    "graphs": graphs.TABLES,
    "executions": executions.TABLES + library_runs.TABLES + store_runs.TABLES + reviews.TABLES,
    "credits": credits.TABLES,
    "apikeys": apikeys.TABLES,
    "integrations": integrations.TABLES,
    "notifications": notifications.TABLES,
    "library": library.TABLES,
    "store": store.TABLES,
    "schedules": schedules.TABLES,
    "callbacks": callbacks.TABLES,
}
