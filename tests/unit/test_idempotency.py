"""Idempotency-Key's pure parts (header bounds, the request fingerprint), the route class's store /
release / replay against an in-memory key table, and which operations document the header."""

from __future__ import annotations

import types
import uuid

import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.testclient import TestClient

from services.command_api.api.idempotency import IDEMPOTENT, IdempotentRoute
from services.domain.errors import InvalidCommand
from services.infra import idempotency as keys
from services.infra.http import use_token_verifier
from services.infra.http_errors import install_error_handlers
from services.infra.settings import Settings


@pytest.mark.parametrize("value", ["a", "x" * 255, "order 42/retry:1", "~!@#$%^&*()"])
def test_a_key_of_1_to_255_printable_ascii_characters_is_taken(value):
    assert keys.validate_key(value) == value


@pytest.mark.parametrize("value, says", [("", "empty"), ("x" * 256, "at most 255"), ("clé", "printable ASCII"),
                                         ("a\tb", "printable ASCII"), ("a\x7fb", "printable ASCII")])
def test_a_bad_key_is_refused_as_bad_input_saying_why(value, says):
    with pytest.raises(InvalidCommand, match=says):
        keys.validate_key(value)


def test_the_fingerprint_is_the_method_path_sorted_query_and_raw_body():
    base = keys.fingerprint("POST", "/api/graphs/1/execute/1", b"b=2&a=1", b'{"x":1}')
    assert base == keys.fingerprint("post", "/api/graphs/1/execute/1", "a=1&b=2", b'{"x":1}')  # query order
    others = {keys.fingerprint("PUT", "/api/graphs/1/execute/1", b"a=1&b=2", b'{"x":1}'),
              keys.fingerprint("POST", "/api/graphs/2/execute/1", b"a=1&b=2", b'{"x":1}'),
              keys.fingerprint("POST", "/api/graphs/1/execute/1", b"a=1&b=3", b'{"x":1}'),
              keys.fingerprint("POST", "/api/graphs/1/execute/1", b"a=1&b=2", b'{"x": 1}'),
              # bytes moved between parts do not collide
              keys.fingerprint("POST", "/api/graphs/1/execute/1a=1&b=2", b"", b'{"x":1}')}
    assert base not in others and len(others) == 5


