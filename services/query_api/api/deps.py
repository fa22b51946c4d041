"""The query routes' typed dependencies: the read pool every read model query runs on, and the
read fences.

A read is strong by default: it waits until the read models hold every event recorded before it
arrived, in every context it reads (``fenced``), or, for a read of one stream, every event of that
stream (``fenced_stream``: an execution, a graph, a user's ledger). A fence not met within
``read_fence_timeout_s`` answers 503 with ``Retry-After``, never stale data as if it were current.
``?consistency=eventual`` takes what the read models hold at once; the answer's
``X-Read-Behind-Events`` header says how many recorded events they are known not to hold yet.

The providers are ``async`` because they only read attributes: FastAPI runs a plain ``def``
dependency in a worker thread.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from psycopg_pool import AsyncConnectionPool

from services.domain.errors import Unavailable
from services.infra.auth import User
from services.infra.http import CurrentUser
from services.query_api.read_models.fence import events_behind, wait_for_read_models, wait_for_stream

BEHIND_HEADER = "X-Read-Behind-Events"
Consistency = Literal["strong", "eventual"]
ConsistencyQuery = Query("strong", description="`strong` (default): wait for every recorded event (503 when they "
                                               "cannot be read in time); `eventual`: answer at once from what the "
                                               "read models hold (header `X-Read-Behind-Events`)")


async def read_pool(request: Request) -> AsyncConnectionPool:
    return request.app.state.read_pool


ReadPool = Annotated[AsyncConnectionPool, Depends(read_pool)]


def fenced_version(request: Request) -> int | None:
    """The stream version a ``fenced_stream`` read must include; None when no fence pinned one
    (``consistency=eventual``, a fence switched off)."""
    return getattr(request.state, "stream_version", None)


def fenced_head(request: Request, context: str) -> int | None:
    """The position in ``context``'s log a ``fenced`` read must include; None when no fence
    pinned one."""
    return getattr(request.state, "log_heads", {}).get(context)


def _behind(contexts: tuple[str, ...], missing: int | None = None) -> Unavailable:
    where = ", ".join(contexts)
    extra = f" ({missing} events of it not yet readable)" if missing else ""
    return Unavailable(f"The read models are behind what was recorded ({where}){extra}; retry shortly, or ask "
                       "for consistency=eventual to read what they hold now")


async def _eventual(request: Request, pool: AsyncConnectionPool, contexts: tuple[str, ...]) -> None:
    behind = await asyncio.gather(*(events_behind(pool, context) for context in contexts))
    request.state.read_behind = sum(behind)


def fenced(*contexts: str):
    """Dependency: the read waits until the read models of every one of ``contexts`` hold every
    event recorded before it arrived (``read_models/fence.py``; the contexts are waited for side by
    side). It asks for the user first, so a request without credentials is refused before it waits."""

    async def wait(request: Request, _: CurrentUser, pool: ReadPool,
                   consistency: Consistency = ConsistencyQuery) -> None:
        await require_fresh(request, pool, *contexts, consistency=consistency)

    return wait


async def require_fresh(request: Request, pool: AsyncConnectionPool, *contexts: str,
                        consistency: str | None = None) -> None:
    """The fence itself, for a route that learns only while answering which contexts it reads."""
    if (consistency or request.query_params.get("consistency")) == "eventual":
        await _eventual(request, pool, contexts)
        return
    timeout = request.app.state.read_fence_timeout_s
    fences = await asyncio.gather(*(wait_for_read_models(pool, context, timeout) for context in contexts))
    if not all(ok for ok, _head in fences):
        raise _behind(tuple(c for c, (ok, _head) in zip(contexts, fences, strict=True) if not ok))
    request.state.log_heads = {c: head for c, (_ok, head) in zip(contexts, fences, strict=True)}


def fenced_stream(context: str, stream_of: Callable[[Request, User], uuid.UUID | None]):
    """Dependency: the read waits for one stream only (``stream_of`` names it from the request and
    the user; ``None``, e.g. a malformed id, waits for nothing and lets the route refuse it). A met
    fence leaves ``request.state.stream_version``: the stream version the answer must include."""

    async def wait(request: Request, user: CurrentUser, pool: ReadPool,
                   consistency: Consistency = ConsistencyQuery) -> None:
        stream_id = stream_of(request, user)
        if stream_id is None:
            return
        if consistency == "eventual":
            await _eventual(request, pool, (context,))
            return
        version, missing = await wait_for_stream(pool, context, stream_id, request.app.state.read_fence_timeout_s)
        if missing:
            raise _behind((context,), missing)
        request.state.stream_version = version  # what the answer must include (``stream_views.py``)

    return wait


def path_stream(name: str) -> Callable[[Request, User], uuid.UUID | None]:
    """The stream a path parameter names (an execution id, a graph id)."""

    def stream_of(request: Request, _: User) -> uuid.UUID | None:
        try:
            return uuid.UUID(request.path_params.get(name, ""))
        except ValueError:
            return None

    return stream_of
