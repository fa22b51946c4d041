"""Request dispatch that looks only at the routers that can match a path.

Why: the router tries every route in order until one matches, and with FastAPI's included routers
each try costs a few microseconds of Python; with ~250 routes that was 130–440 µs per request, a
third of a cached read's whole cost (measured in process, ``bench`` api-read). Routes are grouped
here by their first two literal path segments (``/api/executions``): a request is matched against
the top-level routes whose paths can start that way (in their original order, plus any route whose
first segments are parameters), so the first full match is the one the router itself would pick,
and so is a partial one (405). The router's own dispatch code runs on that subset; a slash
redirect looks in it too (a trailing slash does not change a path's key), and the rest (the
fallback routes, 404) uses the router itself. Top-level routes added later are picked up (the
index is rebuilt when their count changes).
"""

from __future__ import annotations

from typing import Any

from starlette.types import Receive, Scope, Send

_DEPTH = 2  # literal leading segments a key holds
_ANY = None  # a route whose leading segments hold a parameter: a candidate for every path


def _route_paths(route: Any) -> list[str] | None:
    """Every full path a top-level route serves, or None when that cannot be told (any path)."""
    contexts = getattr(route, "effective_route_contexts", None)
    if contexts is not None:  # an included router
        paths = []
        for context in contexts():
            path = getattr(context.starlette_route, "path", None) or getattr(context, "path_format", None)
            if not isinstance(path, str):
                return None
            paths.append(path)
        return paths
    path = getattr(route, "path", None)
    if not isinstance(path, str) or type(route).__name__ in ("Mount", "Host"):
        return None
    return [path]


def _key(path: str) -> tuple[str, ...] | None:
    """The leading literal segments of a route path; None when one of them is a parameter."""
    segments = path.strip("/").split("/")[:_DEPTH]
    if any("{" in segment for segment in segments):
        return _ANY
    return tuple(segments)


def _request_keys(path: str) -> tuple[tuple[str, ...], ...]:
    """The keys a request path can match: its first segment alone and its first two."""
    segments = path.strip("/").split("/")
    return tuple(tuple(segments[:n]) for n in range(1, min(_DEPTH, len(segments)) + 1))


class _Subset:
    """The router with only some of its routes, for its own dispatch code."""

    def __init__(self, router: Any, routes: list[Any]) -> None:
        self._router = router
        self.routes = routes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._router, name)


class RouteIndex:
    def __init__(self, router: Any) -> None:
        self.router = router
        self.version: Any = object()
        self.by_key: dict[tuple[str, ...], list[Any]] = {}
        self.anywhere: list[Any] = []
        self.subsets: dict[tuple[str, ...], _Subset] = {}

    def _rebuild(self) -> None:
        by_key: dict[tuple[str, ...], set[int]] = {}
        anywhere: set[int] = set()
        routes = list(self.router.routes)
        for position, route in enumerate(routes):
            paths = _route_paths(route)
            keys = [_key(p) for p in paths] if paths is not None else [_ANY]
            for key in keys:
                if key is _ANY:
                    anywhere.add(position)
                else:
                    by_key.setdefault(key, set()).add(position)
        self.by_key = {key: [routes[i] for i in sorted(found | anywhere)] for key, found in by_key.items()}
        self.anywhere = [routes[i] for i in sorted(anywhere)]
        self.subsets = {}
        self.version = len(routes)

    def candidates(self, path: str) -> _Subset:
        if len(self.router.routes) != self.version:
            self._rebuild()
        keys = _request_keys(path)
        subset = self.subsets.get(keys)
        if subset is None:
            positions: dict[int, Any] = {}
            for key in keys:
                for route in self.by_key.get(key, self.anywhere):
                    positions[id(route)] = route
            order = {id(route): i for i, route in enumerate(self.router.routes)}
            routes = sorted(positions.values(), key=lambda r: order[id(r)]) or list(self.anywhere)
            subset = self.subsets[keys] = _Subset(self.router, routes)
            if len(self.subsets) > 1024:  # request paths are unbounded; their keys are few
                self.subsets.clear()
        return subset

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.router.app(scope, receive, send)
            return
        scope.setdefault("router", self.router)
        await type(self.router).app(self.candidates(scope.get("path", "")), scope, receive, send)


def index_routes(app: Any) -> None:
    """Dispatch ``app``'s requests through a ``RouteIndex`` (when its router has no middleware of
    its own, whose order this must not change)."""
    router = app.router
    if getattr(router, "middleware_stack", None) == router.app:
        router.middleware_stack = RouteIndex(router)
