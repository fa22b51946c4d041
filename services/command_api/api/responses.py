"""Response shapes only the command API answers with (the shared ones live in ``services.domain``).

The routes hand over the dicts the handlers build and name these shapes for OpenAPI only, as
every route does; ``tests/integration/test_response_shapes.py`` proves the real bodies match.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, RootModel

from services.domain.apikeys.shapes import APIKeyInfo
from services.domain.graphs.shapes import GraphModel

# AutoGPT's ``CompletedBlockOutput``: every value a direct block run yielded, by output pin.
CompletedBlockOutput = dict[str, list[Any]]


class SkippedWebhookPreset(BaseModel):
    """AutoGPT: a trigger preset left on its old version. agentloom never moves a trigger preset to a
    new version (it keeps the version it was set up on), so its lists are always empty."""

    id: str
    name: str


class ActiveGraphVersion(BaseModel):
    """agentloom's ``{id, active_graph_version}`` and AutoGPT's ``SetActiveGraphVersionResponse``."""

    id: str
    active_graph_version: int
    skipped_webhook_presets: list[SkippedWebhookPreset]


class UpdatedGraph(GraphModel):
    """The new version as a ``GraphModel`` (agentloom's and AutoGPT's older shape) and, additively,
    AutoGPT's current ``UpdateGraphResponse{graph, skipped_webhook_presets}``."""

    graph: GraphModel
    skipped_webhook_presets: list[SkippedWebhookPreset]


class DeletedGraph(BaseModel):
    version_counts: int


class UserCredits(BaseModel):
    credits: int


class GrantedCredits(BaseModel):
    new_balance: int
    transaction_key: str
    amount: int


class CreatedApiKey(BaseModel):
    """The new key's info and, this once only, the key itself."""

    api_key: APIKeyInfo
    plain_text_key: str


class CredentialsDeletionResponse(BaseModel):
    deleted: bool
    revoked: bool | None


class ExternalUser(BaseModel):
    """The API key's owner, as the external API's ``/me`` shows it."""

    id: str
    name: str | None
    email: str | None
    timezone: str


class QueuedExecution(BaseModel):
    id: str


class UserEmail(BaseModel):
    """``POST /api/auth/user/email``: the address now recorded."""

    email: str


class UnsubscribeResult(BaseModel):
    status: str  # "ok"


class JsonNull(RootModel[None]):
    """A JSON ``null`` (AutoGPT's ``POST /api/onboarding/step`` answers 200 with null)."""


class FeaturedListing(BaseModel):
    """``PUT /api/store/admin/listings/{id}/featured``: the listing's flag now."""

    listing_id: str
    is_featured: bool
