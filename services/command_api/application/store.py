"""Store commands: a creator's profile (with its unique username), submissions and their edits and
withdrawals, the admin's review and featured flag, users' reviews, and adding a store agent to a
library.

Every uniqueness rule is a stream's optimistic concurrency: a username is a stream, a listing is the
stream named by its creator and slug, one review per user and listing version is a stream. A command
that touches several streams (a username change claims one and releases another; an approval records
the review and publishes the graph version) appends to all of them in one atomic append, at the
versions it loaded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from schemas.events.base import Event
from schemas.events.store import ListingSlugClaimed, ListingVersionIndexed, StoreReviewSubmitted, SubmissionStatus
from services.command_api.application.graphs import GraphCommands
from services.command_api.application.library import LibraryCommands
from services.domain.errors import ConflictError, InvalidCommand, NotFoundError, PreconditionRequired
from services.domain.graphs.recursion import agent_targets
from services.domain.library.ids import library_agent_id
from services.domain.store.creators import Profile, Username
from services.domain.store.ids import listing_id, profile_id, publication_id, review_id, slug_id, username_id
from services.domain.store.listing import Listing
from services.domain.store.publication import Publication
from services.infra.appending import decide_and_append
from services.infra.auth import User
from services.infra.eventstore import EventStore
from services.infra.publications import Publications
from services.infra.store_contract import NewEvent

Appends = list[tuple[uuid.UUID, int, list[Event]]]  # (stream, version loaded, events)
MAX_PUBLISHED_WITH = 50  # graph versions one approval publishes (the agent and its sub-agents)


class StoreCommands:
    def __init__(self, store: EventStore, graphs: GraphCommands, library: LibraryCommands) -> None:
        self.store = store
        self.graphs = graphs
        self.library = library
        # called with (owner id, graph id, version) when a version stops being published, so what
        # other users set up to run it ends with the decision (their schedules)
        self.after_unpublish: list[Callable[[str, str, int], None]] = []

    # -- loading ------------------------------------------------------------------------------

    def _events(self, stream: uuid.UUID) -> list:
        return [(e.decode(), e.occurred_at) for e in self.store.read_stream(stream)]

    def profile(self, user_id: str) -> Profile:
        return Profile.from_events(user_id, self._events(profile_id(user_id)))

    def username(self, name: str) -> Username:
        return Username.from_events(name, [e for e, _ in self._events(username_id(name))])

    def listing(self, listing_stream: uuid.UUID) -> Listing:
        return Listing.from_events(str(listing_stream), self._events(listing_stream))

    def publication(self, graph_id: str, graph_version: int) -> Publication:
        return Publications(self.store).load(graph_id, graph_version)

    def listing_of_version(self, listing_version_id: str) -> Listing:
        """The listing a version id belongs to (its index entry), or 404."""
        try:
            stream = uuid.UUID(listing_version_id)
        except ValueError:
            raise NotFoundError(f"Store listing version #{listing_version_id} not found") from None
        index = self.store.read_stream(stream)
        if not index:
            raise NotFoundError(f"Store listing version #{listing_version_id} not found")
        return self.listing(uuid.UUID(index[0].decode().listing_id))

    def _append(self, appends: Appends, user_id: str) -> None:
        new = [NewEvent(stream, loaded + i + 1, event, user_id=user_id)
               for stream, loaded, events in appends for i, event in enumerate(events)]
        if new:
            self.store.append(new)

    # -- profiles -----------------------------------------------------------------------------

    def save_profile(self, user: User, *, username: str | None, name: str | None, description: str | None,
                     links: list[str] | None, avatar_url: str | None) -> Profile:
        """Create or change the caller's profile; a new username is claimed (409 if taken) and the
        old one released in the same append."""
        def record(profile: Profile) -> Profile:
            if not profile.exists and (not username or not name):
                raise InvalidCommand("A new store profile needs a username and a name")
            events = profile.save(username=username, name=name, description=description, links=links,
                                  avatar_url=avatar_url)
            appends: Appends = [(profile_id(user.id), profile.stream_version, events)]
            if username and (profile.username or "").lower() != username.lower():
                wanted = self.username(username)
                appends.append((username_id(username), wanted.stream_version, wanted.claim(user.id)))
                if profile.username:
                    old = self.username(profile.username)
                    appends.append((username_id(profile.username), old.stream_version, old.release(user.id)))
            self._append(appends, user.id)
            for event in events:
                profile.apply(event)
            return profile

        return decide_and_append(lambda: self.profile(user.id), record)

    def creator(self, username: str) -> Profile:
        """The profile holding ``username``, or 404."""
        holder = self.username(username).holder
        profile = self.profile(holder) if holder else None
        if profile is None or not profile.exists:
            raise NotFoundError(f"Creator {username!r} not found")
        return profile

    # -- submissions --------------------------------------------------------------------------

    def submit(self, user: User, *, graph_id: str, graph_version: int, slug: str,
               fields: dict[str, Any]) -> tuple[Listing, str]:
        """A version of one of the caller's graphs, PENDING; the listing and the new version id.
        The graph's first submission claims ``slug`` among the creator's slugs (409 if taken)."""
        self.graphs.load(graph_id).version(user.id, graph_version)  # 404 unless the caller owns it
        if not self.profile(user.id).exists:
            raise PreconditionRequired("Create your store profile first (POST /api/store/profile)")
        stream = listing_id(graph_id)

        def record(listing: Listing) -> tuple[Listing, str]:
            events = listing.submit(user.id, slug, graph_id, graph_version, fields)
            version_id = events[-1].listing_version_id
            appends: Appends = [(stream, listing.stream_version, events), (uuid.UUID(version_id), 0, [
                ListingVersionIndexed(listing_id=str(stream), user_id=user.id)])]
            if not listing.exists:
                claimed = slug_id(user.id, slug)
                if self.store.stream_version(claimed):
                    raise ConflictError(f"The slug {slug!r} is taken by another of your agents")
                appends.append((claimed, 0, [ListingSlugClaimed(listing_id=str(stream), user_id=user.id)]))
            self._append(appends, user.id)
            for event in events:
                listing.apply(event)
            return listing, version_id

        return decide_and_append(lambda: self.listing(stream), record)

    def listing_by_slug(self, username: str, slug: str) -> Listing:
        """The listing a creator's slug names, or 404."""
        creator = self.creator(username)
        claim = self.store.read_stream(slug_id(creator.user_id, slug))
        if not claim:
            raise NotFoundError(f"Store agent {username}/{slug} not found")
        return self.listing(uuid.UUID(claim[0].decode().listing_id))

    def _on_version(self, listing_version_id: str, decide: Callable[[Listing], Appends], user_id: str) -> Listing:
        def record(listing: Listing) -> Listing:
            appends = decide(listing)
            self._append(appends, user_id)
            for stream, _, events in appends:
                if str(stream) == listing.listing_id:
                    for event in events:
                        listing.apply(event)
            return listing

        return decide_and_append(lambda: self.listing_of_version(listing_version_id), record)

    def edit(self, user: User, listing_version_id: str, fields: dict[str, Any]) -> Listing:
        return self._on_version(listing_version_id, lambda listing: [
            (uuid.UUID(listing.listing_id), listing.stream_version, listing.edit(user.id, listing_version_id, fields))],
            user.id)

    def withdraw(self, user: User, listing_version_id: str) -> Listing:
        """The creator deletes a submission that is not approved."""
        return self._on_version(listing_version_id, lambda listing: [
            (uuid.UUID(listing.listing_id), listing.stream_version, listing.withdraw(user.id, listing_version_id))],
            user.id)

    def review(self, admin: User, listing_version_id: str, *, approved: bool, comments: str,
               internal_comments: str) -> Listing:
        """An admin's decision: approval publishes that exact graph version, and the versions of the
        creator's graphs it runs as sub-agents (AutoGPT approves sub-agents with their parent), so a
        user can run the whole agent; rejecting an approved version stops publishing them."""
        def decide(listing: Listing) -> Appends:
            version = listing.version(listing_version_id)
            appends: Appends = [(uuid.UUID(listing.listing_id), listing.stream_version, listing.review(
                listing_version_id, approved, admin.id, comments, internal_comments))]
            for graph_id, graph_version in self._published_with(listing.user_id or "", version.graph_id,
                                                                version.graph_version):
                publication = self.publication(graph_id, graph_version)
                changed = publication.publish(listing_version_id) if approved \
                    else publication.unpublish(listing_version_id)
                appends.append((publication_id(graph_id, graph_version), publication.stream_version, changed))
            return appends

        listing = self._on_version(listing_version_id, decide, admin.id)
        if not approved and self.after_unpublish:
            version = listing.version(listing_version_id)
            for graph_id, graph_version in self._published_with(listing.user_id or "", version.graph_id,
                                                                version.graph_version):
                if not self.publication(graph_id, graph_version).published:
                    for hook in self.after_unpublish:
                        hook(listing.user_id or "", graph_id, graph_version)
        return listing

    def _published_with(self, owner_id: str, graph_id: str, graph_version: int) -> list[tuple[str, int]]:
        """The graph version and, breadth first, the creator's graph versions its AgentExecutor nodes
        name (bounded; a reference to someone else's graph is not the creator's to publish)."""
        found, queue = [], [(graph_id, graph_version)]
        while queue and len(found) < MAX_PUBLISHED_WITH:
            key = queue.pop(0)
            if key in found:
                continue
            graph = self.graphs.load(key[0])
            if not graph.exists or graph.user_id != owner_id or key[1] not in graph.versions:
                continue
            found.append(key)
            queue.extend(target for _, target in agent_targets(graph.versions[key[1]]))
        return found

    def set_featured(self, admin: User, listing_stream_id: str, featured: bool) -> Listing:
        stream = uuid.UUID(listing_stream_id)

        def record(listing: Listing) -> Listing:
            events = listing.set_featured(featured, admin.id)
            self._append([(stream, listing.stream_version, events)], admin.id)
            for event in events:
                listing.apply(event)
            return listing

        return decide_and_append(lambda: self.listing(stream), record)

    # -- what users do with listed agents ------------------------------------------------------

    def approved_version(self, listing_version_id: str):
        """An APPROVED version still in the store, with its listing; anything else is 404 (a
        pending or rejected version is its creator's business only)."""
        listing = self.listing_of_version(listing_version_id)
        version = listing.version(listing_version_id)
        if version.status != SubmissionStatus.APPROVED:
            raise NotFoundError(f"Store listing version #{listing_version_id} not found")
        return listing, version

    def submit_review(self, user: User, *, username: str, slug: str, listing_version_id: str, score: int,
                      comments: str | None) -> dict[str, Any]:
        listing, _ = self.approved_version(listing_version_id)
        if listing.listing_id != self.listing_by_slug(username, slug).listing_id:
            raise NotFoundError(f"Store listing version #{listing_version_id} not found")
        stream = review_id(user.id, listing_version_id)
        event = StoreReviewSubmitted(user_id=user.id, listing_id=listing.listing_id,
                                     listing_version_id=listing_version_id, score=score, comments=comments)

        def record(count: int) -> dict[str, Any]:
            self._append([(stream, count, [event])], user.id)
            return {"id": str(stream), "store_listing_version_id": listing_version_id, "score": score,
                    "comments": comments}

        return decide_and_append(lambda: self.store.stream_version(stream), record)

    def add_to_library(self, user: User, listing_version_id: str) -> dict[str, Any]:
        """The approved version's graph version into the caller's library (their own graph is
        there already); answers the entry."""
        _, version = self.approved_version(listing_version_id)
        agent_id = str(library_agent_id(user.id, version.graph_id))

        def record(loaded) -> dict[str, Any]:
            entry, tree = loaded
            events = entry.agent.add_from_store(entry.facts, version.graph_version, listing_version_id)
            if events:
                self.library.store.append(self.library.new_events(entry, events))
                for event in events:
                    entry.agent.apply(event)
            return self.library.view(user, entry, tree)

        return decide_and_append(lambda: (self.library.entry(user.id, agent_id), self.library.tree(user.id)), record)
