"""The store end to end through the real stack (command API, store, relay, broker, executor,
projector, notifier, query API): a creator publishes, an admin approves, another user finds, reads,
adds, runs and reviews the agent; the write routes' refusals; the stories on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
import pytest_asyncio

from services.infra.eventstore import EventStore
from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import eventually
from tests.integration.stack import running_stack
from tests.integration.test_credits import CALC
from tests.integration.test_graphs_api import INPUT, OUTPUT
from tests.stories.postgres import migrated_datastore
from tests.stories.store import StoreStories
from tests.stories.world import World


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    settings = isolated_settings(database_url, broker.bootstrap, credits_enabled=True, signup_credits=100,
                                 block_costs={CALC: [{"cost_amount": 3, "cost_filter": {}}]})
    async with running_stack(settings, executors=1, notifier=True) as running:
        yield running
    drop_schema(database_url, settings.db_schema)


def adder(name="Adder") -> dict:
    return {"name": name, "description": "adds one", "nodes": [
        {"id": "in", "block_id": INPUT, "input_default": {"name": "x"}},
        {"id": "add", "block_id": CALC, "input_default": {"operation": "Add", "b": 1}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "y"}},
    ], "links": [{"source_id": "in", "sink_id": "add", "source_name": "result", "sink_name": "a"},
                 {"source_id": "add", "sink_id": "out", "source_name": "result", "sink_name": "value"}]}


def submission(graph_id: str, version: int = 1, slug: str = "quantum-adder", **extra) -> dict:
    return {"graph_id": graph_id, "graph_version": version, "slug": slug, "name": "Quantum Adder",
            "sub_heading": "adds one, quantumly", "description": "A calculator agent for photonic arithmetic",
            "categories": ["math", "tools"], "image_urls": ["https://example.com/a.png"], **extra}


async def _creator(client, username: str) -> dict:
    r = await client.post("/api/store/profile", json={"username": username, "name": username.title(),
                                                      "description": "makes agents", "links": []})
    assert r.status_code == 200, r.text
    return r.json()


async def test_publish_approve_find_add_run_review(stack, user_ids):
    alice, bob = user_ids["alice"], user_ids["bob"]
    username = f"maker-{alice[-8:]}"
    async with stack.client(alice) as creator, stack.client(bob) as user, \
            stack.client("store-admin", admin=True) as admin:
        await creator.post("/api/auth/user")  # so the approval can be emailed
        profile = await _creator(creator, username)
        assert profile == {"username": username, "name": username.title(), "description": "makes agents",
                           "avatar_url": None, "links": [], "is_featured": False}
        graph = (await creator.post("/api/graphs", json={"graph": adder()})).json()
        r = await creator.post("/api/store/submissions", json=submission(graph["id"]))
        assert r.status_code == 200, r.text
        pending = r.json()
        assert (pending["status"], pending["slug"], pending["listing_version"], pending["graph_version"]) == (
            "PENDING", "quantum-adder", 1, 1)
        version_id = pending["listing_version_id"]

        # pending: invisible to others, and nobody else may run it
        assert (await user.get(f"/api/store/agents/{username}/quantum-adder")).status_code == 404
        assert (await user.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"x": 1}})).status_code == 404
        assert (await user.post("/api/library/agents", json={"store_listing_version_id": version_id})
                ).status_code == 404
        assert (await user.get(f"/api/library/agents/marketplace/{version_id}")).status_code == 404

        assert (await user.post(f"/api/store/admin/submissions/{version_id}/review",
                                json={"is_approved": True})).status_code == 403
        r = await admin.post(f"/api/store/admin/submissions/{version_id}/review",
                             json={"is_approved": True, "comments": "welcome", "internal_comments": "checked"})
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["review_comments"], r.json()["internal_comments"]) == (
            "APPROVED", "welcome", "checked")

        # another user finds it by full-text search and reads the details
        async def found():
            page = (await user.get("/api/store/agents", params={"search_query": "photonic calculator"})).json()
            return page if [a["slug"] for a in page["agents"]] == ["quantum-adder"] else None

        page = await eventually(found)
        assert page["agents"][0]["creator"] == username and page["agents"][0]["agent_graph_id"] == graph["id"]
        details = (await user.get(f"/api/store/agents/{username}/quantum-adder")).json()
        assert (details["store_listing_version_id"], details["graph_versions"], details["active_version_id"]) == (
            version_id, ["1"], version_id)

        # adds it to the library and runs it with their own credits
        r = await user.get(f"/api/library/agents/marketplace/{version_id}")
        assert r.status_code == 200 and r.json() is None, r.text
        r = await user.post("/api/library/agents", json={"store_listing_version_id": version_id})
        assert r.status_code == 201, r.text
        entry = r.json()
        assert (entry["graph_id"], entry["graph_version"], entry["can_access_graph"]) == (graph["id"], 1, False)
        assert (await user.get(f"/api/library/agents/{entry['id']}")).json()["id"] == entry["id"]
        assert "MARKETPLACE_ADD_AGENT" in (await user.get("/api/onboarding")).json()["completedSteps"]
        assert (await user.get(f"/api/library/agents/marketplace/{version_id}")).json()["id"] == entry["id"]
        listed = (await user.get("/api/library/agents")).json()["agents"]
        assert [a["graph_id"] for a in listed] == [graph["id"]] and listed[0]["can_access_graph"] is False
        before = (await user.get("/api/credits")).json()["credits"]
        r = await user.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"x": 41}})
        assert r.status_code == 200, r.text
        done = await stack.wait_terminal(user, graph["id"], r.json()["id"])
        assert done["status"] == "COMPLETED" and done["outputs"] == {"y": [42]}
        assert (await user.get("/api/credits")).json()["credits"] == before - 3
        assert (await creator.get("/api/credits")).json()["credits"] == 100  # the creator paid nothing
        # the creator's graph stays theirs: no edits, no other versions, no deletes by the user
        assert (await user.put(f"/api/graphs/{graph['id']}", json=adder("stolen"))).status_code == 404
        assert (await user.delete(f"/api/graphs/{graph['id']}")).status_code == 404

        r = await user.post(f"/api/store/agents/{username}/quantum-adder/review",
                            json={"store_listing_version_id": version_id, "score": 4, "comments": "neat"})
        assert r.status_code == 200 and r.json() == {"score": 4, "comments": "neat"}, r.text

        async def counted():
            card = (await user.get("/api/store/agents", params={"creator": username})).json()["agents"]
            return card[0] if card and card[0]["runs"] == 1 and card[0]["rating"] == 4.0 else None

        card = await eventually(counted)
        assert card["slug"] == "quantum-adder"

        # the creator was told
        async def approved():
            notes = (await creator.get("/api/notifications")).json()["notifications"]
            return [n for n in notes if n["type"] == "AGENT_APPROVED"]

        [note] = await eventually(approved, timeout=30)
        assert note["data"]["graph_id"] == graph["id"] and note["data"]["comments"] == "welcome"
        assert "checked" not in str(note["data"])  # internal comments stay internal


async def test_write_refusals(stack, user_ids):
    alice, bob = user_ids["alice"], user_ids["bob"]
    async with stack.client(alice) as creator, stack.client(bob) as other, \
            stack.client("store-admin", admin=True) as admin:
        graph = (await creator.post("/api/graphs", json={"graph": adder()})).json()
        r = await creator.post("/api/store/submissions", json=submission(graph["id"]))
        assert r.status_code == 428, r.text  # a profile comes first
        name = f"taken-{alice[-8:]}"
        await _creator(creator, name)
        r = await other.post("/api/store/profile", json={"username": name.upper(), "name": "Bob"})
        assert r.status_code == 409, r.text
        assert (await other.post("/api/store/profile", json={"name": "no username yet"})).status_code == 400
        await _creator(other, f"other-{bob[-8:]}")
        for bad in ({"username": "!!!", "name": "x"}, {"username": "ok", "name": ""},
                    {"username": "ok", "name": "x", "links": ["l"] * 6}, {"username": "u" * 65, "name": "x"}):
            assert (await other.post("/api/store/profile", json=bad)).status_code == 422, bad

        # someone else's graph: 404; a taken slug: 409; bounds: 422
        assert (await other.post("/api/store/submissions", json=submission(graph["id"]))).status_code == 404
        assert (await creator.post("/api/store/submissions", json=submission(graph["id"], version=9))
                ).status_code == 404
        first = (await creator.post("/api/store/submissions", json=submission(graph["id"]))).json()
        second_graph = (await creator.post("/api/graphs", json={"graph": adder("Other")})).json()
        r = await creator.post("/api/store/submissions", json=submission(second_graph["id"]))
        assert r.status_code == 409 and "slug" in r.text, r.text
        for bad in ({"slug": "--"}, {"name": ""}, {"categories": ["c"] * 11}, {"sub_heading": "s" * 201},
                    {"graph_version": 0}, {"image_urls": ["u" * 2001]}):
            body = {**submission(second_graph["id"], slug="fresh"), **bad}
            assert (await creator.post("/api/store/submissions", json=body)).status_code == 422, bad
        assert (await creator.post("/api/store/submissions", json=submission(str(uuid.uuid4()), slug="ghost"))
                ).status_code == 404

        version_id = first["listing_version_id"]
        # only the creator edits or deletes; only admins review or feature
        assert (await other.put(f"/api/store/submissions/{version_id}", json={"name": "mine"})).status_code == 404
        assert (await other.delete(f"/api/store/submissions/{version_id}")).status_code == 404
        assert (await other.post(f"/api/store/admin/submissions/{version_id}/review",
                                 json={"is_approved": True})).status_code == 403
        assert (await other.put(f"/api/store/admin/listings/{first['listing_id']}/featured",
                                json={"featured": True})).status_code == 403
        r = await creator.put(f"/api/store/submissions/{version_id}", json={"name": "Quantum Adder 2"})
        assert r.status_code == 200 and r.json()["name"] == "Quantum Adder 2", r.text
        r = await admin.post(f"/api/store/admin/submissions/{version_id}/review", json={"is_approved": False,
                                                                                         "comments": "no"})
        assert r.json()["status"] == "REJECTED"
        assert (await creator.put(f"/api/store/submissions/{version_id}", json={"name": "x"})).status_code == 409
        r = await admin.put(f"/api/store/admin/listings/{first['listing_id']}/featured", json={"featured": True})
        assert r.status_code == 200 and r.json() == {"listing_id": first["listing_id"], "is_featured": True}
        assert (await admin.post(f"/api/store/admin/submissions/{uuid.uuid4()}/review",
                                 json={"is_approved": True})).status_code == 404
        assert (await creator.delete(f"/api/store/submissions/{version_id}")).json() is True
        assert (await creator.delete(f"/api/store/submissions/{version_id}")).status_code == 404
        # reviews: 1 to 5, only of approved versions
        for score in (0, 6):
            r = await other.post(f"/api/store/agents/{name}/quantum-adder/review",
                                 json={"store_listing_version_id": version_id, "score": score})
            assert r.status_code == 422
        r = await other.post(f"/api/store/agents/{name}/quantum-adder/review",
                             json={"store_listing_version_id": version_id, "score": 3})
        assert r.status_code == 404


# -- the stories on PostgreSQL ----------------------------------------------------------------


@pytest.fixture(scope="module")
def datastore(database_url):
    with migrated_datastore(database_url) as datastore:
        yield datastore


@pytest.fixture
def world(datastore) -> World:
    return World(lambda context: EventStore(datastore, context))


class TestStoreStoriesOnPostgres(StoreStories):
    pass
