"""One error vocabulary, one table: each kind of refusal answers with its status code and body, the
same on the command API and the query API (both install ``services.infra.http_errors``)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.command_api import app as command_app
from services.command_api.application.executions import NoCredits, StopTimeout
from services.domain.credits.ledger import InsufficientBalance
from services.domain.errors import (
    ConflictError,
    DomainRefusal,
    Forbidden,
    InsufficientCredits,
    InvalidCommand,
    NotFoundError,
    PayloadTooLarge,
    TimedOut,
)
from services.domain.graphs.rules import GraphValidationError
from services.infra.auth import AuthError
from services.infra.http_errors import REFUSALS, STATUS_BY_KIND, status_of
from services.infra.settings import Settings
from services.infra.store_contract import ConcurrencyConflict, EventTooLarge
from services.query_api import app as query_app

SETTINGS = Settings(local_mode=True, DATABASE_URL="postgresql://unused@127.0.0.1/unused")

# (refusal, status, body): the kinds, then the exceptions of other modules that are one of them.
CASES = [
    (InvalidCommand("graph_id must be a UUID"), 400, {"detail": "graph_id must be a UUID"}),
    (InsufficientCredits("broke"), 402, {"detail": "broke"}),
    (Forbidden("Admin access required"), 403, {"detail": "Admin access required"}),
    (NotFoundError("Graph #x not found"), 404, {"detail": "Graph #x not found"}),
    (ConflictError("revoked"), 409, {"detail": "revoked"}),
    (PayloadTooLarge("Graph too large"), 413, {"detail": "Graph too large"}),
    (TimedOut("gave up"), 504, {"detail": "gave up"}),
    (DomainRefusal("no particular kind"), 400, {"detail": "no particular kind"}),
    (NoCredits("Insufficient balance to execute the agent."), 402,
     {"detail": "Insufficient balance to execute the agent."}),
    (InsufficientBalance(0, 100), 402, {"detail": "Insufficient balance of $0.0, where this will cost $1.0"}),
    (StopTimeout("did not stop within 15s"), 504, {"detail": "did not stop within 15s"}),
    (EventTooLarge("GraphCreated", 10, 5), 413,
     {"detail": "GraphCreated event of 10 bytes exceeds the limit of 5 bytes"}),
    (ConcurrencyConflict("stream 1234 lost an earlier write"), 409,
     {"detail": "Concurrent modification; please retry"}),
    (GraphValidationError("Graph validation failed: 1 issues on 1 nodes", {"n1": {"name": "This field is required"}}),
     400, {"detail": {"type": "validation_error", "message": "Graph validation failed: 1 issues on 1 nodes",
                      "node_errors": {"n1": {"name": "This field is required"}}}}),
]


async def _answer_to(app: FastAPI, raised: Exception) -> httpx.Response:
    """What the app answers a route raising ``raised`` with (no lifespan: nothing else is needed)."""
    async def boom() -> None:
        raise raised

    app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/boom")


@pytest.mark.parametrize("make_app", [command_app.create_app, query_app.create_app], ids=["command", "query"])
@pytest.mark.parametrize("refusal, status, body", CASES, ids=[type(c[0]).__name__ for c in CASES])
async def test_each_refusal_answers_its_status_and_body_on_both_apis(make_app, refusal, status, body):
    answer = await _answer_to(make_app(SETTINGS), refusal)
    assert (answer.status_code, answer.json()) == (status, body)
    assert status_of(refusal) == status


@pytest.mark.parametrize("make_app", [command_app.create_app, query_app.create_app], ids=["command", "query"])
async def test_credentials_and_surprises_are_answered_by_the_same_installer(make_app):
    unauthenticated = await _answer_to(make_app(SETTINGS), AuthError("Invalid token"))
    assert (unauthenticated.status_code, unauthenticated.json()) == (401, {"detail": "Invalid token"})
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    surprise = await _answer_to(make_app(SETTINGS), RuntimeError("secret internals"))
    assert (surprise.status_code, surprise.json()) == (500, {"detail": "Internal server error"})


def test_every_status_of_the_table_is_documented_once():
    assert set(STATUS_BY_KIND.values()) <= set(REFUSALS)


def test_store_and_rule_errors_keep_their_other_nature():
    # The group appenders retry a batch item by item on ValueError; graph rules are caught as ValueError.
    assert issubclass(EventTooLarge, ValueError) and issubclass(GraphValidationError, ValueError)
    assert str(ConcurrencyConflict("stream 1234 lost an earlier write")) == "stream 1234 lost an earlier write"
