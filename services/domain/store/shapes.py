"""The store's REST shapes (AutoGPT's ``api/features/store/model.py``, current field names) and the
builders both APIs use, so a submission or a profile reads the same whichever side answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from schemas.events.store import SubmissionStatus
from services.domain.paging import Pagination


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class ProfileDetails(BaseModel):
    username: str
    name: str
    description: str
    avatar_url: str | None
    links: list[str]
    is_featured: bool


class CreatorDetails(ProfileDetails):
    num_agents: int
    agent_runs: int
    agent_rating: float
    top_categories: list[str]


class CreatorsResponse(BaseModel):
    creators: list[CreatorDetails]
    pagination: Pagination


class StoreAgent(BaseModel):
    slug: str
    agent_name: str
    agent_image: str
    creator: str
    creator_avatar: str
    sub_heading: str
    description: str
    runs: int
    rating: float
    agent_graph_id: str


class StoreAgentsResponse(BaseModel):
    agents: list[StoreAgent]
    pagination: Pagination


class ChangelogEntry(BaseModel):
    version: str
    changes_summary: str
    date: datetime


class StoreAgentDetails(BaseModel):
    store_listing_version_id: str
    slug: str
    agent_name: str
    agent_video: str
    agent_output_demo: str
    agent_image: list[str]
    creator: str
    creator_avatar: str
    sub_heading: str
    description: str
    instructions: str | None
    categories: list[str]
    runs: int
    rating: float
    versions: list[str]
    graph_id: str
    graph_versions: list[str]
    last_updated: datetime
    recommended_schedule_cron: str | None
    active_version_id: str | None
    has_approved_version: bool
    changelog: list[ChangelogEntry] | None


class StoreSubmission(BaseModel):
    listing_id: str
    user_id: str
    slug: str
    listing_version_id: str
    listing_version: int
    graph_id: str
    graph_version: int
    name: str
    sub_heading: str
    description: str
    instructions: str | None
    categories: list[str]
    image_urls: list[str]
    video_url: str | None
    agent_output_demo_url: str | None
    submitted_at: datetime | None
    changes_summary: str | None
    status: SubmissionStatus
    reviewed_at: datetime | None
    reviewer_id: str | None
    review_comments: str | None
    run_count: int
    review_count: int
    review_avg_rating: float


class StoreSubmissionAdminView(StoreSubmission):
    internal_comments: str | None


class SubmissionStats(BaseModel):
    total: int
    approved: int
    pending: int
    total_runs: int
    average_rating: float | None


class StoreSubmissionsResponse(BaseModel):
    submissions: list[StoreSubmission]
    pagination: Pagination
    stats: SubmissionStats


class StoreListingWithVersionsAdminView(BaseModel):
    listing_id: str
    graph_id: str
    slug: str
    active_listing_version_id: str | None
    has_approved_version: bool
    is_featured: bool
    creator_email: str | None
    latest_version: StoreSubmissionAdminView | None
    versions: list[StoreSubmissionAdminView]


class StoreListingsWithVersionsAdminViewResponse(BaseModel):
    listings: list[StoreListingWithVersionsAdminView]
    pagination: Pagination


class StoreReview(BaseModel):
    score: int
    comments: str | None


class MyUnpublishedAgent(BaseModel):
    graph_id: str
    graph_version: int
    agent_name: str
    agent_image: str | None
    description: str
    last_edited: datetime
    recommended_schedule_cron: str | None


class MyUnpublishedAgentsResponse(BaseModel):
    agents: list[MyUnpublishedAgent]
    pagination: Pagination


class DownloadedAgentData(BaseModel):
    """The file ``…/graph/download`` returns: the listing's texts and the exported graph
    (secrets stripped), which ``POST /api/graphs`` accepts as ``{"graph": graph_data}``."""

    marketplace_name: str
    marketplace_description: str
    marketplace_sub_heading: str
    marketplace_image_urls: list[str]
    marketplace_categories: list[str]
    marketplace_instructions: str | None
    graph_data: dict[str, Any]


class UnifiedSearchResult(BaseModel):
    content_type: str
    content_id: str
    searchable_text: str
    metadata: dict[str, Any] | None
    updated_at: datetime | None
    combined_score: float | None
    semantic_score: float | None
    lexical_score: float | None


class UnifiedSearchResponse(BaseModel):
    results: list[UnifiedSearchResult]
    pagination: Pagination


def profile_view(*, username: str, name: str, description: str, avatar_url: str | None, links: list[str],
                 is_featured: bool = False) -> dict[str, Any]:
    return {"username": username, "name": name, "description": description, "avatar_url": avatar_url,
            "links": list(links), "is_featured": is_featured}


def submission_view(*, listing_id: str, user_id: str, slug: str, listing_version_id: str, listing_version: int,
                    graph_id: str, graph_version: int, fields: dict[str, Any], submitted_at: datetime | None,
                    status: str, reviewed_at: datetime | None, reviewer_id: str | None, review_comments: str | None,
                    run_count: int = 0, review_count: int = 0, review_avg_rating: float = 0.0,
                    internal_comments: str | None = None, admin: bool = False) -> dict[str, Any]:
    """``fields`` holds the editable texts (``services.domain.store.listing.EDITABLE``)."""
    view = {
        "listing_id": listing_id, "user_id": user_id, "slug": slug, "listing_version_id": listing_version_id,
        "listing_version": listing_version, "graph_id": graph_id, "graph_version": graph_version,
        "name": fields.get("name") or "", "sub_heading": fields.get("sub_heading") or "",
        "description": fields.get("description") or "", "instructions": fields.get("instructions"),
        "categories": list(fields.get("categories") or []), "image_urls": list(fields.get("image_urls") or []),
        "video_url": fields.get("video_url"), "agent_output_demo_url": fields.get("agent_output_demo_url"),
        "submitted_at": iso(submitted_at), "changes_summary": fields.get("changes_summary"), "status": str(status),
        "reviewed_at": iso(reviewed_at), "reviewer_id": reviewer_id, "review_comments": review_comments or None,
        "run_count": run_count, "review_count": review_count, "review_avg_rating": review_avg_rating,
    }
    if admin:
        view["internal_comments"] = internal_comments or None
    return view


def listing_submission(listing: Any, version: Any, *, admin: bool = False, **counts: Any) -> dict[str, Any]:
    """``submission_view`` of a folded ``Listing`` and one of its ``ListingVersion``s."""
    return submission_view(
        listing_id=listing.listing_id, user_id=listing.user_id, slug=listing.slug, listing_version_id=version.id,
        listing_version=version.version, graph_id=version.graph_id, graph_version=version.graph_version,
        fields=version.fields, submitted_at=version.submitted_at, status=version.status,
        reviewed_at=version.reviewed_at, reviewer_id=version.reviewer_id, review_comments=version.comments,
        internal_comments=version.internal_comments, admin=admin, **counts)
