"""Store write routes (AutoGPT paths under ``/api/store``): the caller's profile, submissions (create,
edit while pending, delete), users' reviews, and the admin's review and featured flag.

Reads are on the query side. Someone else's graph or submission is 404; a taken username or slug is
409; a submission without a profile is 428; admin routes answer 403 to everyone else.
"""

from __future__ import annotations

import asyncio
import re

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.command_api.api.deps import CurrentUser, Store
from services.command_api.api.idempotency import IDEMPOTENT, IdempotentRoute
from services.command_api.api.responses import FeaturedListing
from services.domain.store import rules
from services.domain.store.shapes import (
    ProfileDetails,
    StoreReview,
    StoreSubmission,
    StoreSubmissionAdminView,
    listing_submission,
    profile_view,
)
from services.infra.http import MAX_VERSION, AdminUser, UuidPath, json_response, parse_uuid
from services.infra.http_errors import BODY_REFUSALS, refusals

Url = Field(default=None, max_length=rules.MAX_URL)


def _slugged(value: str) -> str:
    """AutoGPT's normalisation: letters, digits and hyphens, lower case."""
    return re.sub(r"[^a-z0-9-]", "", value.lower())


class ProfileRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=rules.MAX_NAME)
    description: str | None = Field(default=None, max_length=rules.MAX_PROFILE_DESCRIPTION)
    avatar_url: str | None = Url
    links: list[str] | None = Field(default=None, max_length=rules.MAX_LINKS)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = _slugged(value)
        if not re.fullmatch(rules.USERNAME_PATTERN, value):
            raise ValueError("a username needs at least one letter or digit (letters, digits and '-' are kept)")
        return value

    @field_validator("links")
    @classmethod
    def _links(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(len(link) > rules.MAX_URL for link in value):
            raise ValueError(f"a link is at most {rules.MAX_URL} characters")
        return value


class SubmissionFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=rules.MAX_NAME)
    sub_heading: str = Field(default="", max_length=rules.MAX_SUB_HEADING)
    description: str = Field(default="", max_length=rules.MAX_DESCRIPTION)
    instructions: str | None = Field(default=None, max_length=rules.MAX_INSTRUCTIONS)
    categories: list[str] = Field(default_factory=list, max_length=rules.MAX_CATEGORIES)
    image_urls: list[str] = Field(default_factory=list, max_length=rules.MAX_MEDIA)
    video_url: str | None = Url
    agent_output_demo_url: str | None = Url
    changes_summary: str | None = Field(default=None, max_length=rules.MAX_CHANGES_SUMMARY)
    recommended_schedule_cron: str | None = Field(default=None, max_length=rules.MAX_CRON)

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        if any(len(c) > rules.MAX_CATEGORY or not c.strip() for c in value):
            raise ValueError(f"a category is 1 to {rules.MAX_CATEGORY} characters")
        return value

    @field_validator("image_urls")
    @classmethod
    def _images(cls, value: list[str]) -> list[str]:
        if any(len(url) > rules.MAX_URL for url in value):
            raise ValueError(f"an image URL is at most {rules.MAX_URL} characters")
        return value

    def fields(self) -> dict:
        return self.model_dump(exclude={"graph_id", "graph_version", "slug"})


class SubmissionRequest(SubmissionFields):
    graph_id: str = Field(min_length=1, max_length=36)
    graph_version: int = Field(ge=1, le=MAX_VERSION)
    slug: str = Field(min_length=1, max_length=rules.MAX_SLUG)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        value = _slugged(value)
        if not re.fullmatch(rules.SLUG_PATTERN, value):
            raise ValueError("a slug needs letters or digits, with single hyphens between them")
        return value


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    store_listing_version_id: str = Field(max_length=36)
    score: int = Field(ge=1, le=5)
    comments: str | None = Field(default=None, max_length=rules.MAX_COMMENTS)


class AdminReviewRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    is_approved: bool
    comments: str = Field(default="", max_length=rules.MAX_COMMENTS)
    internal_comments: str | None = Field(default=None, max_length=rules.MAX_COMMENTS)


