"""Events of the store context: creators, their listings and the versions they submit, the admin's
review, users' reviews.

Streams (ids from ``services.domain.store.ids``), each a consistency boundary of its own:

- **A creator profile** (``profile_id(user_id)``): the whole profile after each change.
- **A username** (``username_id(username)``, case-insensitive): who holds it. A username is unique
  because claiming it appends at the stream's current version, so two users racing for it cannot both
  win; there is no lock and no unique index to keep in step.
- **A listing** (``listing_id(graph_id)``): one per graph (AutoGPT's rule), holding every version
  submitted for it, their reviews and withdrawals, and the admin's featured flag. Its slug is set by
  the first submission and kept.
- **A slug** (``slug_id(user_id, slug)``): which listing of the creator holds it, claimed in the same
  append as the listing's first submission, so a slug is unique per creator by construction.
- **A listing version's index entry** (the version's own UUID): which listing it belongs to, recorded
  in the same append as the submission, so a command given a version id finds its listing.
- **A graph version's publication** (``publication_id(graph_id, graph_version)``): which approved
  listing versions publish that exact graph version (an approval publishes the agent's version and
  the versions of the creator's graphs it runs as sub-agents). Other users may read and run a graph version
  only while it is published, decided on this stream (not on the graph's newest version).
- **A review** (``review_id(user_id, listing_version_id)``): one per user and listing version; a new
  score replaces the old.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from schemas.events.base import Event


class StoreEvent(Event):
    CONTEXT: ClassVar[str] = "store"


class SubmissionStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


# -- creators -------------------------------------------------------------------------------------


class ProfileSaved(StoreEvent):
    """The creator's whole profile after the change."""

    TYPE: ClassVar[str] = "ProfileSaved"
    user_id: str
    username: str
    name: str
    description: str = ""
    links: list[str] = Field(default_factory=list)
    avatar_url: str | None = None


class UsernameClaimed(StoreEvent):
    TYPE: ClassVar[str] = "UsernameClaimed"
    user_id: str
    username: str


class UsernameReleased(StoreEvent):
    """Its holder took another username; anyone may claim this one again."""

    TYPE: ClassVar[str] = "UsernameReleased"
    user_id: str


# -- listings -------------------------------------------------------------------------------------


class ListingTexts(StoreEvent):
    """What a listing version says about its agent: the fields a creator submits and may edit while
    the version is pending (no type of its own; the events below carry them)."""

    name: str
    sub_heading: str = ""
    description: str = ""
    instructions: str | None = None
    categories: list[str] = Field(default_factory=list)
    image_urls: list[str] = Field(default_factory=list)
    video_url: str | None = None
    agent_output_demo_url: str | None = None
    changes_summary: str | None = None
    recommended_schedule_cron: str | None = None


class ListingVersionSubmitted(ListingTexts):
    """A graph version the creator owns, submitted for review under the listing's slug; ``version``
    counts the listing's versions from 1. Always PENDING until reviewed."""

    TYPE: ClassVar[str] = "ListingVersionSubmitted"
    user_id: str
    slug: str
    listing_version_id: str
    version: int
    graph_id: str
    graph_version: int


class ListingVersionEdited(ListingTexts):
    """A pending version's texts after the creator's edit (all of them, changed or not)."""

    TYPE: ClassVar[str] = "ListingVersionEdited"
    listing_version_id: str


class ListingVersionReviewed(StoreEvent):
    """An admin's decision. An approved version becomes the listing's active one; rejecting an
    approved version later takes it out (the active one falls back to the latest other approved
    version, if any)."""

    TYPE: ClassVar[str] = "ListingVersionReviewed"
    listing_version_id: str
    approved: bool
    reviewer_id: str
    comments: str = ""
    internal_comments: str = ""


class ListingVersionWithdrawn(StoreEvent):
    """The version left the store: its creator deleted the submission (never an approved one), or a
    newer submission of the same listing superseded it while it was still pending."""

    TYPE: ClassVar[str] = "ListingVersionWithdrawn"
    listing_version_id: str


class ListingFeaturedSet(StoreEvent):
    TYPE: ClassVar[str] = "ListingFeaturedSet"
    featured: bool
    set_by: str


class ListingSlugClaimed(StoreEvent):
    """The first and only event of a slug's stream: the listing that holds it."""

    TYPE: ClassVar[str] = "ListingSlugClaimed"
    listing_id: str
    user_id: str


class ListingVersionIndexed(StoreEvent):
    """The first and only event of a listing version's own stream: the listing it belongs to."""

    TYPE: ClassVar[str] = "ListingVersionIndexed"
    listing_id: str
    user_id: str


class GraphVersionPublished(StoreEvent):
    """An approved listing version publishes this graph version."""

    TYPE: ClassVar[str] = "GraphVersionPublished"
    listing_version_id: str
    graph_id: str
    graph_version: int


class GraphVersionUnpublished(StoreEvent):
    """That listing version no longer publishes it (rejected after its approval)."""

    TYPE: ClassVar[str] = "GraphVersionUnpublished"
    listing_version_id: str
    graph_id: str
    graph_version: int


# -- reviews --------------------------------------------------------------------------------------


class StoreReviewSubmitted(StoreEvent):
    """A user's score (1-5) for a listing version; a later one replaces it."""

    TYPE: ClassVar[str] = "StoreReviewSubmitted"
    user_id: str
    listing_id: str
    listing_version_id: str
    score: int = Field(ge=1, le=5)
    comments: str | None = None
