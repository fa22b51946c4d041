"""The store's read side through the real stack (store log -> relay -> broker -> projector -> query
API): listings with full-text search, sorting and paging, details by slug and by listing version,
their graph and download, creators, the caller's profile, submissions and unpublished graphs, the
admin's routes, published graph versions read by another user, and runs and ratings from events.

The store events are appended straight to the store (what the command side records), so these tests
pin the read side whatever the command routes do.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest_asyncio

from schemas.events.executions import ExecutionQueued
from schemas.events.store import (
    GraphVersionPublished,
    GraphVersionUnpublished,
    ListingFeaturedSet,
    ListingVersionReviewed,
    ListingVersionSubmitted,
    ListingVersionWithdrawn,
    ProfileSaved,
    StoreReviewSubmitted,
)
from schemas.graph import GraphVersionBody
from services.domain.store.ids import listing_id, profile_id, publication_id, review_id
from services.infra.eventstore import EventStore
from services.infra.store_contract import NewEvent
from tests.integration.helpers import eventually
from tests.integration.stack import running_stack
from tests.integration.test_executions_api import sample_graph

ADMIN = "store-admin"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(module_settings):
    async with running_stack(module_settings, executors=0) as running:
        yield running


class Seeder:
    """Records store events as the command side would (each stream at its next version)."""

    def __init__(self, stack) -> None:
        self.store = EventStore(stack.datastore, "store")
        self.executions = EventStore(stack.datastore, "executions")
        self.versions: dict[uuid.UUID, int] = {}
        self.listings: dict[str, tuple[str, int]] = {}  # listing version id -> (graph id, graph version)
        self.published: set[str] = set()

    async def append(self, stream: uuid.UUID, *events, user_id: str | None = None, store=None) -> None:
        start = self.versions.get(stream, 0)
        batch = [NewEvent(stream, start + i + 1, e, user_id=user_id) for i, e in enumerate(events)]
        await asyncio.to_thread((store or self.store).append, batch)
        self.versions[stream] = start + len(events)

    async def profile(self, user: str, username: str, **fields) -> None:
        await self.append(profile_id(user), ProfileSaved(user_id=user, username=username,
                                                         name=fields.pop("name", username.title()), **fields),
                          user_id=user)

    async def submit(self, user: str, graph_id: str, slug: str, *, graph_version: int = 1, **fields) -> str:
        version_id = str(uuid.uuid4())
        stream = listing_id(graph_id)
        number = sum(1 for g, _ in self.listings.values() if g == graph_id) + 1
        await self.append(stream, ListingVersionSubmitted(
            user_id=user, slug=slug, listing_version_id=version_id, version=number, graph_id=graph_id,
            graph_version=graph_version, **{"name": slug.replace("-", " ").title(), **fields}), user_id=user)
        self.listings[version_id] = (graph_id, graph_version)
        return version_id

    async def review(self, version_id: str, approved: bool = True, *, comments: str = "",
                     internal: str = "") -> None:
        graph_id, graph_version = self.listings[version_id]
        await self.append(listing_id(graph_id), ListingVersionReviewed(
            listing_version_id=version_id, approved=approved, reviewer_id=ADMIN, comments=comments,
            internal_comments=internal), user_id=ADMIN)
        if approved:
            self.published.add(version_id)
            await self.append(publication_id(graph_id, graph_version), GraphVersionPublished(
                listing_version_id=version_id, graph_id=graph_id, graph_version=graph_version), user_id=ADMIN)
        elif version_id in self.published:
            self.published.discard(version_id)
            await self.append(publication_id(graph_id, graph_version),
                              GraphVersionUnpublished(listing_version_id=version_id, graph_id=graph_id,
                                                      graph_version=graph_version), user_id=ADMIN)

    async def withdraw(self, version_id: str) -> None:
        graph_id, _ = self.listings[version_id]
        await self.append(listing_id(graph_id), ListingVersionWithdrawn(listing_version_id=version_id))

    async def feature(self, graph_id: str) -> None:
        await self.append(listing_id(graph_id), ListingFeaturedSet(featured=True, set_by=ADMIN))

    async def rate(self, user: str, version_id: str, score: int) -> None:
        graph_id, _ = self.listings[version_id]
        await self.append(review_id(user, version_id), StoreReviewSubmitted(
            user_id=user, listing_id=str(listing_id(graph_id)), listing_version_id=version_id, score=score),
            user_id=user)

    async def run(self, user: str, graph_id: str, *, dry: bool = False) -> None:
        await self.append(uuid.uuid4(), ExecutionQueued(
            user_id=user, graph_id=graph_id, graph_version=1, graph=GraphVersionBody(id=graph_id, version=1),
            is_dry_run=dry), user_id=user, store=self.executions)


def _pw(graph: dict) -> dict:
    return next((n for n in graph["nodes"] if n["input_default"].get("name") == "pw"), {"input_default": graph}
                )["input_default"]


def secret_graph(name: str = "sample", description: str = "") -> dict:
    graph = sample_graph()
    graph["nodes"].append({"id": "pw", "block_id": graph["nodes"][0]["block_id"],
                           "input_default": {"name": "pw", "value": "hunter2", "secret": True}})
    return {**graph, "name": name, "description": description}


async def _graph(client, name: str = "sample", description: str = "") -> dict:
    r = await client.post("/api/graphs", json={"graph": secret_graph(name, description)})
    assert r.status_code == 200, r.text
    return r.json()


async def _get(client, path: str, code: int = 200, **params):
    r = await client.get(path, params=params or None)
    assert r.status_code == code, (path, params, r.status_code, r.text)
    return r.json()


def _slugs(body: dict) -> list[str]:
    return [a["slug"] for a in body["agents"]]


async def test_search_sorting_filters_and_paging(stack, user_ids):
    seed = Seeder(stack)
    alice, bob = user_ids["alice"], user_ids["bob"]
    tag = uuid.uuid4().hex[:6]  # a word only this test's listings hold
    await seed.profile(alice, f"alice{tag}", avatar_url="https://a/img.png")
    async with stack.client(alice) as a, stack.client(bob) as b:
        graphs = [await _graph(a, f"g{i}") for i in range(4)]
        ids = [g["id"] for g in graphs]
        v_poem = await seed.submit(alice, ids[0], f"poem-{tag}", name=f"Poem writer {tag}",
                                   sub_heading="verses", description="Writes haiku", categories=["writing"],
                                   image_urls=["https://img/1.png", "https://img/2.png"])
        v_news = await seed.submit(alice, ids[1], f"news-{tag}", name=f"News digest {tag}",
                                   description=f"Summaries and a poem about {tag}", categories=["research"])
        v_zeta = await seed.submit(alice, ids[2], f"zeta-{tag}", name=f"Aardvark tracker {tag}",
                                   description="Follows animals", categories=["Writing"])
        pending = await seed.submit(alice, ids[3], f"pending-{tag}", name=f"Pending poem {tag}")
        for v in (v_poem, v_news, v_zeta):
            await seed.review(v)
        await seed.feature(ids[1])
        for _ in range(3):
            await seed.run(bob, ids[2])
        await seed.run(alice, ids[2])  # the creator's own runs do not count
        await seed.rate(bob, v_poem, 5)
        await seed.rate(user_ids["carol"], v_poem, 2)
        await seed.rate(bob, v_news, 4)

        listed = await _get(b, "/api/store/agents", creator=f"alice{tag}")
        assert _slugs(listed) == [f"zeta-{tag}", f"news-{tag}", f"poem-{tag}"]  # updated_at desc by default
        assert listed["pagination"] == {"total_items": 3, "total_pages": 1, "current_page": 1, "page_size": 20}
        card = next(x for x in listed["agents"] if x["slug"] == f"poem-{tag}")
        assert card == {"slug": f"poem-{tag}", "agent_name": f"Poem writer {tag}", "agent_image": "https://img/1.png",
                        "creator": f"alice{tag}", "creator_avatar": "https://a/img.png", "sub_heading": "verses",
                        "description": "Writes haiku", "runs": 0, "rating": 3.5, "agent_graph_id": ids[0]}

        async def runs_counted():
            body = await _get(b, "/api/store/agents", creator=f"alice{tag}", sorted_by="runs")
            return body if body["agents"][0]["runs"] == 3 else None

        by_runs = await eventually(runs_counted)
        assert by_runs["agents"][0]["slug"] == f"zeta-{tag}"
        by_rating = await _get(b, "/api/store/agents", creator=f"alice{tag}", sorted_by="rating")
        assert _slugs(by_rating) == [f"news-{tag}", f"poem-{tag}", f"zeta-{tag}"]
        by_name = await _get(b, "/api/store/agents", creator=f"alice{tag}", sorted_by="name")
        assert _slugs(by_name) == [f"zeta-{tag}", f"news-{tag}", f"poem-{tag}"]
        recent = await _get(b, "/api/store/agents", creator=f"alice{tag}", sorted_by="recent")
        assert _slugs(recent) == _slugs(listed) == _slugs(await _get(b, "/api/store/agents", creator=f"alice{tag}",
                                                                      sorted_by="updated_at"))
        assert _slugs(await _get(b, "/api/store/agents", creator=f"alice{tag}", featured=True)) == [f"news-{tag}"]
        assert set(_slugs(await _get(b, "/api/store/agents", creator=f"alice{tag}", category="writing"))) == {
            f"poem-{tag}", f"zeta-{tag}"}

        # full text: the name outranks the description; the pending listing is never found
        found = await _get(b, "/api/store/agents", search_query=f"poem {tag}", sorted_by="name")
        assert _slugs(found) == [f"poem-{tag}", f"news-{tag}"]
        stemmed = await _get(b, "/api/store/agents", search_query=f"summary {tag}")  # "Summaries"
        assert _slugs(stemmed) == [f"news-{tag}"]
        assert _slugs(await _get(b, "/api/store/agents", search_query=f"{tag} -poem")) == [f"zeta-{tag}"]
        unified = await _get(b, "/api/store/search", query=f"poem {tag}")
        assert [r["content_id"] for r in unified["results"]] == [v_poem, v_news]
        top = unified["results"][0]
        assert top["content_type"] == "STORE_AGENT" and top["semantic_score"] is None
        assert top["lexical_score"] == top["combined_score"] > unified["results"][1]["lexical_score"] > 0
        assert unified["pagination"]["total_items"] == 2
        for odd in ["'", '"', "&|!:*()", "\\", "%_", "<->", "a:*", "!!", "'; DROP TABLE rm_store_listings; --",
                    "ünïcödé 漢字", "the", "   ", "x" * 200]:
            assert (await b.get("/api/store/agents", params={"search_query": odd})).status_code == 200, odd
            assert (await b.get("/api/store/search", params={"query": odd})).status_code == 200, odd
        assert (await b.get("/api/store/agents", params={"search_query": "x" * 300})).status_code == 422
        assert (await b.get("/api/store/search", params={"query": "x" * 201})).status_code == 422
        everything = await _get(b, "/api/store/agents", search_query="", page_size=100)
        assert everything["pagination"]["total_items"] >= 3
        assert (await _get(b, "/api/store/search", query=""))["results"] == []

        # paging
        page2 = await _get(b, "/api/store/agents", creator=f"alice{tag}", page=2, page_size=2)
        assert len(page2["agents"]) == 1 and page2["pagination"] == {
            "total_items": 3, "total_pages": 2, "current_page": 2, "page_size": 2}
        beyond = await _get(b, "/api/store/agents", creator=f"alice{tag}", page=9, page_size=2)
        assert beyond["agents"] == [] and beyond["pagination"]["total_items"] == 3
        for params in ({"page": 0}, {"page_size": 0}, {"page_size": 101}, {"sorted_by": "bogus"}):
            for path in ("/api/store/agents", "/api/store/creators", "/api/store/submissions"):
                if "sorted_by" in params and path == "/api/store/submissions":
                    continue
                assert (await b.get(path, params=params)).status_code == 422, (path, params)
        assert (await b.get("/api/store/agents")).status_code == 200
        async with stack.client() as anonymous:
            assert (await anonymous.get("/api/store/agents")).status_code == 401
        assert pending  # recorded, and absent from every answer above


async def test_pending_and_rejected_versions_are_seen_by_their_creator_and_admins_only(stack, user_ids):
    seed = Seeder(stack)
    alice, bob = user_ids["alice"], user_ids["bob"]
    username = f"vis{uuid.uuid4().hex[:6]}"
    await seed.profile(alice, username)
    async with stack.client(alice) as a, stack.client(bob) as b, stack.client(ADMIN, admin=True) as admin:
        graph = await _graph(a, "hidden")
        pending = await seed.submit(alice, graph["id"], "hidden-agent", name="Hidden gem", description="secretive")
        rejected_graph = await _graph(a, "rejected")
        rejected = await seed.submit(alice, rejected_graph["id"], "rejected-agent", name="Rejected gem")
        await seed.review(rejected, approved=False, comments="needs work", internal="spammy")

        def routes(version_id: str, slug: str) -> list[str]:
            return [f"/api/store/listings/versions/{version_id}", f"/api/store/listings/versions/{version_id}/graph",
                    f"/api/store/listings/versions/{version_id}/graph/download",
                    f"/api/store/agents/{username}/{slug}"]

        for version_id, slug in ((pending, "hidden-agent"), (rejected, "rejected-agent")):
            for path in routes(version_id, slug):
                await _get(b, path, 404)
                await _get(a, path)
                await _get(admin, path)
        assert (await _get(b, "/api/store/agents", creator=username))["agents"] == []
        assert (await _get(b, "/api/store/agents", search_query="gem"))["pagination"]["total_items"] == 0 or \
            all(x["creator"] != username for x in (await _get(b, "/api/store/agents", search_query="gem"))["agents"])
        assert all(c["username"] != username for c in (await _get(b, "/api/store/creators", page_size=100))["creators"])
        assert (await _get(b, f"/api/store/creators/{username}"))["num_agents"] == 0
        own = await _get(a, f"/api/store/agents/{username}/hidden-agent")
        assert own["store_listing_version_id"] == pending and own["has_approved_version"] is False
        assert own["active_version_id"] is None and own["versions"] == []
        await _get(b, f"/api/graphs/{graph['id']}", 404)

        # approval makes it public everywhere; a later rejection takes it back out
        await seed.review(pending)
        for path in routes(pending, "hidden-agent"):
            await _get(b, path)
        assert _slugs(await _get(b, "/api/store/agents", creator=username)) == ["hidden-agent"]
        await seed.review(pending, approved=False)
        for path in routes(pending, "hidden-agent"):
            await _get(b, path, 404)
        assert (await _get(b, "/api/store/agents", creator=username))["agents"] == []

        # a withdrawn version: gone for everybody else
        again = await seed.submit(alice, graph["id"], "hidden-agent", name="Hidden gem 2")
        await seed.withdraw(again)
        await _get(b, f"/api/store/listings/versions/{again}", 404)
        await _get(a, f"/api/store/listings/versions/{again}")


async def test_details_versions_changelog_graph_and_download(stack, user_ids):
    seed = Seeder(stack)
    alice, bob = user_ids["alice"], user_ids["bob"]
    username = f"det{uuid.uuid4().hex[:6]}"
    await seed.profile(alice, username, avatar_url="https://x/a.png")
    async with stack.client(alice) as a, stack.client(bob) as b:
        graph = await _graph(a, "versions", "the description")
        r = await a.put(f"/api/graphs/{graph['id']}", json={**secret_graph("versions v2"), "id": graph["id"]})
        assert r.status_code == 200, r.text
        first = await seed.submit(alice, graph["id"], "multi", name="Multi", changes_summary="first",
                                  video_url="https://v", categories=["a", "b"], instructions="do it",
                                  recommended_schedule_cron="0 * * * *")
        await seed.review(first)
        second = await seed.submit(alice, graph["id"], "multi", graph_version=2, name="Multi 2")
        pending = await seed.submit(alice, graph["id"], "multi", graph_version=2, name="Multi 3 pending")
        await seed.review(second)

        details = await _get(b, f"/api/store/agents/{username.upper()}/MULTI", include_changelog=True)
        assert details["store_listing_version_id"] == second and details["agent_name"] == "Multi 2"
        assert details["versions"] == ["1", "2"] and details["graph_versions"] == ["1", "2"]
        assert details["active_version_id"] == second and details["has_approved_version"] is True
        assert details["creator"] == username and details["creator_avatar"] == "https://x/a.png"
        assert [c["version"] for c in details["changelog"]] == ["2", "1"]
        assert [c["changes_summary"] for c in details["changelog"]] == ["No changes recorded", "first"]
        assert (await _get(b, f"/api/store/agents/{username}/multi"))["changelog"] is None
        old = await _get(b, f"/api/store/listings/versions/{first}")
        assert (old["store_listing_version_id"], old["agent_video"]) == (first, "https://v")
        assert old["categories"] == ["a", "b"]
        assert (old["instructions"], old["recommended_schedule_cron"]) == ("do it", "0 * * * *")
        await _get(b, f"/api/store/listings/versions/{pending}", 404)
        await _get(b, f"/api/store/listings/versions/{uuid.uuid4()}", 404)
        await _get(b, "/api/store/listings/versions/not-a-uuid", 400)
        await _get(b, f"/api/store/agents/{username}/nothing", 404)

        meta = await _get(b, f"/api/store/listings/versions/{first}/graph")
        assert (meta["id"], meta["version"], meta["name"]) == (graph["id"], 1, "versions")
        assert "nodes" not in meta and meta["is_active"] is False
        r = await b.get(f"/api/store/listings/versions/{first}/graph/download")
        assert r.status_code == 200 and f"agent_{graph['id']}_v1.json" in r.headers["content-disposition"]
        download = r.json()
        assert download["marketplace_name"] == "Multi" and download["marketplace_categories"] == ["a", "b"]
        assert _pw(download["graph_data"]) == {"name": "pw", "secret": True}  # the secret is stripped
        imported = await b.post("/api/graphs", json={"graph": download["graph_data"]})
        assert imported.status_code == 200, imported.text
        assert imported.json()["id"] != graph["id"] and len(imported.json()["nodes"]) == len(graph["nodes"])


async def test_creators_profile_submissions_and_unpublished(stack, user_ids):
    seed = Seeder(stack)
    alice, bob, carol = user_ids["alice"], user_ids["bob"], user_ids["carol"]
    tag = uuid.uuid4().hex[:6]
    async with stack.client(alice) as a, stack.client(bob) as b, stack.client(carol) as c:
        await _get(a, "/api/store/profile", 404)
        await seed.profile(alice, f"ann{tag}", name="Ann 100%", description="makes bots", links=["https://ann"])
        await seed.profile(bob, f"ben{tag}", name="Ben")
        profile = await _get(a, "/api/store/profile")
        assert profile == {"username": f"ann{tag}", "name": "Ann 100%", "description": "makes bots",
                           "avatar_url": None, "links": ["https://ann"], "is_featured": False}
        graphs = [await _graph(a, f"a{i}") for i in range(3)]
        bens = await _graph(b, "b0")
        kept = await _graph(a, "unsubmitted")
        v1 = await seed.submit(alice, graphs[0]["id"], f"one-{tag}", categories=["x", "y"])
        v2 = await seed.submit(alice, graphs[1]["id"], f"two-{tag}", categories=["x"])
        v3 = await seed.submit(alice, graphs[2]["id"], f"three-{tag}")
        gone = await seed.submit(alice, graphs[2]["id"], f"three-{tag}")
        await seed.withdraw(v3)
        vb = await seed.submit(bob, bens["id"], f"bens-{tag}")
        for v in (v1, v2, vb):
            await seed.review(v, comments="ok", internal="internal note")
        await seed.rate(carol, v1, 4)
        await seed.rate(bob, v1, 2)
        await seed.rate(bob, v2, 5)
        await seed.rate(bob, v2, 3)  # the second score replaces the first
        for _ in range(2):
            await seed.run(carol, graphs[0]["id"])
        await seed.run(bob, bens["id"], dry=True)  # a dry run does not count

        async def listed():
            body = await _get(c, "/api/store/creators", search_query=tag, sorted_by="agent_runs")
            return body if body["creators"] and body["creators"][0]["agent_runs"] == 2 else None

        creators = await eventually(listed)
        assert [x["username"] for x in creators["creators"]] == [f"ann{tag}", f"ben{tag}"]
        ann = creators["creators"][0]
        assert (ann["num_agents"], ann["agent_rating"], ann["top_categories"]) == (2, 3.0, ["x", "y"])
        assert await _get(c, f"/api/store/creators/ANN{tag}") == ann
        await _get(c, f"/api/store/creators/nobody{tag}", 404)
        by_count = await _get(c, "/api/store/creators", search_query=tag, sorted_by="num_agents")
        assert [x["username"] for x in by_count["creators"]] == [f"ann{tag}", f"ben{tag}"]
        assert [x["username"] for x in (await _get(c, "/api/store/creators", search_query="100%"))["creators"]] == [
            f"ann{tag}"]  # % is literal, not a wildcard
        assert (await _get(c, "/api/store/creators", search_query=f"%{tag}"))["creators"] == []
        assert (await _get(c, "/api/store/creators", search_query="_" * 5))["creators"] == []
        beyond = await _get(c, "/api/store/creators", search_query=tag, page=9, page_size=1)
        assert beyond["creators"] == [] and beyond["pagination"]["total_items"] == 2  # counted past the end

        mine = await _get(a, "/api/store/submissions")
        assert [s["listing_version_id"] for s in mine["submissions"]] == [gone, v2, v1]
        assert mine["pagination"]["total_items"] == 3
        assert mine["stats"] == {"total": 3, "approved": 2, "pending": 1, "total_runs": 2, "average_rating": 3.0}
        s1 = mine["submissions"][2]
        assert (s1["status"], s1["review_comments"], s1["run_count"], s1["review_count"], s1["review_avg_rating"]) == (
            "APPROVED", "ok", 2, 2, 3.0)
        assert "internal_comments" not in s1 and s1["categories"] == ["x", "y"] and s1["slug"] == f"one-{tag}"
        second_page = await _get(a, "/api/store/submissions", page=2, page_size=2)
        assert [s["listing_version_id"] for s in second_page["submissions"]] == [v1]
        assert (await _get(c, "/api/store/submissions"))["stats"]["total"] == 0

        unpublished = await _get(a, "/api/store/my-unpublished-agents")
        assert [x["graph_id"] for x in unpublished["agents"]] == [kept["id"]]
        assert (unpublished["agents"][0]["agent_name"], unpublished["agents"][0]["graph_version"]) == ("unsubmitted", 1)
        await seed.withdraw(gone)  # nothing of graph 3 left in the store
        assert {x["graph_id"] for x in (await _get(a, "/api/store/my-unpublished-agents"))["agents"]} == {
            kept["id"], graphs[2]["id"]}
        beyond = await _get(a, "/api/store/my-unpublished-agents", page=9, page_size=1)
        assert beyond["agents"] == [] and beyond["pagination"]["total_items"] == 2


async def test_admin_routes(stack, user_ids):
    seed = Seeder(stack)
    alice, bob = user_ids["alice"], user_ids["bob"]
    tag = uuid.uuid4().hex[:6]
    await seed.profile(alice, f"adm{tag}")
    async with stack.client(alice) as a, stack.client(bob) as b, stack.client(ADMIN, admin=True) as admin:
        g1, g2 = await _graph(a, "one"), await _graph(a, "two")
        approved = await seed.submit(alice, g1["id"], f"first-{tag}", description=f"alpha {tag}")
        await seed.review(approved, comments="fine", internal="checked")
        newer = await seed.submit(alice, g1["id"], f"first-{tag}", description=f"beta {tag}")
        rejected = await seed.submit(alice, g2["id"], f"second-{tag}", sub_heading=f"gamma {tag}")
        await seed.review(rejected, approved=False, comments="no", internal="bad")

        for path in ("/api/store/admin/listings", f"/api/store/admin/submissions/download/{rejected}"):
            await _get(b, path, 403)
            await _get(a, path, 403)
        listings = await _get(admin, "/api/store/admin/listings", search=tag)
        assert [x["slug"] for x in listings["listings"]] == [f"second-{tag}", f"first-{tag}"]
        first = listings["listings"][1]
        assert first["active_listing_version_id"] == approved and first["has_approved_version"] is True
        assert [v["listing_version_id"] for v in first["versions"]] == [newer, approved]
        assert first["latest_version"]["listing_version_id"] == newer and first["creator_email"] is None
        assert first["versions"][1]["internal_comments"] == "checked"
        assert first["versions"][1]["review_comments"] == "fine"
        pending_only = await _get(admin, "/api/store/admin/listings", search=tag, status="PENDING")
        assert [x["slug"] for x in pending_only["listings"]] == [f"first-{tag}"]
        assert [x["slug"] for x in (await _get(admin, "/api/store/admin/listings", search=f"gamma {tag}"))[
            "listings"]] == [f"second-{tag}"]
        assert (await admin.get("/api/store/admin/listings", params={"status": "BOGUS"})).status_code == 422
        download = await _get(admin, f"/api/store/admin/submissions/download/{rejected}")
        assert download["graph_data"]["id"] == g2["id"]
        await _get(admin, f"/api/store/admin/submissions/download/{uuid.uuid4()}", 404)


async def test_published_graph_versions_are_readable_by_other_users(stack, user_ids):
    seed = Seeder(stack)
    alice, bob = user_ids["alice"], user_ids["bob"]
    async with stack.client(alice) as a, stack.client(bob) as b:
        graph = await _graph(a, "shared")
        for name in ("shared v2", "shared v3"):
            r = await a.put(f"/api/graphs/{graph['id']}", json={**secret_graph(name), "id": graph["id"]})
            assert r.status_code == 200, r.text
        gid = graph["id"]
        for path in (f"/api/graphs/{gid}", f"/api/graphs/{gid}?version=1", f"/api/graphs/{gid}/versions/1"):
            await _get(b, path, 404)
        v1 = await seed.submit(alice, gid, "shared", graph_version=1)
        await seed.review(v1)
        v2 = await seed.submit(alice, gid, "shared", graph_version=2)
        await seed.review(v2)
        await seed.submit(alice, gid, "shared", graph_version=3)  # pending: not published

        for path in (f"/api/graphs/{gid}?version=1", f"/api/graphs/{gid}/versions/1"):
            got = await _get(b, path)
            assert got["version"] == 1 and got["name"] == "shared"
            assert _pw(got) == {"name": "pw", "secret": True}
        assert (await _get(b, f"/api/graphs/{gid}"))["version"] == 2  # the highest published, not the newest
        await _get(b, f"/api/graphs/{gid}?version=3", 404)
        await _get(b, f"/api/graphs/{gid}/versions/3", 404)
        await _get(b, f"/api/graphs/{gid}/versions", 404)
        own = await _get(a, f"/api/graphs/{gid}")
        assert (own["version"], own["name"], _pw(own).get("value")) == (3, "shared v3", "hunter2")

        await seed.review(v2, approved=False)  # unpublished: back to version 1
        await _get(b, f"/api/graphs/{gid}?version=2", 404)
        assert (await _get(b, f"/api/graphs/{gid}"))["version"] == 1


async def test_external_api_store_reads_need_read_store(stack, user_ids):
    from tests.integration.test_api_keys import external, new_key

    seed = Seeder(stack)
    alice, bob = user_ids["alice"], user_ids["bob"]
    username = f"ext{uuid.uuid4().hex[:6]}"
    await seed.profile(alice, username)
    async with stack.client(alice) as a, stack.client(bob) as b:
        graph = await _graph(a, "external")
        version = await seed.submit(alice, graph["id"], "ext-agent", name=f"External {username}")
        hidden = await _graph(a, "hidden")
        await seed.submit(alice, hidden["id"], "hidden-ext", name=f"Hidden {username}")
        await seed.review(version)
        internal = await _get(b, "/api/store/agents", creator=username)  # fenced: the read models hold it now
        _, key = await new_key(b, ["READ_STORE"])
        _, other = await new_key(b, ["READ_GRAPH"])
        async with external(stack, key) as ext, external(stack, other) as wrong, external(stack, None) as none:
            paths = ["/external-api/v1/store/agents", f"/external-api/v1/store/agents/{username}/ext-agent",
                     "/external-api/v1/store/creators", f"/external-api/v1/store/creators/{username}"]
            for path in paths:
                assert (await wrong.get(path)).status_code == 403, path
                assert (await none.get(path)).status_code == 401, path
            assert await _get(ext, paths[0], creator=username) == internal
            assert await _get(ext, paths[0], search_query=f"external {username}") == internal
            assert await _get(ext, paths[1]) == await _get(b, f"/api/store/agents/{username}/ext-agent")
            creators = await _get(ext, paths[2], search_query=username)
            assert [c["username"] for c in creators["creators"]] == [username]
            assert await _get(ext, paths[3]) == await _get(b, f"/api/store/creators/{username}")
            await _get(ext, f"/external-api/v1/store/agents/{username}/hidden-ext", 404)
            await _get(ext, f"/external-api/v1/store/creators/nobody-{username}", 404)
            assert (await ext.get(paths[0], params={"page_size": 101})).status_code == 422
            assert (await ext.get(paths[0], params={"search_query": "x" * 201})).status_code == 422


STORE_TABLES = {"rm_store_profiles": "user_id", "rm_store_listings": "listing_id",
                "rm_store_listing_versions": "listing_version_id", "rm_store_reviews": "user_id, listing_version_id",
                "rm_store_publications": "graph_id, graph_version, listing_version_id",
                "rm_store_graph_runs": "graph_id, user_id"}


async def test_store_read_models_rebuild_identically(stack, user_ids):
    """Runs recorded before their listing, reviews before their version's approval, and everything
    the tests above recorded: a rebuild (executions log first, then the store's) gives the same rows."""
    from services.infra import db
    from services.projector.rebuild import rebuild

    seed = Seeder(stack)
    alice, bob = user_ids["alice"], user_ids["bob"]
    username = f"reb{uuid.uuid4().hex[:6]}"
    async with stack.client(alice) as a, stack.client(bob) as b:
        graph = await _graph(a, "rebuilt")
        await seed.run(bob, graph["id"])  # before the listing exists
        version = str(uuid.uuid4())
        seed.listings[version] = (graph["id"], 1)
        await seed.rate(bob, version, 4)  # before the version exists
        await seed.profile(alice, username)
        assert await seed.submit(alice, graph["id"], "rebuilt") != version
        real = next(v for v, (g, _) in seed.listings.items() if g == graph["id"] and v != version)
        await seed.rate(bob, real, 2)
        await seed.review(real)
        card = await eventually(lambda: _agents(b, username))
        assert (card["runs"], card["rating"]) == (1, 2.0)

    def snapshot() -> dict[str, list]:
        with db.connect(stack.settings) as conn:
            return {t: conn.execute(f"SELECT * FROM {t} ORDER BY {o}").fetchall()
                    for t, o in STORE_TABLES.items()}

    before = await asyncio.to_thread(snapshot)
    counts = await rebuild(stack.settings)
    assert counts["store"] > 0 and counts["executions"] > 0
    after = await asyncio.to_thread(snapshot)
    for table in STORE_TABLES:
        assert after[table] == before[table], table


async def _agents(client, username: str):
    agents = (await _get(client, "/api/store/agents", creator=username))["agents"]
    return agents[0] if agents and agents[0]["runs"] == 1 else None
