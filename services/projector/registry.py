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
# Called once per applied batch of a context with each stream's last applied envelope, after its
# handlers and in the same transaction: for what every event moves but only the last one decides.
Finisher = Callable[..., Awaitable[None]]

PROJECTIONS: dict[str, tuple[Handler, ...]] = {
    "graphs": (graphs.apply, library.apply_graph_event),
    "executions": (library_runs.apply, store_runs.apply, executions.apply, reviews.apply),
    "credits": (credits.apply,),
    "apikeys": (apikeys.apply,),
    "integrations": (integrations.apply,),
    "notifications": (notifications.apply,),
    "library": (library.apply,),
    "store": (store.apply,),
    "schedules": (schedules.apply,),
    "callbacks": (callbacks.apply,),
}


def _chain(handlers: tuple[Handler, ...]) -> Handler:
    if len(handlers) == 1:
        return handlers[0]

    async def apply(cur, env, event) -> None:
        for handler in handlers:
            await handler(cur, env, event)

    return apply


HANDLERS = {context: _chain(handlers) for context, handlers in PROJECTIONS.items()}
FINISHERS: dict[str, Finisher] = {"executions": executions.finish}

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
