"""The route index picks the route the router itself would pick, for every route of the API."""

import re
import uuid

from starlette.routing import Match

from services.gateway import create_app
from services.infra.route_index import RouteIndex
from tests.conftest import isolated_settings


def _first_match(routes, scope):
    partial = None
    for route in routes:
        match, _ = route.matches(dict(scope))
        if match == Match.FULL:
            return route, Match.FULL
        if match == Match.PARTIAL and partial is None:
            partial = route
    return partial, Match.PARTIAL if partial else Match.NONE


def _sample(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


def test_every_route_is_found_among_its_candidates_in_the_router_order():
    app = create_app(isolated_settings("postgresql://unused/x", "127.0.0.1:1"), background=[])
    index = RouteIndex(app.router)
    checked = 0
    for top in app.router.routes:
        contexts = top.effective_route_contexts() if hasattr(top, "effective_route_contexts") else [top]
        for context in contexts:
            path = getattr(getattr(context, "starlette_route", None), "path", None) or context.path_format
            for method in sorted(getattr(context, "methods", None) or {"GET"}):
                scope = {"type": "http", "path": _sample(path), "method": method, "root_path": "",
                         "headers": [], "query_string": b""}
                assert _first_match(index.candidates(scope["path"]).routes, scope) == \
                    _first_match(app.router.routes, scope), (method, path)
                checked += 1
    assert checked > 120
    for path, method in (("/nowhere", "GET"), ("/api/graphs", "PATCH"), ("/api/graphs/", "GET")):
        scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": [], "query_string": b""}
        assert _first_match(index.candidates(path).routes, scope)[1] == _first_match(app.router.routes, scope)[1]
