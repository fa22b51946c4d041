"""Idempotency-Key on the creating POSTs of both APIs, against the real stack: a repeat answers the
first answer and records nothing (counted in the event store, not read off the answer), a reused
key with another body is 422, keys are per user, expire after 24 h, are bounded, hold under a
race, and a refused first request does not block its corrected retry."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import httpx
import orjson
import pytest
import pytest_asyncio

from services.infra import db
from services.infra import idempotency as keys
from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import publish
from tests.integration.stack import running_stack
from tests.integration.test_api_keys import ALL, EXT, adder_graph, external, new_key

H = keys.HEADER


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    settings = isolated_settings(database_url, broker.bootstrap)
    async with running_stack(settings, executors=1) as running:  # retry needs an ended run
        yield running
    drop_schema(database_url, settings.db_schema)


def recorded(stack, context: str, user: str, topic: str | None = None) -> int:
    """Events naming the user (a unique id per test) in a context's log: the store, not a read model."""
    sql = (f"SELECT count(*) FROM {context}_events WHERE strpos(convert_from(state, 'UTF8'), %s) > 0"
           + (" AND topic = %s" if topic else ""))
    with db.connect(stack.settings) as conn:
        return conn.execute(sql, (user, topic) if topic else (user,)).fetchone()[0]


def runs(stack, user: str) -> int:
    return recorded(stack, "executions", user, "ExecutionQueued")


def sql(stack, statement: str, *params) -> None:
    with db.connect(stack.settings, autocommit=True) as conn:
        conn.execute(statement, params)


async def graph(client) -> str:
    r = await client.post("/api/graphs", json={"graph": adder_graph()})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def key() -> dict:
    return {H: f"key-{uuid.uuid4()}"}


async def test_a_repeated_execute_answers_the_first_run_and_queues_exactly_one(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        gid = await graph(alice)
        k = key()
        first = await alice.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}}, headers=k)
        again = await alice.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}}, headers=k)
        active = await alice.post(f"/api/graphs/{gid}/execute", json={"inputs": {"x": 1}}, headers=key())
        active_again = await alice.post(f"/api/graphs/{gid}/execute", json={"inputs": {"x": 1}},
                                        headers={H: active.request.headers[H]})
    assert first.status_code == 200, first.text
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert active_again.json()["id"] == active.json()["id"] != first.json()["id"]
    assert runs(stack, user_ids["alice"]) == 2  # one per key, none for the repeats


async def test_the_same_key_with_a_different_body_is_422_and_records_nothing(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        gid = await graph(alice)
        k = key()
        first = await alice.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}}, headers=k)
        other = await alice.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 2}}, headers=k)
        other_path = await alice.post(f"/api/graphs/{gid}/execute", json={"inputs": {"x": 1}}, headers=k)
    assert first.status_code == 200
    for refused in (other, other_path):
        assert refused.status_code == 422, refused.text
        assert "different request" in refused.json()["detail"][0]["msg"]
    assert runs(stack, user_ids["alice"]) == 1


async def test_another_user_with_the_same_key_gets_their_own_result_never_the_first_users(stack, user_ids):
    k = key()
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        created = await alice.post("/api/api-keys", json={"name": "secret"}, headers=k)
        theirs = await bob.post("/api/api-keys", json={"name": "secret"}, headers=k)
        elsewhere = await alice.post("/api/graphs", json={"graph": adder_graph("a")}, headers=k)
    assert created.status_code == theirs.status_code == 200, theirs.text
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["plain_text_key"] != created.json()["plain_text_key"]
    assert theirs.json()["api_key"]["id"] != created.json()["api_key"]["id"]
    assert elsewhere.status_code == 422  # alice's key is taken by her other request, on any route
    assert recorded(stack, "apikeys", user_ids["alice"]) == recorded(stack, "apikeys", user_ids["bob"]) == 1


