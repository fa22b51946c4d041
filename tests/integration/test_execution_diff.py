"""Two runs diffed node by node through the real stack: what changed between two inputs, a run
against itself, runs of different graphs, and who may ask."""

import uuid

from tests.integration.test_executions_api import STORE, TEMPLATE, sample_graph
from tests.integration.test_graphs_api import OUTPUT


async def _run(stack, client, graph_id: str, second: str) -> dict:
    inputs = {"input_1": "Hello", "input_2": second}
    run = await client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": inputs})
    assert run.status_code == 200, run.text
    done = await stack.wait_terminal(client, graph_id, run.json()["id"])
    assert done["status"] == "COMPLETED"
    return done


async def _graph(client) -> str:
    return (await client.post("/api/graphs", json={"graph": sample_graph()})).json()["id"]


def _node_ids(done: dict) -> dict[str, str]:
    """The server-assigned node ids of a sample-graph run, by what each node is."""
    names = {}
    for ne in done["node_executions"]:
        if ne["block_id"] in (TEMPLATE, STORE, OUTPUT):
            names[{TEMPLATE: "template", STORE: "store", OUTPUT: "output"}[ne["block_id"]]] = ne["node_id"]
        else:
            names[ne["input_data"]["name"]] = ne["node_id"]
    return names


async def test_the_diff_names_exactly_the_nodes_whose_data_changed(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        gid = await _graph(alice)
        a, b = await _run(stack, alice, gid, "World"), await _run(stack, alice, gid, "There")
        r = await alice.get(f"/api/executions/{a['id']}/diff/{b['id']}")
        assert r.status_code == 200, r.text
        diff = r.json()
        ids = _node_ids(a)
        # input_1 got "Hello" both times; everything downstream of input_2 saw a different value
        assert set(diff["changed_nodes"]) == {ids["input_2"], ids["template"], ids["store"], ids["output"]}
        assert diff["summary"] == {"same": 1, "changed": 4, "only_in_a": 0, "only_in_b": 0}
        assert diff["nodes"][0]["node_id"] in (ids["input_1"], ids["input_2"])  # run a's order: inputs first
        by_node = {pair["node_id"]: pair for pair in diff["nodes"]}
        assert by_node[ids["input_1"]]["changed"] == []
        template = by_node[ids["template"]]
        assert template["changed"] == ["input_data", "output_data"]
        assert template["a"]["output_data"] == {"output": ["Hello, World!!!"]}
        assert template["b"]["output_data"] == {"output": ["Hello, There!!!"]}
        assert template["a"]["status"] == template["b"]["status"] == "COMPLETED"
        assert template["a"]["duration_s"] is not None and template["a"]["duration_s"] >= 0
        assert {pair["a"]["node_exec_id"] for pair in diff["nodes"]} == {ne["node_exec_id"]
                                                                           for ne in a["node_executions"]}
        assert diff["a"] == {"id": a["id"], "graph_id": gid, "graph_version": 1, "status": "COMPLETED",
                             "cost": a["stats"]["cost"]}
        assert diff["b"]["id"] == b["id"]


async def test_a_run_against_itself_and_runs_of_different_graphs(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        gid, other_gid = await _graph(alice), await _graph(alice)
        a, other = await _run(stack, alice, gid, "World"), await _run(stack, alice, other_gid, "World")
        itself = (await alice.get(f"/api/executions/{a['id']}/diff/{a['id']}")).json()
        assert itself["changed_nodes"] == []
        assert itself["summary"] == {"same": 5, "changed": 0, "only_in_a": 0, "only_in_b": 0}
        apart = (await alice.get(f"/api/executions/{a['id']}/diff/{other['id']}")).json()
        assert apart["summary"] == {"same": 0, "changed": 0, "only_in_a": 5, "only_in_b": 5}
        assert [pair["b"] for pair in apart["nodes"][:5]] == [None] * 5
        assert [pair["a"] for pair in apart["nodes"][5:]] == [None] * 5


async def test_only_the_owner_may_diff_and_ids_must_be_uuids(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        alices = await _run(stack, alice, await _graph(alice), "World")
        bobs = await _run(stack, bob, await _graph(bob), "World")
        unknown = str(uuid.uuid4())
        for first, second in ((alices["id"], bobs["id"]), (bobs["id"], alices["id"]), (alices["id"], alices["id"]),
                              (bobs["id"], unknown)):
            r = await bob.get(f"/api/executions/{first}/diff/{second}")
            assert r.status_code == 404, r.text
            missing = alices["id"] if alices["id"] in (first, second) else unknown
            assert r.json() == {"detail": f"Graph execution #{missing} not found"}
            assert "Hello" not in r.text and "World" not in r.text and user_ids["alice"] not in r.text
        assert (await bob.get(f"/api/executions/{bobs['id']}/diff/{bobs['id']}")).status_code == 200
        # a malformed id answers 400 even beside another user's run, and says nothing of that run
        for first, second, bad in (("not-a-uuid", bobs["id"], "graph_exec_id"), (bobs["id"], "nope", "other_exec_id"),
                                   (alices["id"], "nope", "other_exec_id")):
            r = await bob.get(f"/api/executions/{first}/diff/{second}")
            assert r.status_code == 400, r.text
            assert r.json()["detail"].startswith(f"{bad} must be a UUID")
            assert "Hello" not in r.text and user_ids["alice"] not in r.text
        async with stack.client() as anonymous:
            assert (await anonymous.get(f"/api/executions/{bobs['id']}/diff/{bobs['id']}")).status_code == 401
