"""The Listing aggregate: one graph in the store, with every version its creator submitted (pure).

A version is PENDING until an admin reviews it, then APPROVED or REJECTED. The creator may edit a
version only while it is PENDING and delete any version but an approved one. A new submission
supersedes the pending ones (they are withdrawn in the same append, as AutoGPT soft-deletes them), so
a listing waits on at most one review; a new version of an approved listing is a new PENDING version
and the active one stays until the new one is approved. The active version is the most recently
approved one still approved. An admin may reverse a decision (reject an approved version: the active
one falls back; approve a rejected one).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events.base import Event
from schemas.events.store import (
    ListingFeaturedSet,
    ListingTexts,
    ListingVersionEdited,
    ListingVersionReviewed,
    ListingVersionSubmitted,
    ListingVersionWithdrawn,
    SubmissionStatus,
)
from services.domain.errors import ConflictError, NotFoundError

EDITABLE = tuple(ListingTexts.model_fields)  # the texts a creator submits and edits


@dataclass
class ListingVersion:
    id: str
    version: int
    graph_id: str
    graph_version: int
    fields: dict[str, Any]
    submitted_at: datetime | None
    status: SubmissionStatus = SubmissionStatus.PENDING
    withdrawn: bool = False
    reviewed_at: datetime | None = None
    reviewer_id: str | None = None
    comments: str = ""
    internal_comments: str = ""


@dataclass
class Listing:
    listing_id: str
    user_id: str | None = None
    slug: str = ""
    versions: dict[str, ListingVersion] = field(default_factory=dict)
    approvals: list[str] = field(default_factory=list)  # approved version ids, in approval order
    featured: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    stream_version: int = 0

    # -- folding ------------------------------------------------------------------------------

    @classmethod
    def from_events(cls, listing_id: str, events: list[tuple[Event, datetime]]) -> Listing:
        listing = cls(listing_id)
        for event, at in events:
            listing.apply(event, at)
        return listing

    def apply(self, event: Event, at: datetime | None = None) -> None:
        self.stream_version += 1
        self.updated_at = at
        if isinstance(event, ListingVersionSubmitted):
            self.user_id, self.slug = event.user_id, event.slug
            self.created_at = self.created_at or at
            self.versions[event.listing_version_id] = ListingVersion(
                event.listing_version_id, event.version, event.graph_id, event.graph_version,
                {name: getattr(event, name) for name in EDITABLE}, at)
        elif isinstance(event, ListingVersionEdited):
            self.versions[event.listing_version_id].fields = {name: getattr(event, name) for name in EDITABLE}
        elif isinstance(event, ListingVersionReviewed):
            version = self.versions[event.listing_version_id]
            version.status = SubmissionStatus.APPROVED if event.approved else SubmissionStatus.REJECTED
            version.reviewed_at, version.reviewer_id = at, event.reviewer_id
            version.comments, version.internal_comments = event.comments, event.internal_comments
            self.approvals = [v for v in self.approvals if v != version.id] + ([version.id] if event.approved else [])
        elif isinstance(event, ListingVersionWithdrawn):
            self.versions[event.listing_version_id].withdrawn = True
            self.approvals = [v for v in self.approvals if v != event.listing_version_id]
        elif isinstance(event, ListingFeaturedSet):
            self.featured = event.featured

    # -- reads --------------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return self.user_id is not None

    @property
    def live(self) -> list[ListingVersion]:
        """Versions still in the store, oldest first."""
        return sorted((v for v in self.versions.values() if not v.withdrawn), key=lambda v: v.version)

    @property
    def active_version(self) -> ListingVersion | None:
        return self.versions[self.approvals[-1]] if self.approvals else None

    @property
    def graph_id(self) -> str | None:
        return next((v.graph_id for v in self.versions.values()), None)

    def version(self, listing_version_id: str) -> ListingVersion:
        found = self.versions.get(listing_version_id)
        if found is None or found.withdrawn:
            raise NotFoundError(f"Store listing version #{listing_version_id} not found")
        return found

    def owned_version(self, user_id: str, listing_version_id: str) -> ListingVersion:
        if self.user_id != user_id:
            raise NotFoundError(f"Store submission #{listing_version_id} not found")
        return self.version(listing_version_id)

    # -- decisions ----------------------------------------------------------------------------

    def submit(self, user_id: str, slug: str, graph_id: str, graph_version: int,
               fields: dict[str, Any]) -> list[Event]:
        """The first submission sets the slug; later ones keep it (the slug they send is ignored)."""
        if self.exists and self.user_id != user_id:
            raise AssertionError("a listing id names its graph, and a graph its owner")
        if any(v.graph_version == graph_version and v.status == SubmissionStatus.APPROVED for v in self.live):
            raise ConflictError(f"Version {graph_version} of this agent is already in the store")
        superseded = [ListingVersionWithdrawn(listing_version_id=v.id) for v in self.live
                      if v.status == SubmissionStatus.PENDING]
        return [*superseded, ListingVersionSubmitted(
            user_id=user_id, slug=self.slug or slug, listing_version_id=str(uuid.uuid4()),
            version=len(self.versions) + 1, graph_id=graph_id, graph_version=graph_version,
            **{k: fields[k] for k in EDITABLE if fields.get(k) is not None})]

    def edit(self, user_id: str, listing_version_id: str, fields: dict[str, Any]) -> list[Event]:
        version = self.owned_version(user_id, listing_version_id)
        if version.status != SubmissionStatus.PENDING:
            raise ConflictError(f"Only a pending submission can be edited; this one is {version.status.value}")
        merged = {**version.fields, **{k: v for k, v in fields.items() if k in EDITABLE and v is not None}}
        if merged == version.fields:
            return []
        return [ListingVersionEdited(listing_version_id=listing_version_id,
                                     **{k: v for k, v in merged.items() if v is not None})]

    def review(self, listing_version_id: str, approved: bool, reviewer_id: str, comments: str,
               internal_comments: str) -> list[Event]:
        version = self.version(listing_version_id)
        wanted = SubmissionStatus.APPROVED if approved else SubmissionStatus.REJECTED
        if version.status == wanted:
            raise ConflictError(f"Store submission #{listing_version_id} is already {wanted.value}")
        return [ListingVersionReviewed(listing_version_id=listing_version_id, approved=approved,
                                       reviewer_id=reviewer_id, comments=comments,
                                       internal_comments=internal_comments)]

    def withdraw(self, user_id: str, listing_version_id: str) -> list[Event]:
        version = self.owned_version(user_id, listing_version_id)
        if version.status == SubmissionStatus.APPROVED:
            raise ConflictError("An approved version cannot be deleted")
        return [ListingVersionWithdrawn(listing_version_id=listing_version_id)]

    def set_featured(self, featured: bool, admin_id: str) -> list[Event]:
        if not self.exists:
            raise NotFoundError(f"Store listing #{self.listing_id} not found")
        return [] if featured == self.featured else [ListingFeaturedSet(featured=featured, set_by=admin_id)]