async def test_an_unauthenticated_repeat_is_401_not_a_replay(stack, user_ids):
    k = key()
    async with stack.client(user_ids["alice"]) as alice, stack.client() as nobody:
        first = await alice.post("/api/api-keys", json={"name": "n"}, headers=k)
        anonymous = await nobody.post("/api/api-keys", json={"name": "n"}, headers=k)
    assert first.status_code == 200 and anonymous.status_code == 401
    assert "plain_text_key" not in anonymous.text


async def test_after_24_hours_the_key_creates_again(stack, user_ids):
    user = user_ids["alice"]
    async with stack.client(user) as alice:
        gid = await graph(alice)
        k = key()
        first = await alice.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}}, headers=k)
        sql(stack, "UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 second' "
                   "WHERE principal = %s AND key = %s", f"user:{user}", k[H])
        later = await alice.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}}, headers=k)
        replay = await alice.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}}, headers=k)
    assert later.status_code == 200 and later.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in later.headers
    assert replay.json()["id"] == later.json()["id"]  # the new answer is the one kept now
    assert runs(stack, user) == 2


@pytest.mark.parametrize("value", ["x" * 256, "clé".encode(), b"a\tb"])  # (uvicorn itself refuses other controls)
async def test_a_bad_key_is_400_and_records_nothing(stack, user_ids, value):
    async with stack.client(user_ids["alice"]) as alice:
        gid = await graph(alice)
        r = await alice.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}}, headers={H: value})
        empty = await alice.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}},
                                 headers=httpx.Headers([(H.encode(), b"")]))
    assert r.status_code == 400, r.text
    assert H in r.json()["detail"]
    assert empty.status_code == 400
    assert runs(stack, user_ids["alice"]) == 0


async def test_concurrent_requests_with_one_key_create_once(stack, user_ids):
    user = user_ids["carol"]
    async with stack.client(user) as carol:
        gid = await graph(carol)
        k = key()
        answers = await asyncio.gather(*(carol.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 3}},
                                                    headers=k) for _ in range(8)))
    assert {a.status_code for a in answers} <= {200, 409}, [a.text for a in answers]
    done = [a for a in answers if a.status_code == 200]
    assert done and len({a.json()["id"] for a in done}) == 1
    for busy in (a for a in answers if a.status_code == 409):
        assert "still in progress" in busy.json()["detail"] and int(busy.headers["Retry-After"]) >= 1
    assert runs(stack, user) == 1


async def test_a_running_claim_is_409_until_it_is_abandoned_then_taken_over(stack, user_ids):
    """A claim whose process died (running past 60 s) is taken over by a retry of the same request."""
    user = user_ids["carol"]
    async with stack.client(user) as carol:
        gid = await graph(carol)
        path, body = f"/api/graphs/{gid}/execute/1", orjson.dumps({"inputs": {"x": 4}})
        k = key()
        print_ = keys.fingerprint("POST", path, b"", body)
        sql(stack, "INSERT INTO idempotency_keys (principal, key, fingerprint, state, claim) "
                   "VALUES (%s, %s, %s, 'running', %s)", f"user:{user}", k[H], print_, uuid.uuid4())
        headers = {**k, "content-type": "application/json"}
        busy = await carol.post(path, content=body, headers=headers)
        sql(stack, "UPDATE idempotency_keys SET created_at = now() - interval '61 seconds' WHERE key = %s", k[H])
        taken = await carol.post(path, content=body, headers=headers)
        replay = await carol.post(path, content=body, headers=headers)
    assert busy.status_code == 409 and 1 <= int(busy.headers["Retry-After"]) <= 60, busy.text
    assert taken.status_code == 200 and replay.json()["id"] == taken.json()["id"]
    assert runs(stack, user) == 1


async def test_a_refused_first_request_does_not_block_the_corrected_retry(stack, user_ids):
    user = user_ids["bob"]
    async with stack.client(user) as bob:
        gid = await graph(bob)
        k = key()
        missing = await bob.post(f"/api/graphs/{gid}/execute/9", json={"inputs": {"x": 1}}, headers=k)
        bad = await bob.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}, "source": "no spaces!"},
                             headers=k)
        fixed = await bob.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}}, headers=k)
        replay = await bob.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}}, headers=k)
    assert (missing.status_code, bad.status_code, fixed.status_code) == (404, 422, 200), fixed.text
    assert replay.json()["id"] == fixed.json()["id"]
    assert runs(stack, user) == 1


