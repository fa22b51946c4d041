"""No route depends on a plain ``def`` dependency.

FastAPI runs a ``def`` dependency in its thread pool: two thread hops per request (a queue put, a
wakeup, the answer handed back to the event loop), which measured a quarter of an execute's time
on the event loop for a dependency that only returned a header. Endpoints may be ``def`` (they
block on the store); their dependencies are ``async def``, and one that must block hands its own
work to a thread (as ``current_user`` does for a JWKS fetch)."""

import inspect

from services import gateway
from services.infra.settings import Settings


def _routes(app):
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        yield from (contexts() if contexts is not None else [route])


def _is_async(call) -> bool:
    if inspect.isfunction(call) or inspect.ismethod(call):
        return inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)
    return inspect.iscoroutinefunction(type(call).__call__)  # a callable instance


def _sync_dependencies(dependant, found: set[str]) -> None:
    for sub in dependant.dependencies:
        call = sub.call
        if call is not None and not _is_async(call):
            found.add(f"{getattr(call, '__module__', '?')}.{getattr(call, '__qualname__', type(call).__name__)}")
        _sync_dependencies(sub, found)


def test_every_dependency_of_every_route_is_async():
    app = gateway.create_app(Settings(local_mode=True, DATABASE_URL="postgresql://unused@127.0.0.1/unused"),
                             background=[])
    found: set[str] = set()
    walked = 0
    for route in _routes(app):
        dependant = getattr(route, "dependant", None)
        if dependant is not None:
            walked += 1
            _sync_dependencies(dependant, found)
    assert walked > 150  # the walk reached the included routers' routes
    assert not found, f"plain def dependencies (run in the thread pool on every request): {sorted(found)}"
