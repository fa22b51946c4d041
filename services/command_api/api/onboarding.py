"""Onboarding routes (AutoGPT paths): the record, its PATCH, completing a step (which may grant
credits), whether onboarding is done, and a reset.

Bad input is 422 with the rule's message (the request validators call the domain's bounds in
``services.domain.users.onboarding``): a step the client may not complete, an unknown step in
``notified``, a string, list or ``agentInput`` over its bound.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

from services.command_api.api.deps import CurrentUser, Onboardings
from services.command_api.api.responses import JsonNull
from services.command_api.application.onboarding import OnboardingCommands
from services.domain.users.onboarding import FRONTEND_STEPS, Onboarding, check_update, parse_step
from services.domain.users.shapes import OnboardingStatusResponse, UserOnboarding, onboarding_view
from services.infra.http import json_response
from services.infra.http_errors import BODY_REFUSALS, refusals

FrontendStep = Annotated[str, Query(max_length=64, description="A step the client completes itself",
                                    json_schema_extra={"enum": [s.value for s in FRONTEND_STEPS]}),
                         AfterValidator(lambda value: parse_step(value, FRONTEND_STEPS))]


class UserOnboardingUpdate(BaseModel):
    """AutoGPT's PATCH body: every field optional (null or absent leaves it as it is)."""

    model_config = ConfigDict(extra="ignore")

    walletShown: bool | None = None  # noqa: N815 - AutoGPT's field names
    notified: list[str] | None = None
    usageReason: str | None = None  # noqa: N815
    integrations: list[str] | None = None
    otherIntegrations: str | None = None  # noqa: N815
    selectedStoreListingVersionId: str | None = None  # noqa: N815
    agentInput: dict[str, Any] | None = None  # noqa: N815
    onboardingAgentExecutionId: str | None = None  # noqa: N815

    @model_validator(mode="after")
    def _within_bounds(self) -> UserOnboardingUpdate:
        check_update(self.changes())
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


def _record(onboarding: OnboardingCommands, record: Onboarding) -> Response:
    return json_response(onboarding_view(record, onboarding.now()))


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/onboarding", tags=["onboarding"], responses=refusals(401))

    @router.get("", summary="The user's onboarding record", response_model=UserOnboarding)
    def get_onboarding(user: CurrentUser, onboarding: Onboardings) -> Response:
        return _record(onboarding, onboarding.load(user.id))

    @router.patch("", summary="Store onboarding answers (only the fields given)", response_model=UserOnboarding,
                  responses=refusals(*BODY_REFUSALS, 409))
    def update_onboarding(body: UserOnboardingUpdate, user: CurrentUser, onboarding: Onboardings) -> Response:
        return _record(onboarding, onboarding.update(user, body.changes()))

    @router.post("/step", summary="Complete an onboarding step (idempotent; may grant its credits)",
                 response_model=JsonNull, responses=refusals(409))
    def complete_step(step: FrontendStep, user: CurrentUser, onboarding: Onboardings) -> Response:
        onboarding.complete_step(user, parse_step(step))
        return json_response(None)

    @router.get("/completed", summary="Whether the user finished onboarding", response_model=OnboardingStatusResponse)
    def onboarding_completed(user: CurrentUser, onboarding: Onboardings) -> Response:
        return json_response({"is_completed": onboarding.load(user.id).is_completed})

    @router.post("/reset", summary="Clear the onboarding progress (rewards already granted stay granted)",
                 response_model=UserOnboarding, responses=refusals(409))
    def reset_onboarding(user: CurrentUser, onboarding: Onboardings) -> Response:
        return _record(onboarding, onboarding.reset(user))

    return router
