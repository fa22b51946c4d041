"""The unsubscribe link of every email (``POST /api/email/unsubscribe?token=``, AutoGPT's path).

No sign-in: the token is the credential, an HMAC of the user id (``services.domain.notifications.links``),
and all it can do is turn that user's email off. A missing, malformed or forged token is a 400
saying so (AutoGPT answers 500); nothing tells a caller whether a user id exists.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.command_api.api.deps import Services, Users
from services.command_api.api.responses import UnsubscribeResult
from services.domain.errors import InvalidCommand
from services.domain.notifications.links import MAX_TOKEN_CHARS, verify_unsubscribe_token
from services.infra.http import json_response
from services.infra.http_errors import refusals

Token = Annotated[str, Query(max_length=MAX_TOKEN_CHARS, description="The token of the email's unsubscribe link")]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/email", tags=["email"])

    @router.post("/unsubscribe", summary="Turn off every email for the link's user (one-click unsubscribe)",
                 response_model=UnsubscribeResult, responses=refusals(400, 409))
    def unsubscribe(services: Services, users: Users, token: Token = "") -> Response:
        if not token:
            raise InvalidCommand("Missing unsubscribe token")
        user_id = verify_unsubscribe_token(services.settings.api_key_secret, token)
        if user_id is None:
            raise InvalidCommand("Invalid unsubscribe link")
        users.unsubscribe(user_id)
        return json_response({"status": "ok"})

    return router