class MemoryKeys:
    """``IdempotencyKeys`` in memory: claim, store, release (no expiry)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict] = {}

    async def claim(self, principal, key, print_):
        row = self.rows.get((principal, key))
        if row is None:
            token = uuid.uuid4()
            self.rows[(principal, key)] = {"fp": print_, "state": "running", "token": token}
            return keys.Claim(principal, key, token)
        if row["fp"] != print_:
            raise keys.KeyReused("used with a different request")
        if row["state"] == "done":
            return keys.Stored(*row["answer"])
        raise keys.InProgress(5)

    async def store(self, claim, status, content_type, body):
        self.rows[(claim.principal, claim.key)].update(state="done", answer=(status, content_type, body))

    async def release(self, claim):
        self.rows.pop((claim.principal, claim.key), None)


@pytest.fixture
def app_and_calls():
    app = FastAPI()
    install_error_handlers(app)
    use_token_verifier(app, types.SimpleNamespace(may_fetch_keys=False,
                                                  verify=lambda token: types.SimpleNamespace(id=token)))
    app.state.command_services = types.SimpleNamespace(idempotency_keys=MemoryKeys())
    calls: list[dict] = []
    router = APIRouter(route_class=IdempotentRoute)

    @router.post("/things", status_code=201, dependencies=[IDEMPOTENT])
    def create(body: dict):
        calls.append(body)
        if body.get("fail") == "refuse":
            raise InvalidCommand("refused")
        if body.get("fail") == "http":
            raise HTTPException(404, "nope")
        return {"n": len(calls)}

    @router.post("/plain")
    def plain(body: dict):
        calls.append(body)
        return {"n": len(calls)}

    app.include_router(router)
    return app, calls


def _post(client, path, body, key="k1", user="u1"):
    headers = {"Authorization": f"Bearer {user}"}
    if key is not None:
        headers[keys.HEADER] = key
    return client.post(path, json=body, headers=headers)


def test_a_repeat_gets_the_first_answer_without_calling_the_endpoint(app_and_calls):
    app, calls = app_and_calls
    with TestClient(app) as client:
        first = _post(client, "/things", {"a": 1})
        again = _post(client, "/things", {"a": 1})
        other_user = _post(client, "/things", {"a": 1}, user="u2")
        no_key = _post(client, "/things", {"a": 1}, key=None)
    assert first.status_code == 201 and keys.REPLAYED_HEADER not in first.headers
    assert again.status_code == 201 and again.content == first.content
    assert again.headers[keys.REPLAYED_HEADER] == "true" and again.headers["content-type"] == "application/json"
    assert other_user.json() == {"n": 2} and no_key.json() == {"n": 3}
    assert len(calls) == 3


def test_a_different_request_with_the_key_is_422_and_a_running_one_409(app_and_calls):
    app, calls = app_and_calls
    with TestClient(app) as client:
        _post(client, "/things", {"a": 1})
        reused = _post(client, "/things", {"a": 2})
        app.state.command_services.idempotency_keys.rows[("user:u1", "k2")] = {"fp": "?", "state": "running"}
        running = _post(client, "/things", {"a": 1}, key="k2")
    assert reused.status_code == 422 and reused.json()["detail"][0]["loc"] == ["header", keys.HEADER]
    assert running.status_code == 422  # another fingerprint still wins over "running"
    assert len(calls) == 1


def test_a_refused_or_failed_first_request_does_not_block_a_corrected_retry(app_and_calls):
    app, calls = app_and_calls
    with TestClient(app) as client:
        refused = _post(client, "/things", {"fail": "refuse"})
        missing = _post(client, "/things", {"fail": "http"}, key="k2")
        assert (refused.status_code, missing.status_code) == (400, 404)
        assert not app.state.command_services.idempotency_keys.rows  # both claims released
        assert _post(client, "/things", {"fail": "refuse"}).status_code == 400  # the same request runs again
        assert _post(client, "/things", {"ok": 1}).status_code == 201  # so does a corrected one
    assert len(calls) == 4


def test_a_bad_header_is_400_and_a_route_without_the_marker_ignores_it(app_and_calls):
    app, calls = app_and_calls
    with TestClient(app) as client:
        long = _post(client, "/things", {"a": 1}, key="x" * 256)
        first, second = _post(client, "/plain", {"a": 1}), _post(client, "/plain", {"a": 1})
    assert long.status_code == 400 and "at most 255" in long.json()["detail"]
    assert (first.json(), second.json()) == ({"n": 1}, {"n": 2})


OPTED_IN = {("post", "/api/graphs"), ("post", "/api/graphs/{graph_id}/execute/{graph_version}"),
            ("post", "/api/graphs/{graph_id}/execute"), ("post", "/api/library/presets"),
            ("post", "/api/library/presets/{preset_id}/execute"), ("post", "/api/graphs/{graph_id}/schedules"),
            ("post", "/api/api-keys"), ("post", "/api/user/api-keys"),
            ("post", "/api/integrations/{provider}/credentials"),
            ("post", "/api/store/submissions"), ("post", "/api/library/agents"), ("post", "/external-api/v1/graphs"),
            ("post", "/external-api/v1/graphs/{graph_id}/execute/{graph_version}"),
            ("post", "/api/executions/{graph_exec_id}/retry"), ("post", "/api/executions/{graph_exec_id}/fork"),
            ("post", "/api/library/agents/{library_agent_id}/fork"), ("post", "/api/library/folders"),
            ("post", "/api/library/presets/setup-trigger"), ("post", "/api/schedules/{schedule_id}/run"),
            ("post", "/external-api/v1/library/presets/{preset_id}/execute"),
            ("post", "/external-api/v1/graphs/{graph_id}/schedules"), ("post", "/external-api/v1/webhooks")}


def test_the_creating_routes_document_the_header_and_its_refusals():
    from services import gateway

    app = gateway.create_app(Settings(local_mode=True, DATABASE_URL="postgresql://unused@127.0.0.1/unused"),
                             background=[])
    documented = set()
    for path, methods in app.openapi()["paths"].items():
        for method, operation in methods.items():
            if any(p["in"] == "header" and p["name"] == keys.HEADER for p in operation.get("parameters", [])):
                documented.add((method, path))
                assert {"400", "409", "422"} <= set(operation["responses"]), (method, path)
    assert OPTED_IN <= documented, OPTED_IN - documented


def test_answers_are_sealed_per_row_and_unreadable_once_their_key_leaves_the_keyring():
    from services.domain.integrations.crypto import Keyring, generate_key

    old, new = f"old:{generate_key()}", f"new:{generate_key()}"
    store = keys.IdempotencyKeys(None, Keyring.parse([old]))
    body = b'{"plain_text_key": "agpt_secret"}'
    sealed = store._seal("alice", "k1", body)
    assert b"agpt_secret" not in sealed and store._unseal("alice", "k1", sealed) == body
    with pytest.raises(keys.StoredUnreadable):
        store._unseal("bob", "k1", sealed)
    rotated = keys.IdempotencyKeys(None, Keyring.parse([new, old]))
    assert rotated._unseal("alice", "k1", sealed) == body
    with pytest.raises(keys.StoredUnreadable, match="new key"):
        keys.IdempotencyKeys(None, Keyring.parse([new]))._unseal("alice", "k1", sealed)
