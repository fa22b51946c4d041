"""``docs/compatibility.md`` cannot drift from the routes: its AutoGPT table and its agentloom-only
table together name every route the combined app serves, each `same`/`differs` row is served at
its method and path, each `missing` row is not, and each `elsewhere` row names a served route."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIWebSocketRoute

from services import gateway
from services.infra.auth import TokenVerifier
from services.infra.settings import Settings
from services.query_api import app as query_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"
STATUSES = {"same", "differs", "elsewhere", "missing"}
ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE|WS) (/[^`]*)`")


def _key(method: str, path: str) -> tuple[str, str]:
    """A route by method and shape: parameter names do not matter, nor a trailing slash."""
    return method, re.sub(r"\{[^}]+\}", "{}", path.rstrip("/") or "/")


def _served() -> set[tuple[str, str]]:
    """Every route of the combined app: the HTTP ones from its OpenAPI, the WebSocket ones (which
    OpenAPI does not list) from the query API's routers, which are the only ones serving any."""
    settings = Settings(local_mode=True, DATABASE_URL="postgresql://unused@127.0.0.1/unused")
    app = gateway.create_app(settings, background=[])
    routes = {_key(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    routers = query_app.routers(settings, TokenVerifier(settings))
    routes |= {_key("WS", r.path) for router in routers for r in router.routes if isinstance(r, APIWebSocketRoute)}
    assert ("WS", "/ws") in routes
    return routes


def _table(heading: str) -> list[list[str]]:
    """The rows (cells, stripped) of the first table under ``heading``."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]  # past header and rule


def _route(cell: str) -> tuple[str, str]:
    found = ROUTE.fullmatch(cell)
    assert found, f"not a `METHOD /path` cell: {cell!r}"
    return _key(found[1], found[2])


def test_the_autogpt_table_matches_what_is_served():
    served, problems, seen = _served(), [], set()
    for cells in _table("AutoGPT routes"):
        route, status, notes = _route(cells[0]), cells[1], cells[2]
        assert status in STATUSES, f"{cells[0]}: unknown status {status!r}"
        assert route not in seen, f"{cells[0]} is listed twice"
        seen.add(route)
        if status in ("same", "differs") and route not in served:
            problems.append(f"{cells[0]} is marked {status} but is not served")
        if status == "missing" and route in served:
            problems.append(f"{cells[0]} is marked missing but is served: mark it same or differs")
        if status == "elsewhere":
            target = ROUTE.search(notes)
            if target is None or _key(target[1], target[2]) not in served:
                problems.append(f"{cells[0]} is elsewhere, but its notes name no served route first")
    assert not problems, "\n".join(problems)


def test_every_served_route_is_in_a_table():
    autogpt = {_route(c[0]): c[1] for c in _table("AutoGPT routes")}
    ours = [_route(c[0]) for c in _table("agentloom-only routes")]
    assert len(ours) == len(set(ours)), "an agentloom-only route is listed twice"
    served = _served()
    both = [r for r in ours if autogpt.get(r) in ("same", "differs")]
    assert not both, f"listed as AutoGPT's and as agentloom-only: {both}"
    unlisted = sorted(r for r in served if autogpt.get(r) not in ("same", "differs") and r not in ours)
    assert not unlisted, f"served but in neither table of docs/compatibility.md: {unlisted}"
    gone = sorted(r for r in ours if r not in served)
    assert not gone, f"agentloom-only rows that are not served: {gone}"