async def _graph_create(client, user):
    return "/api/graphs", {"graph": adder_graph()}, "graphs"


async def _api_key(client, user):
    return "/api/api-keys", {"name": "ci", "permissions": ["EXECUTE_GRAPH"]}, "apikeys"


async def _preset(client, user):
    gid = await graph(client)
    return "/api/library/presets", {"name": "p", "graph_id": gid, "graph_version": 1, "inputs": {"x": 1}}, "library"


async def _preset_run(client, user):
    gid = await graph(client)
    r = await client.post("/api/library/presets", json={"name": "p", "graph_id": gid, "graph_version": 1,
                                                        "inputs": {"x": 1}})
    assert r.status_code == 200, r.text
    # A run goes on appending events as the module's executor works it: count only the one that creates it.
    return f"/api/library/presets/{r.json()['id']}/execute", {"inputs": {"x": 2}}, ("executions", "ExecutionQueued")


async def _schedule(client, user):
    gid = await graph(client)
    return f"/api/graphs/{gid}/schedules", {"name": "hourly", "cron": "0 * * * *", "inputs": {"x": 1}}, "schedules"


async def _credentials(client, user):
    return "/api/integrations/openai/credentials", {"api_key": "sk-test-idem", "title": "mine"}, "integrations"


async def _submission(client, user):
    gid = await graph(client)
    r = await client.post("/api/store/profile", json={"username": f"u{hashlib.md5(user.encode()).hexdigest()[:10]}",
                                                      "name": "Maker", "description": "d", "links": []})
    assert r.status_code == 200, r.text
    return "/api/store/submissions", {"graph_id": gid, "graph_version": 1, "slug": "idem-agent", "name": "Idem",
                                      "sub_heading": "s", "description": "d", "categories": ["tools"]}, "store"


async def _folder(client, user):
    return "/api/library/folders", {"name": "mine"}, "library"


async def _agent_fork(client, user):
    gid = await graph(client)
    r = await client.get("/api/library/agents")
    assert r.status_code == 200, r.text
    entry = next(agent for agent in r.json()["agents"] if agent["graph_id"] == gid)
    return f"/api/library/agents/{entry['id']}/fork", None, "graphs"


CREATIONS = {"graph": _graph_create, "folder": _folder, "library agent fork": _agent_fork, "api key": _api_key,
             "preset": _preset, "preset run": _preset_run,
             "schedule": _schedule, "credentials": _credentials, "store submission": _submission}


@pytest.mark.parametrize("what", list(CREATIONS))
async def test_every_creating_route_replays_and_records_nothing_the_second_time(stack, what):
    user = f"creator-{uuid.uuid4().hex[:8]}"
    async with stack.client(user) as client:
        path, body, where = await CREATIONS[what](client, user)
        context, topic = where if isinstance(where, tuple) else (where, None)
        k = key()
        first = await client.post(path, json=body, headers=k)
        assert 200 <= first.status_code < 300, first.text
        before = recorded(stack, context, user, topic)
        again = await client.post(path, json=body, headers=k)
    assert before >= 1  # the first one recorded something where we count
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert recorded(stack, context, user, topic) == before


async def test_a_retry_of_an_ended_run_with_a_key_branches_once(stack, user_ids):
    user = user_ids["carol"]
    async with stack.client(user) as carol:
        gid = await graph(carol)
        source = (await carol.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}})).json()["id"]
        await stack.wait_terminal(carol, gid, source)
        k = key()
        first = await carol.post(f"/api/executions/{source}/retry", json={}, headers=k)
        again = await carol.post(f"/api/executions/{source}/retry", json={}, headers=k)
    assert first.status_code == 200, first.text
    assert again.json()["id"] == first.json()["id"] != source and again.headers["Idempotent-Replayed"] == "true"
    assert runs(stack, user) == 2


