"""Answers already built for one stream, reused while that stream has not moved.

Why: clients watch a run by polling its execution (AutoGPT's UI and SDKs do), so the same view
is built again and again from rows that have not changed: a query, a few hundred objects and a
JSON encoding per poll, the largest part of such a read's cost. A view here is tagged with the
stream version its rows were built from (``rm_executions.last_seq``, written in the same
transaction as the rows), and it is served only to a read whose fence asks for that version or
an older one. That is exact, not a time-to-live: every row such a view is made of is written by
its own stream's events (blob values are content-addressed, so they never change), so the view
of version ``v`` is the view of every read that must include ``v``. A read the fence does not
pin (``consistency=eventual``) asks the database as before.

Bounded: at most ``max_entries`` views of at most ``max_bytes`` each per API process, least
recently used first out. Keys carry the user, so one user's views are never served to another.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamView:
    version: int | None  # the stream version the view was built from (None: unknown, never kept)
    body: bytes  # the encoded answer
    scope: str  # what else the route checks against (an execution's graph id)


class StreamViews:
    def __init__(self, *, max_entries: int = 2048, max_bytes: int = 256 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._views: OrderedDict[Hashable, StreamView] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, at_least: int | None) -> StreamView | None:
        """The view of ``key`` if it includes version ``at_least`` (None: no fence, no view)."""
        view = self._views.get(key) if at_least is not None else None
        if view is None or view.version < at_least:
            self.misses += 1
            return None
        self._views.move_to_end(key)
        self.hits += 1
        return view

    async def answer(self, key: Hashable, at_least: int | None,
                     build: Callable[[], Awaitable[StreamView | None]]) -> StreamView | None:
        """The view of ``key`` when it includes ``at_least``, else ``build()`` (None: nothing to
        show), kept for later reads when it names the version it was built from."""
        view = self.get(key, at_least)
        if view is None:
            view = await build()
            if view is not None and view.version is not None:
                self.put(key, view)
        return view

    def put(self, key: Hashable, view: StreamView) -> None:
        if len(view.body) > self.max_bytes:
            return
        old = self._views.get(key)
        if old is not None and old.version > view.version:
            return  # a slower read built an older view meanwhile
        self._views[key] = view
        self._views.move_to_end(key)
        while len(self._views) > self.max_entries:
            self._views.popitem(last=False)
