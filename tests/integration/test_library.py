"""Library agents, folders and presets through the real stack (command API, store, relay, broker,
executor, projector, query API), with AutoGPT's paths and shapes."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.infra.eventstore import EventStore
from tests.integration.helpers import eventually
from tests.integration.test_executions_api import sample_graph
from tests.stories.library import LibraryStories, PresetStories
from tests.stories.postgres import migrated_datastore
from tests.stories.world import World

INPUTS = {"input_1": "Hello", "input_2": "World"}


async def _graph(client, graph=None) -> dict:
    r = await client.post("/api/graphs", json={"graph": graph or sample_graph()})
    assert r.status_code == 200, r.text
    return r.json()


async def _entry(client, graph_id: str) -> dict:
    r = await client.get(f"/api/library/agents/by-graph/{graph_id}")
    assert r.status_code == 200, r.text
    return r.json()


async def _run(stack, client, graph_id: str, inputs=None, version=1, **query) -> dict:
    r = await client.post(f"/api/graphs/{graph_id}/execute/{version}", json={"inputs": inputs or INPUTS},
                          params=query)
    assert r.status_code == 200, r.text
    return await stack.wait_terminal(client, graph_id, r.json()["id"])


async def test_a_created_graph_is_in_the_library_with_run_figures(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = await _graph(alice)
        entry = await _entry(alice, graph["id"])
        assert (entry["graph_id"], entry["graph_version"], entry["name"]) == (graph["id"], 1, "sample")
        assert entry["id"] != graph["id"] and entry["can_access_graph"] is True and entry["is_favorite"] is False
        assert set(entry["input_schema"]["properties"]) == {"input_1", "input_2"}
        assert entry["execution_count"] == 0 and entry["success_rate"] is None and entry["status"] == "COMPLETED"
        assert entry["settings"] == {"human_in_the_loop_safe_mode": True, "sensitive_action_safe_mode": False}
        assert (await alice.get(f"/api/library/agents/{entry['id']}")).json() == entry
        listed = (await alice.get("/api/library/agents")).json()
        assert [a["id"] for a in listed["agents"]] == [entry["id"]]
        assert listed["pagination"] == {"total_items": 1, "total_pages": 1, "current_page": 1, "page_size": 15}

        done = await _run(stack, alice, graph["id"])
        assert done["outputs"] == {"greeting": ["Hello, World!!!"]}
        await _run(stack, alice, graph["id"], inputs={"input_1": "Hi"})  # input_2 missing: still completes

        async def counted():
            e = await _entry(alice, graph["id"])
            return e if e["execution_count"] == 2 and len(e["recent_executions"]) == 2 else None

        entry = await eventually(counted)
        assert entry["success_rate"] == 100.0 and entry["status"] == "COMPLETED" and entry["new_output"] is True
        assert [r["status"] for r in entry["recent_executions"]] == ["COMPLETED", "COMPLETED"]
        assert entry["last_run_at"] is not None

        # a deleted run leaves the figures
        await alice.delete(f"/api/executions/{done['id']}")
        entry = await eventually(lambda: _counted(alice, graph["id"], 1))
        assert entry["success_rate"] == 100.0


async def _counted(client, graph_id, count):
    e = await _entry(client, graph_id)
    return e if e["execution_count"] == count else None


async def test_sorting_search_and_paging(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        first = await _graph(alice, {**sample_graph(), "name": "Alpha writer", "description": "drafts letters"})
        second = await _graph(alice, {**sample_graph(), "name": "Beta reader", "description": "reads mail"})
        third = await _graph(alice, {**sample_graph(), "name": "Gamma", "description": "50% discount_bot"})
        ids = {g["id"]: (await _entry(alice, g["id"]))["id"] for g in (first, second, third)}
        created = (await alice.get("/api/library/agents", params={"sort_by": "createdAt"})).json()
        assert [a["graph_id"] for a in created["agents"]] == [first["id"], second["id"], third["id"]]
        updated = (await alice.get("/api/library/agents", params={"sort_by": "updatedAt"})).json()
        assert [a["graph_id"] for a in updated["agents"]] == [third["id"], second["id"], first["id"]]

        await _run(stack, alice, second["id"])
        last = await eventually(lambda: _first_by_last_run(alice, second["id"]))
        assert last["agents"][0]["graph_id"] == second["id"]

        found = (await alice.get("/api/library/agents", params={"search_term": "READ"})).json()
        assert [a["id"] for a in found["agents"]] == [ids[second["id"]]]
        found = (await alice.get("/api/library/agents", params={"search_term": "letters"})).json()
        assert [a["graph_id"] for a in found["agents"]] == [first["id"]]
        assert (await alice.get("/api/library/agents", params={"search_term": "%"})).json()["pagination"][
            "total_items"] == 1  # a literal percent sign, not a wildcard
        assert (await alice.get("/api/library/agents", params={"search_term": "_"})).json()["pagination"][
            "total_items"] == 1

        paged = (await alice.get("/api/library/agents", params={"page": 2, "page_size": 2,
                                                                "sort_by": "createdAt"})).json()
        assert [a["graph_id"] for a in paged["agents"]] == [third["id"]]
        assert paged["pagination"] == {"total_items": 3, "total_pages": 2, "current_page": 2, "page_size": 2}
        for bad in ({"page": 0}, {"page_size": 0}, {"page_size": 101}, {"sort_by": "name"},
                    {"search_term": "x" * 101}, {"page": 2 ** 31}):
            r = await alice.get("/api/library/agents", params=bad)
            assert r.status_code == 422, (bad, r.text)
        assert (await alice.get("/api/library/agents", params={"folder_id": "nope"})).status_code == 400


async def _first_by_last_run(client, graph_id):
    page = (await client.get("/api/library/agents", params={"sort_by": "lastExecuted"})).json()
    return page if page["agents"][0]["graph_id"] == graph_id and page["agents"][0]["execution_count"] else None


async def test_favourites_archive_and_deleting_the_graph(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        kept, starred = await _graph(alice), await _graph(alice)
        kept_id, starred_id = (await _entry(alice, kept["id"]))["id"], (await _entry(alice, starred["id"]))["id"]
        r = await alice.patch(f"/api/library/agents/{starred_id}", json={"is_favorite": True})
        assert r.status_code == 200 and r.json()["is_favorite"] is True, r.text
        favourites = (await alice.get("/api/library/agents/favorites")).json()
        assert [a["id"] for a in favourites["agents"]] == [starred_id]

        r = await alice.patch(f"/api/library/agents/{kept_id}", json={"is_archived": True})
        assert r.json()["is_archived"] is True
        listed = (await alice.get("/api/library/agents")).json()
        assert [a["id"] for a in listed["agents"]] == [starred_id]
        assert (await alice.get(f"/api/library/agents/{kept_id}")).json()["is_archived"] is True
        r = await alice.patch(f"/api/library/agents/{kept_id}", json={"is_archived": False})
        assert r.json()["is_archived"] is False
        assert len((await alice.get("/api/library/agents")).json()["agents"]) == 2

        assert (await alice.delete(f"/api/graphs/{starred['id']}")).status_code == 200
        gone = (await alice.get(f"/api/library/agents/{starred_id}")).json()
        assert gone["is_archived"] is True
        assert [a["id"] for a in (await alice.get("/api/library/agents")).json()["agents"]] == [kept_id]
        assert (await alice.get("/api/library/agents/favorites")).json()["agents"] == []
        r = await alice.patch(f"/api/library/agents/{starred_id}", json={"is_archived": False})
        assert r.status_code == 409, r.text
        r = await alice.patch(f"/api/graphs/{starred['id']}/settings", json={"sensitive_action_safe_mode": True})
        assert r.status_code == 404, r.text

        assert (await alice.delete(f"/api/library/agents/{kept_id}")).status_code == 204
        assert (await alice.get(f"/api/library/agents/{kept_id}")).status_code == 404
        assert (await alice.get(f"/api/library/agents/by-graph/{kept['id']}")).status_code == 404
        assert (await alice.patch(f"/api/library/agents/{kept_id}", json={"is_favorite": True})).status_code == 404
        assert (await alice.delete(f"/api/library/agents/{kept_id}")).status_code == 404
        assert (await alice.get(f"/api/graphs/{kept['id']}")).status_code == 200  # the graph stays


async def test_version_following_pinning_and_settings(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = await _graph(alice)
        entry_id = (await _entry(alice, graph["id"]))["id"]
        r = await alice.put(f"/api/graphs/{graph['id']}", json={**sample_graph(), "name": "sample v2"})
        assert r.status_code == 200, r.text
        entry = await _entry(alice, graph["id"])
        assert (entry["graph_version"], entry["name"], entry["auto_update_version"]) == (2, "sample v2", True)

        r = await alice.patch(f"/api/library/agents/{entry_id}", json={"graph_version": 1})
        assert r.status_code == 200, r.text
        assert (r.json()["graph_version"], r.json()["name"], r.json()["auto_update_version"]) == (1, "sample", False)
        assert (await alice.get(f"/api/library/agents/{entry_id}")).json()["graph_version"] == 1
        assert (await alice.get(f"/api/library/agents/by-graph/{graph['id']}", params={"version": 2})).status_code \
            == 404
        assert (await alice.patch(f"/api/library/agents/{entry_id}", json={"graph_version": 9})).status_code == 404
        r = await alice.patch(f"/api/library/agents/{entry_id}", json={"auto_update_version": True})
        assert r.json()["graph_version"] == 2

        r = await alice.patch(f"/api/graphs/{graph['id']}/settings", json={"sensitive_action_safe_mode": True})
        assert r.status_code == 200, r.text
        assert r.json() == {"human_in_the_loop_safe_mode": True, "sensitive_action_safe_mode": True}
        assert (await _entry(alice, graph["id"]))["settings"] == r.json()
        r = await alice.patch(f"/api/library/agents/{entry_id}",
                              json={"settings": {"human_in_the_loop_safe_mode": False}})
        assert r.json()["settings"] == {"human_in_the_loop_safe_mode": False, "sensitive_action_safe_mode": True}
        assert (await alice.patch(f"/api/graphs/{graph['id']}/settings", json={})).status_code == 400


async def test_fork_gives_an_independent_graph(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = await _graph(alice)
        source = await _entry(alice, graph["id"])
        await alice.patch(f"/api/library/agents/{source['id']}",
                          json={"settings": {"sensitive_action_safe_mode": True}})
        r = await alice.post(f"/api/library/agents/{source['id']}/fork")
        assert r.status_code == 200, r.text
        fork = r.json()
        assert fork["graph_id"] != graph["id"] and fork["name"] == "sample (copy)"
        assert fork["settings"]["sensitive_action_safe_mode"] is True and fork["execution_count"] == 0
        copy = (await alice.get(f"/api/graphs/{fork['graph_id']}")).json()
        assert (copy["forked_from_id"], copy["forked_from_version"]) == (graph["id"], 1)
        assert not {n["id"] for n in copy["nodes"]} & {n["id"] for n in graph["nodes"]}
        assert (await _entry(alice, fork["graph_id"]))["id"] == fork["id"]

        await alice.put(f"/api/graphs/{fork['graph_id']}", json={**sample_graph(), "name": "changed"})
        assert (await alice.get(f"/api/graphs/{graph['id']}")).json()["name"] == "sample"
        done = await _run(stack, alice, fork["graph_id"], version=2)
        assert done["outputs"] == {"greeting": ["Hello, World!!!"]}


async def test_folders_tree_moves_and_the_cycle_refusal(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        async def folder(name, parent=None, **extra):
            r = await alice.post("/api/library/folders", json={"name": name, "parent_id": parent, **extra})
            assert r.status_code == 201, r.text
            return r.json()

        top = await folder("Work", color="#12ab9F", icon="briefcase")
        assert (top["color"], top["icon"], top["parent_id"], top["subfolder_count"]) == ("#12ab9F", "briefcase",
                                                                                          None, 0)
        chain = [top]
        for level in range(2, 6):
            chain.append(await folder(f"L{level}", chain[-1]["id"]))
        r = await alice.post("/api/library/folders", json={"name": "L6", "parent_id": chain[-1]["id"]})
        assert r.status_code == 400 and "depth of 5" in r.text
        assert (await alice.post("/api/library/folders", json={"name": "Work"})).status_code == 409
        other = await folder("Home")

        # a folder cannot go below itself
        r = await alice.post(f"/api/library/folders/{top['id']}/move", json={"target_parent_id": chain[2]["id"]})
        assert r.status_code == 409 and "descendant" in r.text
        r = await alice.post(f"/api/library/folders/{top['id']}/move", json={"target_parent_id": top["id"]})
        assert r.status_code == 409
        # moving a subtree keeps within five levels
        r = await alice.post(f"/api/library/folders/{chain[1]['id']}/move", json={"target_parent_id": other["id"]})
        assert r.status_code == 200 and r.json()["parent_id"] == other["id"], r.text
        r = await alice.post(f"/api/library/folders/{other['id']}/move", json={"target_parent_id": top["id"]})
        assert r.status_code == 400  # Home now carries five levels
        r = await alice.post(f"/api/library/folders/{chain[4]['id']}/move", json={"target_parent_id": None})
        assert r.status_code == 200 and r.json()["parent_id"] is None

        tree = (await alice.get("/api/library/folders/tree")).json()["tree"]
        assert [t["name"] for t in tree] == ["Work", "L5", "Home"]  # oldest first
        home = tree[2]
        assert [c["name"] for c in home["children"]] == ["L2"]
        assert [c["name"] for c in home["children"][0]["children"]] == ["L3"]
        roots = (await alice.get("/api/library/folders")).json()
        assert [f["name"] for f in roots["folders"]] == ["Work", "L5", "Home"]
        under = (await alice.get("/api/library/folders", params={"parent_id": other["id"]})).json()
        assert [f["name"] for f in under["folders"]] == ["L2"] and under["folders"][0]["subfolder_count"] == 1
        r = await alice.patch(f"/api/library/folders/{top['id']}", json={"name": "Job", "color": "#000000"})
        assert r.status_code == 200 and (r.json()["name"], r.json()["color"]) == ("Job", "#000000")
        assert (await alice.patch(f"/api/library/folders/{top['id']}", json={"name": "Home"})).status_code == 409

        # agents into folders, filters and counts
        graphs = [await _graph(alice) for _ in range(3)]
        entries = [(await _entry(alice, g["id"]))["id"] for g in graphs]
        r = await alice.post("/api/library/agents/bulk-move",
                             json={"agent_ids": entries[:2] + [str(uuid.uuid4())], "folder_id": chain[2]["id"]})
        assert r.status_code == 200, r.text
        assert sorted(a["id"] for a in r.json()) == sorted(entries[:2])
        assert {a["folder_name"] for a in r.json()} == {"L3"}
        inside = (await alice.get("/api/library/agents", params={"folder_id": chain[2]["id"]})).json()
        assert sorted(a["id"] for a in inside["agents"]) == sorted(entries[:2])
        root = (await alice.get("/api/library/agents", params={"include_root_only": True})).json()
        assert [a["id"] for a in root["agents"]] == [entries[2]]
        assert (await alice.get(f"/api/library/folders/{chain[2]['id']}")).json()["agent_count"] == 2
        r = await alice.patch(f"/api/library/agents/{entries[0]}", json={"folder_id": ""})
        assert r.json()["folder_id"] is None
        r = await alice.patch(f"/api/library/agents/{entries[2]}", json={"folder_id": chain[4]["id"]})
        assert r.json()["folder_name"] == "L5"

        # deleting a folder deletes its subtree and the agents in it (AutoGPT's soft delete)
        assert (await alice.delete(f"/api/library/folders/{other['id']}")).status_code == 204
        for gone in (other, chain[1], chain[2], chain[3]):
            assert (await alice.get(f"/api/library/folders/{gone['id']}")).status_code == 404
        assert (await alice.get(f"/api/library/agents/{entries[1]}")).status_code == 404
        visible = {a["id"] for a in (await alice.get("/api/library/agents")).json()["agents"]}
        assert {entries[0], entries[2]} <= visible and entries[1] not in visible
        assert [t["name"] for t in (await alice.get("/api/library/folders/tree")).json()["tree"]] == ["Job", "L5"]
        r = await alice.post("/api/library/agents/bulk-move", json={"agent_ids": [entries[0]],
                                                                     "folder_id": chain[2]["id"]})
        assert r.status_code == 404

        for bad in ({"name": ""}, {"name": "x" * 101}, {"name": "ok", "color": "red"},
                    {"name": "ok", "icon": "i" * 101}):
            assert (await alice.post("/api/library/folders", json=bad)).status_code == 422, bad
        assert (await alice.post("/api/library/folders", json={"name": "ok", "parent_id": str(uuid.uuid4())})
                ).status_code == 404
        r = await alice.post("/api/library/agents/bulk-move", json={"agent_ids": [str(uuid.uuid4())] * 501})
        assert r.status_code == 422


async def test_concurrent_moves_cannot_close_a_loop(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        a = (await alice.post("/api/library/folders", json={"name": "A"})).json()
        b = (await alice.post("/api/library/folders", json={"name": "B"})).json()
        results = await asyncio.gather(
            alice.post(f"/api/library/folders/{a['id']}/move", json={"target_parent_id": b["id"]}),
            alice.post(f"/api/library/folders/{b['id']}/move", json={"target_parent_id": a["id"]}))
        assert sorted(r.status_code for r in results) == [200, 409]
        tree = (await alice.get("/api/library/folders/tree")).json()["tree"]
        assert len(tree) == 1 and len(tree[0]["children"]) == 1


async def test_presets_merge_validate_and_run(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = await _graph(alice)
        r = await alice.post("/api/library/presets", json={
            "name": "greet", "description": "d", "graph_id": graph["id"], "graph_version": 1,
            "inputs": {"input_1": "Bonjour", "input_2": "Monde"}, "credentials": {}})
        assert r.status_code == 200, r.text
        preset = r.json()
        assert (preset["name"], preset["graph_version"], preset["inputs"], preset["is_active"]) == (
            "greet", 1, {"input_1": "Bonjour", "input_2": "Monde"}, True)
        assert (await alice.get(f"/api/library/presets/{preset['id']}")).json() == preset

        # the request wins, key by key
        r = await alice.post(f"/api/library/presets/{preset['id']}/execute", json={"inputs": {"input_2": "World"}})
        assert r.status_code == 200, r.text
        assert r.json()["preset_id"] == preset["id"]
        done = await stack.wait_terminal(alice, graph["id"], r.json()["id"])
        assert done["outputs"] == {"greeting": ["Bonjour, World!!!"]}
        assert done["inputs"] == {"input_1": "Bonjour", "input_2": "World"} and done["preset_id"] == preset["id"]
        history = (await alice.get(f"/api/executions/{done['id']}/events")).json()["events"]
        assert history[0]["type"] == "ExecutionQueued" and history[0]["payload"]["preset_id"] == preset["id"]

        # preset_id on execute applies the same merge
        done = await _run(stack, alice, graph["id"], inputs={"input_1": "Hey"}, preset_id=preset["id"])
        assert done["outputs"] == {"greeting": ["Hey, Monde!!!"]} and done["preset_id"] == preset["id"]

        # a preset from a past run reproduces it
        r = await alice.post("/api/library/presets", json={"name": "again", "graph_execution_id": done["id"]})
        assert r.status_code == 200, r.text
        copied = r.json()
        assert (copied["inputs"], copied["from_execution_id"]) == ({"input_1": "Hey", "input_2": "Monde"}, done["id"])
        r = await alice.post(f"/api/library/presets/{copied['id']}/execute", json={})
        again = await stack.wait_terminal(alice, graph["id"], r.json()["id"])
        assert again["outputs"] == done["outputs"]

        listed = (await alice.get("/api/library/presets", params={"graph_id": graph["id"]})).json()
        assert [p["id"] for p in listed["presets"]] == [copied["id"], preset["id"]]
        assert listed["pagination"] == {"total_items": 2, "total_pages": 1, "current_page": 1, "page_size": 10}
        assert (await alice.get("/api/library/presets", params={"graph_id": str(uuid.uuid4())})).json()[
            "presets"] == []
        r = await alice.patch(f"/api/library/presets/{preset['id']}", json={"name": "renamed", "is_active": False})
        assert (r.json()["name"], r.json()["is_active"], r.json()["inputs"]) == ("renamed", False, preset["inputs"])
        assert (await alice.delete(f"/api/library/presets/{copied['id']}")).status_code == 204
        assert (await alice.get(f"/api/library/presets/{copied['id']}")).status_code == 404
        assert (await alice.post(f"/api/library/presets/{copied['id']}/execute", json={})).status_code == 404

        # inputs that do not fit the graph: 400 with node_errors
        r = await alice.post("/api/library/presets", json={
            "name": "bad", "graph_id": graph["id"], "graph_version": 1, "inputs": {"nope": 1, "input_1": 5}})
        assert r.status_code == 400, r.text
        assert r.json()["detail"]["node_errors"] == {"inputs": {"nope": "The graph has no input named 'nope'"}}
        # a partial preset saves; run without the missing required input it is refused, with it it runs
        r = await alice.post("/api/library/presets", json={
            "name": "half", "graph_id": graph["id"], "graph_version": 1, "inputs": {"input_1": "Yo"}})
        assert r.status_code == 200, r.text
        half = r.json()["id"]
        r = await alice.post(f"/api/library/presets/{half}/execute", json={})
        second = next(n["id"] for n in graph["nodes"] if n["input_default"].get("name") == "input_2")
        assert r.status_code == 400 and r.json()["detail"]["node_errors"] == {
            second: {"value": "This field is required"}}, r.text
        r = await alice.post(f"/api/library/presets/{half}/execute", json={"inputs": {"input_2": "there"}})
        assert r.status_code == 200, r.text
        assert (await stack.wait_terminal(alice, graph["id"], r.json()["id"]))["outputs"] == {
            "greeting": ["Yo, there!!!"]}
        r = await alice.patch(f"/api/library/presets/{preset['id']}", json={"inputs": {"ghost": "x"}})
        assert r.status_code == 400
        for bad in ({"name": "", "graph_id": graph["id"], "graph_version": 1},
                    {"name": "n"}, {"name": "n", "graph_id": graph["id"], "graph_version": 0}):
            assert (await alice.post("/api/library/presets", json=bad)).status_code == 422, bad
        for bad in ({"page_size": 0}, {"page_size": 101}, {"page": 0}):
            assert (await alice.get("/api/library/presets", params=bad)).status_code == 422

        # a preset of a deleted graph cannot run
        await alice.delete(f"/api/graphs/{graph['id']}")
        assert (await alice.post(f"/api/library/presets/{preset['id']}/execute", json={})).status_code == 404


async def test_another_users_library_is_invisible(stack, user_ids):
    """Every id-taking library route answers 404 to a second user."""
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        graph = await _graph(alice)
        entry = await _entry(alice, graph["id"])
        folder = (await alice.post("/api/library/folders", json={"name": "Mine"})).json()
        preset = (await alice.post("/api/library/presets", json={
            "name": "p", "graph_id": graph["id"], "graph_version": 1, "inputs": INPUTS})).json()
        done = await _run(stack, alice, graph["id"])
        await bob.post("/api/library/folders", json={"name": "Mine"})  # bob's own folder, same name: fine

        checks = [
            bob.get(f"/api/library/agents/{entry['id']}"),
            bob.get(f"/api/library/agents/by-graph/{graph['id']}"),
            bob.patch(f"/api/library/agents/{entry['id']}", json={"is_favorite": True}),
            bob.delete(f"/api/library/agents/{entry['id']}"),
            bob.post(f"/api/library/agents/{entry['id']}/fork"),
            bob.patch(f"/api/graphs/{graph['id']}/settings", json={"sensitive_action_safe_mode": True}),
            bob.get(f"/api/library/folders/{folder['id']}"),
            bob.patch(f"/api/library/folders/{folder['id']}", json={"name": "x"}),
            bob.post(f"/api/library/folders/{folder['id']}/move", json={"target_parent_id": None}),
            bob.delete(f"/api/library/folders/{folder['id']}"),
            bob.post("/api/library/folders", json={"name": "sub", "parent_id": folder["id"]}),
            bob.post("/api/library/agents/bulk-move", json={"agent_ids": [entry["id"]], "folder_id": folder["id"]}),
            bob.get(f"/api/library/presets/{preset['id']}"),
            bob.patch(f"/api/library/presets/{preset['id']}", json={"name": "x"}),
            bob.delete(f"/api/library/presets/{preset['id']}"),
            bob.post(f"/api/library/presets/{preset['id']}/execute", json={}),
            bob.post("/api/library/presets", json={"name": "x", "graph_execution_id": done["id"]}),
            bob.post("/api/library/presets", json={"name": "x", "graph_id": graph["id"], "graph_version": 1}),
            bob.post(f"/api/graphs/{graph['id']}/execute/1", params={"preset_id": preset["id"]}, json={}),
        ]
        for request in checks:
            r = await request
            assert r.status_code == 404, (r.request.method, r.request.url, r.status_code, r.text)
        # bob's own graph with alice's preset id: still not found
        own = await _graph(bob)
        r = await bob.post(f"/api/graphs/{own['id']}/execute/1", params={"preset_id": preset["id"]}, json={})
        assert r.status_code == 404
        r = await bob.post("/api/library/agents/bulk-move", json={"agent_ids": [entry["id"]]})
        assert r.status_code == 200 and r.json() == []
        assert [a["graph_id"] for a in (await bob.get("/api/library/agents")).json()["agents"]] == [own["id"]]
        assert (await bob.get("/api/library/presets")).json()["presets"] == []
        assert [f["name"] for f in (await bob.get("/api/library/folders")).json()["folders"]] == ["Mine"]

        # and nothing bob did changed alice's library
        after = await _entry(alice, graph["id"])
        assert after["is_favorite"] is False and after["settings"] == entry["settings"]
        assert (await alice.get(f"/api/library/presets/{preset['id']}")).json()["name"] == "p"
        assert (await alice.get(f"/api/library/folders/{folder['id']}")).json()["name"] == "Mine"


# -- the stories on PostgreSQL ----------------------------------------------------------------


@pytest.fixture(scope="module")
def datastore(database_url):
    with migrated_datastore(database_url) as datastore:
        yield datastore


@pytest.fixture
def world(datastore) -> World:
    return World(lambda context: EventStore(datastore, context))


class TestLibraryStoriesOnPostgres(LibraryStories):
    pass


class TestPresetStoriesOnPostgres(PresetStories):
    pass
