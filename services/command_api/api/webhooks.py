"""Trigger webhook routes (AutoGPT paths): set up a triggered preset, a webhook's ingress, ping.

The ingress takes no user token: the webhook's secret, in the ``X-Webhook-Secret`` header, is the
credential, checked in constant time before anything is read or recorded. Its body is read raw
(bounded below the API's body limit) so any JSON object is taken as the sender wrote it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.command_api.api.deps import CurrentUser, Webhooks
from services.command_api.api.idempotency import IDEMPOTENT, IdempotentRoute
from services.domain.integrations import webhook as rules
from services.domain.integrations.webhook_shapes import WebhookIngressAnswer, WebhookView
from services.domain.library import rules as library_rules
from services.domain.library.shapes import PresetView
from services.infra.http import MAX_VERSION, UuidPath, json_response, parse_uuid
from services.infra.http_errors import BODY_REFUSALS, refusals


class TriggeredPresetView(PresetView):
    """The setup's answer: AutoGPT's ``LibraryAgentPreset`` with ``webhook_id`` set and ``webhook``
    holding the ingress URL and the secret (shown here only)."""

    webhook: WebhookView  # type: ignore[assignment]


class TriggeredPresetSetupRequest(BaseModel):
    """AutoGPT's ``TriggeredPresetSetupRequest``; ``trigger_config`` is the trigger node's inputs
    (the generic trigger's ``constants``), ``agent_credentials`` the graph's credential references."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=library_rules.MAX_PRESET_NAME)
    description: str = Field(default="", max_length=library_rules.MAX_PRESET_DESCRIPTION)
    graph_id: str = Field(max_length=36)
    graph_version: int = Field(ge=1, le=MAX_VERSION)
    trigger_config: dict[str, Any]
    agent_credentials: dict[str, Any] = Field(default_factory=dict)


# The ingress body is read raw; this documents it (any JSON object).
_INGRESS_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "additionalProperties": True, "title": "Payload"}}}}}


def build_router() -> APIRouter:
    router = APIRouter(tags=["integrations"], route_class=IdempotentRoute)

    @router.post("/api/library/presets/setup-trigger", tags=["library"],
                 summary="Set up a webhook-triggered preset (answers the webhook's URL and secret, once)",
                 response_model=TriggeredPresetView, responses=refusals(*BODY_REFUSALS, 401, 404, 409),
                 dependencies=[IDEMPOTENT])
    async def setup_trigger(body: TriggeredPresetSetupRequest, user: CurrentUser, webhooks: Webhooks) -> Response:
        return json_response(await asyncio.to_thread(
            webhooks.setup_trigger, user, name=body.name, description=body.description,
            graph_id=parse_uuid(body.graph_id, "graph_id"), graph_version=body.graph_version,
            trigger_config=body.trigger_config, agent_credentials=body.agent_credentials))

    @router.post("/api/integrations/{provider}/webhooks/{webhook_id}/ingress",
                 summary="Deliver an event to a webhook: runs each of its active presets once per delivery",
                 response_model=WebhookIngressAnswer, openapi_extra=_INGRESS_BODY,
                 responses=refusals(*BODY_REFUSALS, 401, 402, 404, 409))
    async def ingress(provider: Annotated[str, Path(max_length=64)], webhook_id: UuidPath, request: Request,
                      webhooks: Webhooks,
                      x_webhook_secret: Annotated[str | None, Header(max_length=512)] = None,
                      idempotency_key: Annotated[str | None, Header(max_length=rules.MAX_IDEMPOTENCY_KEY)] = None,
                      x_delivery_id: Annotated[str | None, Header(max_length=rules.MAX_IDEMPOTENCY_KEY)] = None,
                      ) -> Response:
        webhook = parse_uuid(webhook_id, "webhook_id")
        body = await request.body()
        return json_response(await asyncio.to_thread(
            webhooks.ingest, provider, webhook, secret=x_webhook_secret,
            idempotency_key=idempotency_key or x_delivery_id or None, body=body))

    @router.post("/api/integrations/webhooks/{webhook_id}/ping", summary="Ping a webhook (owner only)",
                 response_model=bool, responses=refusals(400, 401, 404))
    async def ping(webhook_id: UuidPath, user: CurrentUser, webhooks: Webhooks) -> Response:
        return json_response(await asyncio.to_thread(webhooks.ping, user, parse_uuid(webhook_id, "webhook_id")))

    return router