async def test_adding_a_store_agent_to_the_library_replays(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob, \
            stack.client("idem-admin", admin=True) as admin:
        gid = await graph(alice)
        version_id = await publish(alice, admin, gid, username=f"maker{uuid.uuid4().hex[:8]}", slug="shared-adder")
        k = key()
        first = await bob.post("/api/library/agents", json={"store_listing_version_id": version_id}, headers=k)
        before = recorded(stack, "library", user_ids["bob"])
        again = await bob.post("/api/library/agents", json={"store_listing_version_id": version_id}, headers=k)
    assert first.status_code == 201, first.text
    assert (again.status_code, again.content, again.headers["Idempotent-Replayed"]) == (201, first.content, "true")
    assert recorded(stack, "library", user_ids["bob"]) == before


async def test_the_external_api_replays_execute_and_graph_create_with_an_api_key(stack, user_ids):
    user = user_ids["alice"]
    async with stack.client(user) as alice, stack.client(user_ids["bob"]) as bob:
        _, plain = await new_key(alice, ALL)
        _, other_plain = await new_key(alice, ALL, name="rotated")
        _, bob_plain = await new_key(bob, ALL)
    async with external(stack, plain) as ext, external(stack, other_plain) as rotated, \
            external(stack, bob_plain) as bob_ext:
        k = key()
        created = await ext.post(f"{EXT}/graphs", json=adder_graph(), headers=k)
        recreated = await ext.post(f"{EXT}/graphs", json=adder_graph(), headers=k)
        assert created.status_code == recreated.status_code == 201, created.text
        assert recreated.content == created.content and recreated.headers["Idempotent-Replayed"] == "true"
        gid = created.json()["id"]
        ek = key()
        run = await ext.post(f"{EXT}/graphs/{gid}/execute/1", json={"node_input": {"x": 5}}, headers=ek)
        rerun = await ext.post(f"{EXT}/graphs/{gid}/execute/1", json={"node_input": {"x": 5}}, headers=ek)
        by_other_key = await rotated.post(f"{EXT}/graphs/{gid}/execute/1", json={"node_input": {"x": 5}}, headers=ek)
        by_bob = await bob_ext.post(f"{EXT}/graphs/{gid}/execute/1", json={"node_input": {"x": 5}}, headers=ek)
        async with external(stack, None) as anonymous:
            unauthenticated = await anonymous.post(f"{EXT}/graphs/{gid}/execute/1", json={"node_input": {"x": 5}},
                                                   headers=ek)
    assert run.status_code == 200 and rerun.json() == run.json() and rerun.headers["Idempotent-Replayed"] == "true"
    assert by_other_key.json() == run.json()  # keys are per user: the user's other API key finds the answer
    assert by_bob.status_code == 404 and "Idempotent-Replayed" not in by_bob.headers  # bob: his own request
    assert unauthenticated.status_code == 401
    assert runs(stack, user) == 1
    assert recorded(stack, "graphs", user, "GraphCreated") == 1


async def test_a_stored_answer_holding_a_secret_is_sealed_at_rest_and_replayed_whole(stack, user_ids):
    """An API key's plain text is in its first answer: the table holds it only sealed with the
    credentials keyring, and the replay still answers it."""
    k = key()
    async with stack.client(user_ids["alice"]) as alice:
        first = await alice.post("/api/api-keys", json={"name": "sealed"}, headers=k)
        again = await alice.post("/api/api-keys", json={"name": "sealed"}, headers=k)
    plain = first.json()["plain_text_key"]
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()
    with db.connect(stack.settings, autocommit=True) as conn:
        (body,) = conn.execute("SELECT body FROM idempotency_keys WHERE key = %s", (k[H],)).fetchone()
    assert plain.encode() not in bytes(body) and b"plain_text_key" not in bytes(body)
    assert bytes(body).startswith(b"v1:")  # the keyring's sealed format
