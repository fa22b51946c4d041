"""Executions through the real stack: command API, store, relay, broker, executor, projector."""


from tests.integration.test_graphs_api import INPUT, OUTPUT

TEMPLATE = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"
STORE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
TIMER = "d67a9c52-5e4e-11e2-bcfd-0800200c9a71"


def sample_graph():
    return {"name": "sample", "nodes": [
        {"id": "n0", "block_id": INPUT, "input_default": {"name": "input_1"}},
        {"id": "n1", "block_id": INPUT, "input_default": {"name": "input_2", "description": "second"}},
        {"id": "n2", "block_id": TEMPLATE, "input_default": {"format": "{{a}}, {{b}}{{c}}", "values_#_c": "!!!"}},
        {"id": "n3", "block_id": STORE, "input_default": {}},
        {"id": "n4", "block_id": OUTPUT, "input_default": {"name": "greeting"}},
    ], "links": [
        {"source_id": "n0", "sink_id": "n2", "source_name": "result", "sink_name": "values_#_a"},
        {"source_id": "n1", "sink_id": "n2", "source_name": "result", "sink_name": "values_#_b"},
        {"source_id": "n2", "sink_id": "n3", "source_name": "output", "sink_name": "input"},
        {"source_id": "n3", "sink_id": "n4", "source_name": "output", "sink_name": "value"},
    ]}


def timer_graph(seconds=30):
    return {"name": "slow", "nodes": [
        {"id": "t", "block_id": TIMER, "input_default": {"input_message": "done", "seconds": seconds}},
        {"id": "o", "block_id": OUTPUT, "input_default": {"name": "msg"}},
    ], "links": [{"source_id": "t", "sink_id": "o", "source_name": "output_message", "sink_name": "value"}]}


async def test_execute_and_read_back(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        graph = (await alice.post("/api/graphs", json={"graph": sample_graph()})).json()
        r = await alice.post(f"/api/graphs/{graph['id']}/execute/1",
                             json={"inputs": {"input_1": "Hello", "input_2": "World"}})
        assert r.status_code == 200, r.text
        meta = r.json()
        assert meta["status"] == "QUEUED" and meta["graph_version"] == 1
        done = await stack.wait_terminal(alice, graph["id"], meta["id"])
        assert done["status"] == "COMPLETED"
        assert done["outputs"] == {"greeting": ["Hello, World!!!"]}
        assert len(done["node_executions"]) == 5
        assert all(ne["status"] == "COMPLETED" for ne in done["node_executions"])
        tmpl = [ne for ne in done["node_executions"] if ne["block_id"] == TEMPLATE][0]
        assert tmpl["input_data"]["values"] == {"a": "Hello", "b": "World", "c": "!!!"}
        assert done["stats"]["node_exec_count"] == 5
        # another user sees nothing
        assert (await bob.get(f"/api/graphs/{graph['id']}/executions/{meta['id']}")).status_code == 404
        assert (await bob.post(f"/api/graphs/{graph['id']}/execute/1", json={})).status_code == 404
        listed = (await alice.get(f"/api/graphs/{graph['id']}/executions")).json()
        assert listed["pagination"]["total_items"] == 1
        assert [e["id"] for e in (await alice.get("/api/executions")).json()] == [meta["id"]]


async def test_run_validation_and_missing_version(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = (await alice.post("/api/graphs", json={"graph": sample_graph()})).json()
        assert (await alice.post(f"/api/graphs/{graph['id']}/execute/9", json={})).status_code == 404
        calc = {"name": "c", "nodes": [{"id": "c", "block_id": "b1ab9b19-67a6-406d-abf5-2dba76d00c79",
                                        "input_default": {"operation": "Add"}}], "links": []}
        g2 = (await alice.post("/api/graphs", json={"graph": calc})).json()
        r = await alice.post(f"/api/graphs/{g2['id']}/execute/1", json={})
        assert r.status_code == 400
        errors = r.json()["detail"]["node_errors"]
        assert set(next(iter(errors.values()))) == {"a", "b"}


async def test_stop_a_running_execution(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = (await alice.post("/api/graphs", json={"graph": timer_graph()})).json()
        meta = (await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={})).json()

        async def running():
            r = await alice.get(f"/api/graphs/{graph['id']}/executions/{meta['id']}")
            return r.json()["status"] == "RUNNING" and r.json()["node_executions"]

        from tests.integration.helpers import eventually
        await eventually(running, timeout=20)
        r = await alice.post(f"/api/graphs/{graph['id']}/executions/{meta['id']}/stop")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "TERMINATED"
        done = await stack.wait_terminal(alice, graph["id"], meta["id"])
        assert done["status"] == "TERMINATED"
        assert [ne["status"] for ne in done["node_executions"]] == ["TERMINATED"]
        # stopping a finished execution is a no-op that returns it
        again = await alice.post(f"/api/graphs/{graph['id']}/executions/{meta['id']}/stop")
        assert again.status_code == 200 and again.json()["status"] == "TERMINATED"
