"""Stories of ``StoreCommands``: profiles and unique usernames, submissions (one listing per graph,
slugs unique per creator, pending versions superseded), the admin's review publishing exactly one
graph version, reviews, and a store agent added to a library and run by another user."""

from __future__ import annotations

import uuid

import pytest

from schemas.events.graphs import GraphCreated, GraphVersionCreated
from schemas.graph import StoredNode
from services.command_api.application.executions import ExecutionCommands
from services.command_api.application.folders import FolderCommands
from services.command_api.application.graphs import GraphCommands
from services.command_api.application.library import LibraryCommands
from services.command_api.application.store import StoreCommands
from services.domain.errors import ConflictError, InvalidCommand, NotFoundError, PreconditionRequired
from services.domain.graphs.rules import AGENT_EXECUTOR_BLOCK_ID
from services.domain.library.ids import library_agent_id
from services.domain.store.ids import listing_id, profile_id, publication_id, slug_id, username_id
from services.infra.publications import Publications
from tests.stories.builders import graph_body
from tests.stories.fakes import RacingWriter
from tests.stories.world import expect

FIELDS = {"name": "Writer", "sub_heading": "writes", "description": "it writes", "categories": ["text"]}


class Parts:
    def __init__(self, world, store=None) -> None:
        self.graphs = GraphCommands(world.store("graphs"), publications=Publications(world.store("store")))
        library = LibraryCommands(world.store("library"), self.graphs, FolderCommands(world.store("library")))
        self.store = StoreCommands(store or world.store("store"), self.graphs, library)
        self.executions = ExecutionCommands(world.store("executions"), self.graphs)


def _graph(world, owner, versions: int = 1) -> uuid.UUID:
    gid = uuid.uuid4()
    world.given(gid, GraphCreated(user_id=owner.id, graph=graph_body(gid)),
                *[GraphVersionCreated(graph=graph_body(gid, v), is_active=True) for v in range(2, versions + 1)],
                user_id=owner.id)
    return gid


def _creator(parts: Parts, user, username: str) -> None:
    parts.store.save_profile(user, username=username, name=username.title(), description="", links=None,
                             avatar_url=None)


def _submit(parts: Parts, user, gid, version=1, slug="writer"):
    return parts.store.submit(user, graph_id=str(gid), graph_version=version, slug=slug, fields=FIELDS)


