"""Graph endpoints over HTTP against the real store, relay, broker and projector."""

import json

import pytest

from tests.corpus import ABSENT, FIXTURES, fixtures, samples

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
STORE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"


def simple_graph(name="g"):
    return {"name": name, "description": "d", "nodes": [
        {"id": "in", "block_id": INPUT, "input_default": {"name": "x"}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "y"}},
    ], "links": [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}]}


async def test_create_read_version_activate_delete(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        r = await alice.post("/api/graphs", json={"graph": simple_graph()})
        assert r.status_code == 200, r.text
        created = r.json()
        gid = created["id"]
        assert gid and created["version"] == 1 and created["is_active"]
        assert {n["id"] for n in created["nodes"]}.isdisjoint({"in", "out"})
        assert created["links"][0]["is_static"] is True  # forced: input blocks are static_output
        assert created["input_schema"]["required"] == ["x"]
        assert created["output_schema"]["properties"]["y"]["title"] == "y"

        # read-your-write, immediately
        r = await alice.get(f"/api/graphs/{gid}")
        assert r.status_code == 200, r.text
        assert r.json()["nodes"] == created["nodes"]

        r = await alice.put(f"/api/graphs/{gid}", json={**simple_graph("v2"), "is_active": True})
        assert r.status_code == 200 and r.json()["version"] == 2
        r = await alice.get(f"/api/graphs/{gid}/versions")
        assert [v["version"] for v in r.json()] == [2, 1]
        assert [v["is_active"] for v in r.json()] == [True, False]

        r = await alice.put(f"/api/graphs/{gid}/versions/active", json={"active_graph_version": 1})
        assert r.status_code == 200, r.text
        listed = (await alice.get("/api/graphs")).json()
        assert [(g["id"], g["version"]) for g in listed] == [(gid, 1)]
        assert (await alice.get(f"/api/graphs/{gid}", params={"version": 2})).json()["name"] == "v2"
        assert (await alice.get(f"/api/graphs/{gid}", params={"version": 7})).status_code == 404

        r = await alice.delete(f"/api/graphs/{gid}")
        assert r.json() == {"version_counts": 2}
        assert (await alice.get(f"/api/graphs/{gid}")).status_code == 404
        assert (await alice.get("/api/graphs")).json() == []


async def test_users_cannot_see_or_change_each_others_graphs(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        gid = (await alice.post("/api/graphs", json={"graph": simple_graph()})).json()["id"]
        assert (await alice.get(f"/api/graphs/{gid}")).status_code == 200
        assert (await bob.get(f"/api/graphs/{gid}")).status_code == 404
        assert (await bob.get(f"/api/graphs/{gid}/versions")).status_code == 404
        assert (await bob.put(f"/api/graphs/{gid}", json=simple_graph())).status_code == 404
        assert (await bob.put(f"/api/graphs/{gid}/versions/active",
                              json={"active_graph_version": 1})).status_code == 404
        assert (await bob.delete(f"/api/graphs/{gid}")).status_code == 404
        assert (await bob.get("/api/graphs")).json() == []
        assert (await alice.get(f"/api/graphs/{gid}")).json()["version"] == 1


async def test_validation_errors_are_400_with_node_errors(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        bad = simple_graph()
        bad["nodes"][0]["input_default"] = {}
        r = await alice.post("/api/graphs", json={"graph": bad})
        assert r.status_code == 400
        detail = r.json()["detail"]
        assert detail["type"] == "validation_error"
        assert list(detail["node_errors"].values()) == [{"name": "This field is required"}]

        bad = simple_graph()
        bad["links"][0]["sink_name"] = "nope"
        r = await alice.post("/api/graphs", json={"graph": bad})
        assert r.status_code == 400 and "nope" in r.json()["detail"]["message"]

        bad = simple_graph()
        bad["nodes"][1]["block_id"] = "00000000-0000-0000-0000-000000000000"
        r = await alice.post("/api/graphs", json={"graph": bad})
        assert r.status_code == 400, r.text
        assert (await alice.get("/api/graphs")).json() == []


@pytest.mark.parametrize("body, status", [
    (b"{not json", 422),
    (b'{"graph": {"nodes": "x"}}', 422),
    (b'{"graph": {"nodes": [{"id": 1}]}}', 422),
    (b"[" * 200 + b"]" * 200, 400),
])
async def test_bad_bodies_are_4xx(stack, user_ids, body, status):
    async with stack.client(user_ids["alice"]) as alice:
        r = await alice.post("/api/graphs", content=body, headers={"content-type": "application/json"})
        assert r.status_code == status, r.text
        assert "detail" in r.json()


async def test_oversized_body_413_and_bad_ids_and_auth(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        big = simple_graph()
        big["description"] = "x" * (stack.settings.max_body_bytes + 1)
        r = await alice.post("/api/graphs", json={"graph": big})
        assert r.status_code == 413
        assert (await alice.get("/api/graphs/not-a-uuid")).status_code == 400
        assert (await alice.delete("/api/graphs/not-a-uuid")).status_code == 400
        assert (await alice.get("/api/graphs")).json() == []
    async with stack.client() as anon:
        assert (await anon.get("/api/graphs")).status_code == 401
        r = await anon.get("/api/graphs", headers={"Authorization": "Bearer nonsense"})
        assert r.status_code == 401


def sample_graphs():
    return fixtures() + (samples() or [pytest.param(None, marks=pytest.mark.skip(reason=ABSENT))])


@pytest.mark.parametrize("path", sample_graphs(), ids=lambda p: p.name[:30] if p else "no-corpus")
async def test_sample_graphs_import_or_name_their_unknown_blocks(stack, user_ids, path):
    """AutoGPT-format graphs import unchanged; a sample using a block agentloom does not have is
    refused with a 400 naming the unknown block (the team's fixtures use only known blocks)."""
    data = json.loads(path.read_text())
    async with stack.client(user_ids["alice"]) as alice:
        r = await alice.post("/api/graphs", json={"graph": data})
        if path.parent == FIXTURES:
            assert r.status_code == 200, r.text
        if r.status_code == 200:
            assert len(r.json()["nodes"]) == len(data["nodes"])
            assert len(r.json()["links"]) == len(data["links"])
        else:
            assert r.status_code == 400, r.text
            assert "is invalid block id" in r.json()["detail"]["message"], r.text


async def test_values_no_store_can_hold_are_refused_at_the_edge(stack, user_ids):
    """A NUL character, a lone surrogate or a >64-bit integer would be recorded and then stop every
    projection of the event; they get a 400 instead."""
    async with stack.client(user_ids["alice"]) as alice:
        for raw in (b'{"graph": {"name": "a\\u0000b", "nodes": [], "links": []}}',
                    b'{"graph": {"name": "\\ud800", "nodes": [], "links": []}}',
                    b'{"graph": {"name": "n", "nodes": [], "links": [], "version": 99999999999999999999}}'):
            r = await alice.post("/api/graphs", content=raw, headers={"content-type": "application/json"})
            assert r.status_code == 400, r.text
        ok = await alice.post("/api/graphs", json={"graph": {"name": "emoji \U0001F600 and \\u0000 text",
                                                             "nodes": [], "links": []}})
        assert ok.status_code == 200 and ok.json()["name"] == "emoji \U0001F600 and \\u0000 text"


async def test_a_nul_in_a_query_string_is_refused_on_every_route(stack, user_ids):
    """No PostgreSQL text parameter can carry a NUL: a search or filter holding one gets a 422, never a 500."""
    async with stack.client(user_ids["alice"]) as alice:
        for path in ("/api/library/agents?search_term=a%00b", "/api/store/agents?category=%00",
                     "/api/store/creators?search_query=x%00", "/api/library/presets?graph_id=%00"):
            r = await alice.get(path)
            assert r.status_code == 422 and "NUL" in r.text, (path, r.status_code, r.text)
        assert (await alice.get("/api/library/agents?search_term=a%2500b")).status_code == 200  # a literal "%00"
