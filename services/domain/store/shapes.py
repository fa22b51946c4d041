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


NO_PROFILE = "Needs Profile"  # AutoGPT's creator name for a listing whose owner has no profile yet


def store_agent_view(*, slug: str, name: str, image: str, creator: str | None, creator_avatar: str | None,
                     sub_heading: str, description: str, runs: int, rating: float, graph_id: str) -> dict[str, Any]:
    """``StoreAgent``, a card of the list."""
    return {"slug": slug, "agent_name": name, "agent_image": image or "", "creator": creator or NO_PROFILE,
            "creator_avatar": creator_avatar or "", "sub_heading": sub_heading, "description": description,
            "runs": int(runs), "rating": float(rating), "agent_graph_id": graph_id}


def changelog_entry(version: int, changes_summary: str | None, date: datetime) -> dict[str, Any]:
    return {"version": str(version), "changes_summary": changes_summary or "No changes recorded", "date": iso(date)}


def store_agent_details(*, listing_version_id: str, slug: str, fields: dict[str, Any], creator: str | None,
                        creator_avatar: str | None, runs: int, rating: float, approved: list[tuple[int, int]],
                        graph_id: str, last_updated: datetime, active_version_id: str | None,
                        has_approved_version: bool, changelog: list[dict[str, Any]] | None) -> dict[str, Any]:
    """``StoreAgentDetails`` of one listing version; ``approved`` holds the (listing version, graph
    version) pairs of the listing's approved versions: ``versions`` and ``graph_versions`` are them as
    text, sorted as text (as AutoGPT's view aggregates them)."""
    return {
        "store_listing_version_id": listing_version_id, "slug": slug, "agent_name": fields.get("name") or "",
        "agent_video": fields.get("video_url") or "", "agent_output_demo": fields.get("agent_output_demo_url") or "",
        "agent_image": list(fields.get("image_urls") or []), "creator": creator or NO_PROFILE,
        "creator_avatar": creator_avatar or "", "sub_heading": fields.get("sub_heading") or "",
        "description": fields.get("description") or "", "instructions": fields.get("instructions"),
        "categories": list(fields.get("categories") or []), "runs": int(runs), "rating": float(rating),
        "versions": sorted({str(v) for v, _ in approved}), "graph_id": graph_id,
        "graph_versions": sorted({str(g) for _, g in approved}), "last_updated": iso(last_updated),
        "recommended_schedule_cron": fields.get("recommended_schedule_cron"), "active_version_id": active_version_id,
        "has_approved_version": has_approved_version, "changelog": changelog,
    }


def creator_details(profile: dict[str, Any], *, num_agents: int, agent_runs: int, agent_rating: float,
                    top_categories: list[str]) -> dict[str, Any]:
    """``CreatorDetails``: a ``profile_view`` and the figures of the creator's approved listings."""
    return {**profile, "num_agents": int(num_agents), "agent_runs": int(agent_runs),
            "agent_rating": float(agent_rating), "top_categories": list(top_categories)}


def unpublished_agent_view(*, graph_id: str, graph_version: int, name: str, description: str,
                           last_edited: datetime, recommended_schedule_cron: str | None) -> dict[str, Any]:
    """``MyUnpublishedAgent`` (agentloom keeps no graph image)."""
    return {"graph_id": graph_id, "graph_version": graph_version, "agent_name": name, "agent_image": None,
            "description": description, "last_edited": iso(last_edited),
            "recommended_schedule_cron": recommended_schedule_cron}


def admin_listing_view(*, listing_id: str, graph_id: str, slug: str, active_listing_version_id: str | None,
                       has_approved_version: bool, is_featured: bool, creator_email: str | None,
                       versions: list[dict[str, Any]]) -> dict[str, Any]:
    """``StoreListingWithVersionsAdminView``: ``versions`` newest first (admin submission views)."""
    return {"listing_id": listing_id, "graph_id": graph_id, "slug": slug,
            "active_listing_version_id": active_listing_version_id, "has_approved_version": has_approved_version,
            "is_featured": is_featured, "creator_email": creator_email,
            "latest_version": versions[0] if versions else None, "versions": versions}


def downloaded_agent(fields: dict[str, Any], graph_data: dict[str, Any]) -> dict[str, Any]:
    """``DownloadedAgentData``: the listing version's texts and the exported graph."""
    return {"marketplace_name": fields.get("name") or "", "marketplace_description": fields.get("description") or "",
            "marketplace_sub_heading": fields.get("sub_heading") or "",
            "marketplace_image_urls": list(fields.get("image_urls") or []),
            "marketplace_categories": list(fields.get("categories") or []),
            "marketplace_instructions": fields.get("instructions"), "graph_data": graph_data}


def search_result(agent: dict[str, Any], *, listing_version_id: str, rank: float,
                  updated_at: datetime | None) -> dict[str, Any]:
    """``UnifiedSearchResult`` of a store agent card (its id: the active listing version, as AutoGPT's
    embeddings name it); lexical only, agentloom keeps no embeddings."""
    text = " ".join(part for part in (agent["agent_name"], agent["sub_heading"], agent["description"]) if part)
    return {"content_type": "STORE_AGENT", "content_id": listing_version_id, "searchable_text": text,
            "metadata": {"creator": agent["creator"], "slug": agent["slug"], "agent_graph_id": agent["agent_graph_id"],
                         "runs": agent["runs"], "rating": agent["rating"]},
            "updated_at": iso(updated_at), "combined_score": rank, "semantic_score": None, "lexical_score": rank}
