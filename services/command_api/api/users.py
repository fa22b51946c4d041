"""User routes (AutoGPT paths): the get-or-create the web app calls first after sign-in, email,
time zone, notification preferences, and the seed's ``/api/user`` profile.

Bad values (an invalid email, an unknown time zone or preference key, a cap out of range) are
refused with 422 and the rule's message: the request models' validators call the domain rules
(``services.domain.users.rules``), whose refusals are also ``ValueError``. The reads are served
here, folded from the user's stream, so a change is visible on the very next request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.command_api.api.deps import CurrentUser, Users
from services.command_api.api.responses import UserEmail
from services.command_api.application.users import KEEP, UserCommands
from services.domain.users import rules
from services.domain.users.shapes import NotificationPreference, TimezoneResponse, User, preferences_view, user_view
from services.domain.users.user import UserAccount
from services.infra.http import json_response
from services.infra.http_errors import BODY_REFUSALS, refusals

USER_CREATED_HEADER = "X-AutoGPT-User-Created"

EmailAddress = Annotated[str, AfterValidator(rules.clean_email)]
TimezoneName = Annotated[str, AfterValidator(rules.check_timezone)]
DisplayName = Annotated[str | None, AfterValidator(rules.clean_name)]
DailyLimit = Annotated[int, AfterValidator(rules.check_daily_limit)]
PreferenceSwitches = Annotated[dict[str, bool], AfterValidator(rules.parse_preferences)]


class EmailChange(BaseModel):
    email: EmailAddress


class UpdateTimezoneRequest(BaseModel):
    timezone: TimezoneName


class NotificationPreferenceDTO(BaseModel):
    """AutoGPT's body; ``email`` is optional here (given and different, it changes the address),
    ``preferences`` are merged (the types present overwrite) and ``daily_limit`` omitted keeps the cap."""

    email: EmailAddress | None = None
    preferences: PreferenceSwitches = Field(default_factory=dict)
    daily_limit: DailyLimit | None = None


class UpdateUserRequest(BaseModel):
    """``PUT /api/user``: the fields named change (``name: null`` clears the name)."""

    model_config = ConfigDict(extra="forbid")

    name: DisplayName = None
    email: EmailAddress | None = None
    timezone: TimezoneName | None = None


def _user(users: UserCommands, account: UserAccount) -> Response:
    return json_response(user_view(account, users.now()))


def build_router() -> APIRouter:
    router = APIRouter(tags=["auth"], responses=refusals(401))

    @router.post("/api/auth/user", summary="Get or create the signed-in user (the first call after sign-in)",
                 response_model=User, responses={200: {"headers": {USER_CREATED_HEADER: {
                     "description": "Whether this call created the user", "schema": {
                         "type": "string", "enum": ["true", "false"]}}}}, **refusals(409)})
    def get_or_create_user(user: CurrentUser, users: Users) -> Response:
        account, created = users.get_or_create(user)
        response = _user(users, account)
        response.headers[USER_CREATED_HEADER] = str(created).lower()
        return response

    @router.post("/api/auth/user/email", summary="Change the user's email address", response_model=UserEmail,
                 responses=refusals(*BODY_REFUSALS, 409))
    def update_user_email(user: CurrentUser, users: Users,
                          body: Annotated[EmailAddress | EmailChange, Body(
                              description='The new address: a bare JSON string, or {"email": "..."}')]) -> Response:
        email = body if isinstance(body, str) else body.email
        return json_response({"email": users.change_email(user, email).email})

    @router.get("/api/auth/user/timezone", summary="The user's time zone (\"not-set\" until chosen)",
                response_model=TimezoneResponse)
    def get_user_timezone(user: CurrentUser, users: Users) -> Response:
        return json_response({"timezone": users.view(user).timezone})

    @router.post("/api/auth/user/timezone", summary="Set the user's time zone (an IANA name)",
                 response_model=TimezoneResponse, responses=refusals(*BODY_REFUSALS, 409))
    def update_user_timezone(body: UpdateTimezoneRequest, user: CurrentUser, users: Users) -> Response:
        return json_response({"timezone": users.set_timezone(user, body.timezone).timezone})

    @router.get("/api/auth/user/preferences", summary="The user's email switches per notification type and daily cap",
                response_model=NotificationPreference)
    def get_preferences(user: CurrentUser, users: Users) -> Response:
        sent, since = users.emails_sent_today(user.id)
        return json_response(preferences_view(users.view(user), sent, since))

    @router.post("/api/auth/user/preferences", summary="Change the user's email switches and daily cap",
                 response_model=NotificationPreference, responses=refusals(*BODY_REFUSALS, 409))
    def update_preferences(body: NotificationPreferenceDTO, user: CurrentUser, users: Users) -> Response:
        account = users.set_preferences(user, dict(body.preferences), body.daily_limit, body.email)
        sent, since = users.emails_sent_today(user.id)
        return json_response(preferences_view(account, sent, since))

    @router.get("/api/user", summary="The signed-in user's profile", response_model=User, tags=["user"])
    def get_user(user: CurrentUser, users: Users) -> Response:
        return _user(users, users.view(user))

    @router.put("/api/user", summary="Change the user's name, email or time zone", response_model=User,
                tags=["user"], responses=refusals(*BODY_REFUSALS, 409))
    def update_user(body: UpdateUserRequest, user: CurrentUser, users: Users) -> Response:
        name = body.name if "name" in body.model_fields_set else KEEP
        return _user(users, users.update_profile(user, name=name, email=body.email, timezone=body.timezone))

    return router