class StoreStories:
    def test_a_profile_claims_its_username_and_a_change_releases_the_old_one(self, world):
        alice, bob, parts = world.user("alice"), world.user("bob"), Parts(world)
        name = f"al-{alice.id[-8:]}"
        world.when(lambda: _creator(parts, alice, name))
        world.then(expect("ProfileSaved", profile_id(alice.id), username=name),
                   expect("UsernameClaimed", username_id(name), user_id=alice.id))
        world.refused(ConflictError, lambda: _creator(parts, bob, name.upper()), match="already taken")
        world.when(lambda: parts.store.save_profile(alice, username=name + "x", name=None, description=None,
                                                    links=None, avatar_url=None))
        world.then(expect("ProfileSaved", username=name + "x"), expect("UsernameClaimed", username_id(name + "x")),
                   expect("UsernameReleased", username_id(name), user_id=alice.id))
        world.when(lambda: _creator(parts, bob, name))  # free again
        world.then(expect("ProfileSaved", user_id=bob.id), expect("UsernameClaimed", user_id=bob.id))

    def test_two_users_racing_for_one_username_cannot_both_win(self, world):
        alice, bob = world.user("alice"), world.user("bob")
        name = f"race-{alice.id[-8:]}"
        store = world.store("store")
        rival = Parts(world)
        racing = Parts(world, RacingWriter(store, lambda: _creator(rival, bob, name)))
        with pytest.raises(ConflictError):
            world.when(lambda: _creator(racing, alice, name))
        world.then(expect("ProfileSaved", user_id=bob.id), expect("UsernameClaimed", user_id=bob.id))

    def test_a_submission_needs_a_profile_and_the_callers_own_graph(self, world):
        alice, bob, parts = world.user("alice"), world.user("bob"), Parts(world)
        gid = _graph(world, alice)
        world.refused(PreconditionRequired, lambda: _submit(parts, alice, gid))
        _creator(parts, bob, f"bob-{bob.id[-8:]}")
        world.refused(NotFoundError, lambda: _submit(parts, bob, gid))
        _creator(parts, alice, f"al-{alice.id[-8:]}")
        (listing, version_id) = world.when(lambda: _submit(parts, alice, gid))
        world.then(expect("ListingVersionSubmitted", listing_id(str(gid)), slug="writer", version=1, name="Writer"),
                   expect("ListingVersionIndexed", uuid.UUID(version_id), listing_id=str(listing_id(str(gid)))),
                   expect("ListingSlugClaimed", slug_id(alice.id, "writer")))
        assert listing.versions[version_id].status == "PENDING"

    def test_slugs_are_unique_per_creator_and_a_new_submission_supersedes_the_pending_one(self, world):
        alice, parts = world.user("alice"), Parts(world)
        _creator(parts, alice, f"al-{alice.id[-8:]}")
        first, second = _graph(world, alice, versions=2), _graph(world, alice)
        _, pending = _submit(parts, alice, first)
        world.refused(ConflictError, lambda: _submit(parts, alice, second, slug="writer"), match="slug")
        (listing, newer) = world.when(lambda: _submit(parts, alice, first, version=2, slug="ignored"))
        world.then(expect("ListingVersionWithdrawn", listing_id(str(first)), listing_version_id=pending),
                   expect("ListingVersionSubmitted", slug="writer", version=2, graph_version=2),
                   expect("ListingVersionIndexed", uuid.UUID(newer)))
        assert [v.id for v in listing.live] == [newer]

    def test_approval_publishes_exactly_that_graph_version_for_others(self, world):
        alice, bob, admin, parts = world.user("alice"), world.user("bob"), world.user("admin"), Parts(world)
        _creator(parts, alice, f"al-{alice.id[-8:]}")
        gid = _graph(world, alice, versions=2)
        _, version_id = _submit(parts, alice, gid, version=1)
        world.refused(NotFoundError, lambda: parts.executions.execute(bob, str(gid), 1, {}, {}))
        world.when(lambda: parts.store.review(admin, version_id, approved=True, comments="ok", internal_comments="x"))
        world.then(expect("ListingVersionReviewed", approved=True, reviewer_id=admin.id, comments="ok"),
                   expect("GraphVersionPublished", publication_id(str(gid), 1), listing_version_id=version_id))
        run = world.when(lambda: parts.executions.execute(bob, str(gid), 1, {"x": 1}, {}))
        world.then(expect("ExecutionQueued", uuid.UUID(run["id"]), user_id=bob.id, graph_version=1))
        world.refused(NotFoundError, lambda: parts.executions.execute(bob, str(gid), 2, {}, {}))  # not published
        world.refused(ConflictError, lambda: parts.store.review(admin, version_id, approved=True, comments="",
                                                                internal_comments=""))
        world.when(lambda: parts.store.review(admin, version_id, approved=False, comments="no", internal_comments=""))
        world.then(expect("ListingVersionReviewed", approved=False),
                   expect("GraphVersionUnpublished", publication_id(str(gid), 1), listing_version_id=version_id))
        world.refused(NotFoundError, lambda: parts.executions.execute(bob, str(gid), 1, {}, {}))

    def test_only_pending_versions_are_edited_and_approved_ones_are_not_deleted(self, world):
        alice, bob, admin, parts = world.user("alice"), world.user("bob"), world.user("admin"), Parts(world)
        _creator(parts, alice, f"al-{alice.id[-8:]}")
        gid = _graph(world, alice)
        _, version_id = _submit(parts, alice, gid)
        world.refused(NotFoundError, lambda: parts.store.edit(bob, version_id, {"name": "mine"}))
        world.when(lambda: parts.store.edit(alice, version_id, {"name": "Better"}))
        world.then(expect("ListingVersionEdited", listing_version_id=version_id, name="Better", sub_heading="writes"))
        parts.store.review(admin, version_id, approved=True, comments="", internal_comments="")
        world.refused(ConflictError, lambda: parts.store.edit(alice, version_id, {"name": "x"}), match="pending")
        world.refused(ConflictError, lambda: parts.store.withdraw(alice, version_id), match="approved")
        world.refused(NotFoundError, lambda: parts.store.withdraw(bob, version_id))

    def test_users_review_approved_versions_once_each_and_add_them_to_their_library(self, world):
        alice, bob, admin, parts = world.user("alice"), world.user("bob"), world.user("admin"), Parts(world)
        username = f"al-{alice.id[-8:]}"
        _creator(parts, alice, username)
        gid = _graph(world, alice)
        _, version_id = _submit(parts, alice, gid)
        world.refused(NotFoundError, lambda: parts.store.add_to_library(bob, version_id))  # still pending
        world.refused(NotFoundError, lambda: parts.store.submit_review(
            bob, username=username, slug="writer", listing_version_id=version_id, score=5, comments=None))
        parts.store.review(admin, version_id, approved=True, comments="", internal_comments="")
        world.when(lambda: parts.store.submit_review(bob, username=username, slug="writer",
                                                      listing_version_id=version_id, score=4, comments="good"))
        world.then(expect("StoreReviewSubmitted", user_id=bob.id, score=4))
        world.when(lambda: parts.store.submit_review(bob, username=username, slug="writer",
                                                      listing_version_id=version_id, score=2, comments=None))
        world.then(expect("StoreReviewSubmitted", user_id=bob.id, score=2))
        world.refused(NotFoundError, lambda: parts.store.submit_review(
            bob, username=username, slug="other", listing_version_id=version_id, score=5, comments=None))

        entry = world.when(lambda: parts.store.add_to_library(bob, version_id))
        world.then(expect("LibraryAgentAdded", library_agent_id(bob.id, gid), graph_version=1,
                          store_listing_version_id=version_id))
        assert (entry["graph_id"], entry["graph_version"], entry["can_access_graph"]) == (str(gid), 1, False)
        world.when(lambda: parts.store.add_to_library(bob, version_id))
        world.then()  # already there
        own = world.when(lambda: parts.store.add_to_library(alice, version_id))
        world.then()  # the creator's own graph is in their library already
        assert own["can_access_graph"] is True
        library = parts.store.library
        world.refused(InvalidCommand, lambda: library.update(bob, entry["id"], auto_update_version=True))

    def test_approval_also_publishes_the_creators_sub_agents_and_nothing_of_anyone_else(self, world):
        alice, bob, admin, parts = world.user("alice"), world.user("bob"), world.user("admin"), Parts(world)
        _creator(parts, alice, f"al-{alice.id[-8:]}")
        child, foreign = _graph(world, alice), _graph(world, bob)
        parent = uuid.uuid4()
        body = graph_body(parent).model_copy(update={"nodes": [*graph_body(parent).nodes, *[
            StoredNode(id=f"agent-{i}", block_id=AGENT_EXECUTOR_BLOCK_ID,
                       input_default={"graph_id": str(target), "graph_version": 1})
            for i, target in enumerate((child, foreign))]]})
        world.given(parent, GraphCreated(user_id=alice.id, graph=body), user_id=alice.id)
        _, version_id = _submit(parts, alice, parent)
        world.when(lambda: parts.store.review(admin, version_id, approved=True, comments="", internal_comments=""))
        world.then(expect("ListingVersionReviewed", approved=True),
                   expect("GraphVersionPublished", publication_id(str(parent), 1)),
                   expect("GraphVersionPublished", publication_id(str(child), 1), listing_version_id=version_id))
        assert parts.graphs.version_for_run(bob, str(child), 1).id == str(child)  # the sub-agent runs for bob
