"""API keys and the external API over HTTP against the real store, relay, broker, projector and executor."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from services.domain.apikeys import material
from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import eventually
from tests.integration.stack import running_stack

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
CALCULATOR = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
ALL = ["IDENTITY", "EXECUTE_GRAPH", "READ_GRAPH", "WRITE_GRAPH", "EXECUTE_BLOCK", "READ_BLOCK", "READ_STORE",
       "WRITE_LIBRARY", "USE_TOOLS", "MANAGE_INTEGRATIONS", "READ_INTEGRATIONS", "DELETE_INTEGRATIONS"]
EXT = "/external-api/v1"


def adder_graph(name: str = "adder") -> dict:
    """x -> Calculator(a=x, b=2, Add) -> output "sum"."""
    return {"name": name, "description": "adds two", "nodes": [
        {"id": "in", "block_id": INPUT, "input_default": {"name": "x"}},
        {"id": "calc", "block_id": CALCULATOR, "input_default": {"operation": "Add", "b": 2}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "sum"}},
    ], "links": [{"source_id": "in", "sink_id": "calc", "source_name": "result", "sink_name": "a"},
                 {"source_id": "calc", "sink_id": "out", "source_name": "result", "sink_name": "value"}]}


async def new_key(client: httpx.AsyncClient, permissions=ALL, name: str = "k") -> tuple[dict, str]:
    r = await client.post("/api/api-keys", json={"name": name, "permissions": list(permissions)})
    assert r.status_code == 200, r.text
    return r.json()["api_key"], r.json()["plain_text_key"]


def external(stack, key: str | None) -> httpx.AsyncClient:
    headers = {"X-API-Key": key} if key is not None else {}
    return httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=30)


async def call_every_route(client: httpx.AsyncClient, graph_id: str, exec_id: str) -> dict[str, httpx.Response]:
    """One request per external route, keyed by the permission it needs."""
    return {
        "IDENTITY": await client.get(f"{EXT}/me"),
        "READ_BLOCK": await client.get(f"{EXT}/blocks"),
        "EXECUTE_BLOCK": await client.post(f"{EXT}/blocks/{CALCULATOR}/execute",
                                           json={"operation": "Add", "a": 1, "b": 2}),
        "WRITE_GRAPH": await client.post(f"{EXT}/graphs", json={"graph": adder_graph()}),
        "EXECUTE_GRAPH": await client.post(f"{EXT}/graphs/{graph_id}/execute/1", json={"node_input": {"x": 1}}),
        "READ_GRAPH": await client.get(f"{EXT}/graphs/{graph_id}/executions/{exec_id}/results"),
    }


async def test_create_list_get_never_show_the_key(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        r = await alice.post("/api/api-keys", json={"name": "ci", "description": "for CI",
                                                    "permissions": ["IDENTITY", "READ_GRAPH"]})
        assert r.status_code == 200, r.text
        info, plain = r.json()["api_key"], r.json()["plain_text_key"]
        assert plain.startswith("agpt_") and len(plain) >= 43
        assert info["head"] == plain[:8] and info["tail"] == plain[-8:]
        assert {k: info[k] for k in ("name", "description", "status", "permissions", "user_id", "type")} == {
            "name": "ci", "description": "for CI", "status": "ACTIVE", "permissions": ["IDENTITY", "READ_GRAPH"],
            "user_id": user_ids["alice"], "type": "api_key"}
        assert info["created_at"] and info["last_used_at"] is None and info["revoked_at"] is None
        assert info["scopes"] == info["permissions"] and info["expires_at"] is None  # AutoGPT's newer fields

        listed = await alice.get("/api/api-keys")
        one = await alice.get(f"/api/api-keys/{info['id']}")
        assert [k["id"] for k in listed.json()] == [info["id"]] and one.json()["name"] == "ci"
        secrets = [plain, plain[5:], material.keyed_hash(stack.settings.api_key_secret, plain),
                   material.lookup_id_of(plain)]
        for text in (listed.text, one.text):
            assert not any(s in text for s in secrets)
        assert set(one.json()) == set(info)

        assert (await bob.get(f"/api/api-keys/{info['id']}")).status_code == 404
        assert (await bob.get("/api/api-keys")).json() == []
        assert (await bob.delete(f"/api/api-keys/{info['id']}")).status_code == 404
        assert (await bob.post(f"/api/api-keys/{info['id']}/suspend")).status_code == 404
        assert (await bob.put(f"/api/api-keys/{info['id']}/permissions", json={"permissions": []})).status_code == 404

        async with external(stack, plain) as ext:
            me = await ext.get(f"{EXT}/me")
            assert me.status_code == 200, me.text
            assert me.json()["id"] == user_ids["alice"] and me.json()["email"] == f"{user_ids['alice']}@example.com"
            assert set(me.json()) == {"id", "name", "email", "timezone"}
        used = (await alice.get(f"/api/api-keys/{info['id']}")).json()
        assert used["last_used_at"] is not None


async def test_create_validation(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        r = await alice.post("/api/api-keys", json={"name": "k", "permissions": ["IDENTITY", "FLY"]})
        assert r.status_code == 400 and "'FLY'" in r.json()["detail"] and "EXECUTE_GRAPH" in r.json()["detail"]
        for name in ["", "   ", "x" * 101]:
            r = await alice.post("/api/api-keys", json={"name": name, "permissions": []})
            assert r.status_code == 400 and "name" in r.json()["detail"], r.text
        assert (await alice.post("/api/api-keys", json={"permissions": []})).status_code == 422
        assert (await alice.delete("/api/api-keys/not-a-uuid")).status_code == 400
        assert (await alice.get("/api/api-keys")).json() == []
    async with stack.client() as anon:
        assert (await anon.post("/api/api-keys", json={"name": "k", "permissions": []})).status_code == 401


async def test_each_route_needs_its_permission(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = (await alice.post("/api/graphs", json={"graph": adder_graph()})).json()
        run = (await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"x": 1}})).json()
        for permission in ALL[:6]:
            others = [p for p in ALL if p != permission]
            _, plain = await new_key(alice, others, name=f"without {permission}")
            async with external(stack, plain) as ext:
                answers = await call_every_route(ext, graph["id"], run["id"])
            refused = answers.pop(permission)
            assert refused.status_code == 403 and permission in refused.json()["detail"], refused.text
            assert all(a.status_code < 300 for a in answers.values()), {k: a.text for k, a in answers.items()}
        # POST /graphs also needs WRITE_LIBRARY, as in AutoGPT
        _, plain = await new_key(alice, [p for p in ALL if p != "WRITE_LIBRARY"])
        async with external(stack, plain) as ext:
            r = await ext.post(f"{EXT}/graphs", json={"graph": adder_graph()})
            assert r.status_code == 403 and "WRITE_LIBRARY" in r.json()["detail"]


async def test_missing_garbage_suspended_and_revoked_keys_are_401(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = (await alice.post("/api/graphs", json={"graph": adder_graph()})).json()
        run = (await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"x": 1}})).json()
        suspended_info, suspended = await new_key(alice)
        revoked_info, revoked = await new_key(alice)
        _, good = await new_key(alice)
        forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")  # well-formed, unknown
        r = await alice.post(f"/api/api-keys/{suspended_info['id']}/suspend")
        assert r.status_code == 200 and r.json()["status"] == "SUSPENDED"
        r = await alice.delete(f"/api/api-keys/{revoked_info['id']}")
        assert r.status_code == 200 and r.json()["status"] == "REVOKED" and r.json()["revoked_at"]
        for key in [None, "", "garbage", "agpt_" + "x" * 43, forged, suspended, revoked]:
            async with external(stack, key) as ext:
                answers = await call_every_route(ext, graph["id"], run["id"])
            assert {a.status_code for a in answers.values()} == {401}, (key, {k: a.text for k, a in answers.items()})
        async with external(stack, good) as ext:
            assert (await ext.get(f"{EXT}/me")).status_code == 200

        # revoked is final; a suspended key can still be revoked; the read side follows
        assert (await alice.post(f"/api/api-keys/{revoked_info['id']}/suspend")).status_code == 409
        r = await alice.put(f"/api/api-keys/{revoked_info['id']}/permissions", json={"permissions": ["IDENTITY"]})
        assert r.status_code == 409
        assert (await alice.delete(f"/api/api-keys/{suspended_info['id']}")).json()["status"] == "REVOKED"
        statuses = {k["id"]: k["status"] for k in (await alice.get("/api/api-keys")).json()}
        assert statuses[suspended_info["id"]] == statuses[revoked_info["id"]] == "REVOKED"


async def test_permission_changes_apply_at_once(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        info, plain = await new_key(alice, ["IDENTITY"])
        async with external(stack, plain) as ext:
            assert (await ext.get(f"{EXT}/blocks")).status_code == 403
            r = await alice.put(f"/api/api-keys/{info['id']}/permissions",
                                json={"permissions": ["READ_BLOCK", "IDENTITY"]})
            assert r.status_code == 200 and r.json()["permissions"] == ["READ_BLOCK", "IDENTITY"]
            assert (await ext.get(f"{EXT}/blocks")).status_code == 200
            r = await alice.put(f"/api/api-keys/{info['id']}/permissions", json={"permissions": ["NOPE"]})
            assert r.status_code == 400
        assert (await alice.get(f"/api/api-keys/{info['id']}")).json()["permissions"] == ["READ_BLOCK", "IDENTITY"]


async def test_a_key_cannot_reach_another_users_graphs(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        graph = (await bob.post("/api/graphs", json={"graph": adder_graph()})).json()
        run = (await bob.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"x": 1}})).json()
        _, plain = await new_key(alice)
        async with external(stack, plain) as ext:
            r = await ext.post(f"{EXT}/graphs/{graph['id']}/execute/1", json={"node_input": {"x": 1}})
            assert r.status_code == 404, r.text
            r = await ext.get(f"{EXT}/graphs/{graph['id']}/executions/{run['id']}/results")
            assert r.status_code == 404, r.text
        assert (await bob.get("/api/executions")).json()[0]["id"] == run["id"]
        assert len((await bob.get("/api/executions")).json()) == 1


async def test_external_create_execute_and_results(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        _, plain = await new_key(alice)
    async with external(stack, plain) as ext:
        blocks = await ext.get(f"{EXT}/blocks")
        assert blocks.status_code == 200 and any(b["id"] == CALCULATOR for b in blocks.json())
        r = await ext.post(f"{EXT}/blocks/{CALCULATOR}/execute", json={"operation": "Add", "a": 10, "b": 5})
        assert r.status_code == 200 and r.json() == {"result": [15.0]}

        graph = await ext.post(f"{EXT}/graphs", json=adder_graph())
        assert graph.status_code == 201, graph.text
        graph_id = graph.json()["id"]
        r = await ext.post(f"{EXT}/graphs/{graph_id}/execute/1", json={"node_input": {"x": 5}})
        assert r.status_code == 200 and set(r.json()) == {"id"}, r.text
        exec_id = r.json()["id"]

        async def completed():
            res = await ext.get(f"{EXT}/graphs/{graph_id}/executions/{exec_id}/results")
            assert res.status_code == 200, res.text
            return res.json() if res.json()["status"] in ("COMPLETED", "FAILED", "TERMINATED") else None

        result = await eventually(completed, timeout=30, message="external run completes")
        assert result["status"] == "COMPLETED" and result["execution_id"] == exec_id
        assert result["output"] == [{"sum": 7.0}]
        by_node = {n["node_id"]: n for n in result["nodes"]}
        assert len(by_node) == 3
        calc_node = next(n for n in graph.json()["nodes"] if n["block_id"] == CALCULATOR)["id"]
        assert by_node[calc_node]["output"] == {"result": [7.0]}
        assert by_node[calc_node]["input"]["a"] == 5
    async with stack.client(user_ids["alice"]) as alice:  # the run is the key owner's
        assert [e["id"] for e in (await alice.get("/api/executions")).json()] == [exec_id]


async def _wait_for_a_fresh_minute_window() -> None:
    """Fixed windows reset on the minute; keep the few requests of a check inside one window."""
    into_minute = time.time() % 60
    if into_minute > 45:
        await asyncio.sleep(60 - into_minute + 0.5)


@pytest.mark.parametrize("limit", [3])
async def test_execute_rate_limit_429_with_retry_after(database_url, broker, user_ids, limit):
    settings = isolated_settings(database_url, broker.bootstrap, rate_limit_execute_per_minute=limit)
    try:
        async with running_stack(settings) as stack:
            async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
                a_graph = (await alice.post("/api/graphs", json={"graph": adder_graph()})).json()
                b_graph = (await bob.post("/api/graphs", json={"graph": adder_graph()})).json()
                _, key1 = await new_key(bob)
                _, key2 = await new_key(bob)
                await _wait_for_a_fresh_minute_window()

                for _ in range(limit):
                    r = await alice.post(f"/api/graphs/{a_graph['id']}/execute/1", json={"inputs": {"x": 1}})
                    assert r.status_code == 200, r.text
                r = await alice.post(f"/api/graphs/{a_graph['id']}/execute/1", json={"inputs": {"x": 1}})
                assert r.status_code == 429, r.text
                assert 1 <= int(r.headers["Retry-After"]) <= 60
                assert "per user" in r.json()["detail"] and str(limit) in r.json()["detail"]

                async with external(stack, key1) as ext1, external(stack, key2) as ext2:
                    url = f"{EXT}/graphs/{b_graph['id']}/execute/1"
                    for _ in range(limit):
                        assert (await ext1.post(url, json={"node_input": {"x": 1}})).status_code == 200
                    r = await ext1.post(url, json={"node_input": {"x": 1}})
                    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
                    assert "Rate limit exceeded" in r.json()["detail"]
                    # the user's count is shared by all their keys and the /api route
                    assert (await ext2.post(url, json={"node_input": {"x": 1}})).status_code == 429
                r = await bob.post(f"/api/graphs/{b_graph['id']}/execute/1", json={"inputs": {"x": 1}})
                assert r.status_code == 429 and "Retry-After" in r.headers
    finally:
        drop_schema(database_url, settings.db_schema)