class FeaturedRequest(BaseModel):
    featured: bool


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/store", tags=["store"], responses=refusals(401), route_class=IdempotentRoute)

    @router.post("/profile", summary="Create or change the caller's store profile", response_model=ProfileDetails,
                 responses=refusals(*BODY_REFUSALS, 409))
    async def save_profile(body: ProfileRequest, user: CurrentUser, store: Store) -> Response:
        profile = await asyncio.to_thread(store.save_profile, user, username=body.username, name=body.name,
                                          description=body.description, links=body.links,
                                          avatar_url=body.avatar_url)
        return json_response(profile_view(username=profile.username or "", name=profile.name,
                                          description=profile.description, avatar_url=profile.avatar_url,
                                          links=profile.links))

    @router.post("/submissions", summary="Submit a graph version to the store (PENDING review)",
                 response_model=StoreSubmission, responses=refusals(*BODY_REFUSALS, 404, 409, 428),
                 dependencies=[IDEMPOTENT])
    async def submit(body: SubmissionRequest, user: CurrentUser, store: Store) -> Response:
        listing, version_id = await asyncio.to_thread(
            store.submit, user, graph_id=parse_uuid(body.graph_id, "graph_id"), graph_version=body.graph_version,
            slug=body.slug, fields=body.fields())
        return json_response(listing_submission(listing, listing.versions[version_id]))

    @router.put("/submissions/{store_listing_version_id}", summary="Edit a pending submission",
                response_model=StoreSubmission, responses=refusals(*BODY_REFUSALS, 404, 409))
    async def edit(store_listing_version_id: UuidPath, body: SubmissionFields, user: CurrentUser,
                   store: Store) -> Response:
        version_id = parse_uuid(store_listing_version_id, "store_listing_version_id")
        listing = await asyncio.to_thread(store.edit, user, version_id, body.fields())
        return json_response(listing_submission(listing, listing.versions[version_id]))

    @router.delete("/submissions/{submission_id}", summary="Delete a submission that is not approved",
                   response_model=bool, responses=refusals(400, 404, 409))
    async def withdraw(submission_id: UuidPath, user: CurrentUser, store: Store) -> Response:
        await asyncio.to_thread(store.withdraw, user, parse_uuid(submission_id, "submission_id"))
        return json_response(True)

    @router.post("/agents/{username}/{agent_name}/review", summary="Review an agent in the store (1-5)",
                 response_model=StoreReview, responses=refusals(*BODY_REFUSALS, 404, 409))
    async def review(username: str, agent_name: str, body: ReviewRequest, user: CurrentUser, store: Store) -> Response:
        saved = await asyncio.to_thread(
            store.submit_review, user, username=username.lower(), slug=agent_name.lower(),
            listing_version_id=parse_uuid(body.store_listing_version_id, "store_listing_version_id"),
            score=body.score, comments=body.comments)
        return json_response({"score": saved["score"], "comments": saved["comments"]})

    @router.post("/admin/submissions/{store_listing_version_id}/review", summary="Admin: approve or reject",
                 response_model=StoreSubmissionAdminView, responses=refusals(*BODY_REFUSALS, 403, 404, 409))
    async def admin_review(store_listing_version_id: UuidPath, body: AdminReviewRequest, user: AdminUser,
                           store: Store) -> Response:
        version_id = parse_uuid(store_listing_version_id, "store_listing_version_id")
        listing = await asyncio.to_thread(store.review, user, version_id, approved=body.is_approved,
                                          comments=body.comments, internal_comments=body.internal_comments or "")
        return json_response(listing_submission(listing, listing.versions[version_id], admin=True))

    @router.put("/admin/listings/{listing_id}/featured", summary="Admin: feature a listing or stop featuring it",
                response_model=FeaturedListing, responses=refusals(*BODY_REFUSALS, 403, 404, 409))
    async def set_featured(listing_id: UuidPath, body: FeaturedRequest, user: AdminUser, store: Store) -> Response:
        listing = await asyncio.to_thread(store.set_featured, user, parse_uuid(listing_id, "listing_id"),
                                          body.featured)
        return json_response({"listing_id": listing.listing_id, "is_featured": listing.featured})

    return router
