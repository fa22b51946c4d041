"""Audit F6: inputs that reached a 500, a wrong 409 or silently changed data. Each case follows
the report's reproduction; each would have failed on the old code."""

import pytest

from tests.integration.test_graphs_api import simple_graph

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"


async def create(client, graph, **extra):
    return await client.post("/api/graphs", json={"graph": {**graph, **extra}})


async def test_f6_page_beyond_what_storage_holds_is_a_422_not_a_500(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        gid = (await create(alice, simple_graph())).json()["id"]
        r = await alice.get(f"/api/graphs/{gid}/executions", params={"page": 10 ** 18})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["query", "page"]
        ok = await alice.get(f"/api/graphs/{gid}/executions", params={"page": 2 ** 31 - 1, "page_size": 100})
        assert ok.status_code == 200 and ok.json()["executions"] == []


@pytest.mark.parametrize("path,params", [
    ("/api/graphs/{gid}", {"version": 2 ** 31}),
    ("/api/graphs/{gid}/versions/{big}", {}),
    ("/api/executions/{exec_id}/state", {"at_seq": 2 ** 63}),
])
async def test_f6_integer_parameters_are_bounded(stack, user_ids, path, params):
    async with stack.client(user_ids["alice"]) as alice:
        gid = (await create(alice, simple_graph())).json()["id"]
        url = path.format(gid=gid, big=2 ** 31, exec_id="00000000-0000-4000-8000-000000000000")
        r = await alice.get(url, params=params)
        assert r.status_code == 422, r.text


async def test_f6_execute_version_is_bounded(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        gid = (await create(alice, simple_graph())).json()["id"]
        r = await alice.post(f"/api/graphs/{gid}/execute/{2 ** 31}", json={"inputs": {"x": 1}})
        assert r.status_code == 422, r.text


async def test_f6_a_sub_graph_without_an_id_gets_a_fresh_one(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        r = await create(alice, simple_graph(), sub_graphs=[{"name": "s", "nodes": [], "links": []}])
        assert r.status_code == 200, r.text
        sub = r.json()["sub_graphs"]
        assert len(sub) == 1 and sub[0]["id"] not in (None, "None", r.json()["id"])
        ext = await alice.post("/api/graphs", json={"graph": {**simple_graph(), "sub_graphs": [
            {"name": "a", "nodes": [], "links": []}, {"name": "b", "nodes": [], "links": []}]}})
        assert ext.status_code == 200 and len({s["id"] for s in ext.json()["sub_graphs"]}) == 2


@pytest.mark.parametrize("case", ["duplicate", "top"])
async def test_f6_repeated_graph_ids_are_a_400_not_a_409(stack, user_ids, case):
    same = "3f1c2a9e-0000-4000-8000-000000000001"
    subs = [{"id": same, "name": "s1", "nodes": [], "links": []}]
    if case == "duplicate":
        subs.append({"id": same, "name": "s2", "nodes": [], "links": []})
    async with stack.client(user_ids["alice"]) as alice:
        r = await create(alice, simple_graph(), id=same if case == "top" else None, sub_graphs=subs)
        assert r.status_code == 400, r.text
        assert "graph ids must be unique" in r.json()["detail"]["message"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1E+999"])
async def test_f6_non_finite_numbers_are_refused_not_stored_as_null(stack, user_ids, number):
    # built by hand: json.dumps cannot write the non-finite literals this test sends
    graph = ('{"graph": {"name": "n", "nodes": [{"id": "in", "block_id": "%s", "input_default": {"name": "x", '  # noqa: UP031
             '"value": %s}}, {"id": "out", "block_id": "%s", "input_default": {"name": "y"}}], "links": []}}'
             % (INPUT, number, OUTPUT))
    async with stack.client(user_ids["alice"]) as alice:
        r = await alice.post("/api/graphs", content=graph, headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
        assert "not finite" in r.json()["detail"]
        gid = (await create(alice, simple_graph())).json()["id"]
        r = await alice.post(f"/api/graphs/{gid}/execute/1", content='{"inputs": {"x": %s}}' % number,  # noqa: UP031
                             headers={"content-type": "application/json"})
        assert r.status_code == 400 and "not finite" in r.json()["detail"], r.text
        # the same words inside strings, and large finite floats, are ordinary values
        r = await alice.post(f"/api/graphs/{gid}/execute/1", content='{"inputs": {"x": "NaN Infinity 1e400"}}',
                             headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
        r = await alice.post(f"/api/graphs/{gid}/execute/1", content='{"inputs": {"x": 1e308}}',
                             headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
