"""Completion webhooks of the external API (``/external-api/v1/webhooks``): callback URLs an API
key's owner registers to be told, by a signed POST, when their runs end (docs/callbacks.md).

Permissions reuse AutoGPT's integration scopes: reading needs READ_INTEGRATIONS, creating and
changing MANAGE_INTEGRATIONS, deleting DELETE_INTEGRATIONS. Another user's webhook id is 404 on
every route. The webhooks are read from their owner's stream (strongly consistent); the deliveries
list comes from ``rm_callback_deliveries`` (the projector's, a moment behind the store).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from schemas.events.apikeys import ApiKeyPermission as P
from services.command_api.api.deps import Services
from services.command_api.api.external import owner, require
from services.command_api.api.idempotency import IdempotentRoute, idempotent_key
from services.domain.apikeys.api_key import ApiKey
from services.domain.callbacks import rules
from services.domain.callbacks.callbacks import UNCHANGED
from services.domain.callbacks.shapes import CreatedWebhook, WebhookDeliveries, WebhookInfo
from services.domain.paging import pagination
from services.infra.http import MAX_PAGE, UuidPath, json_response, parse_uuid
from services.infra.http_errors import BODY_REFUSALS, refusals


class CreateWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=rules.MAX_URL)
    events: list[str] = Field(default_factory=lambda: list(rules.EVENTS), max_length=len(rules.EVENTS) * 2)
    graph_id: str | None = Field(None, max_length=64, description="only runs of this graph")
    description: str = Field("", max_length=rules.MAX_DESCRIPTION)


class UpdateWebhook(BaseModel):
    """Only the fields sent change; ``graph_id: null`` removes the graph filter."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, max_length=rules.MAX_URL)
    events: list[str] | None = Field(None, max_length=len(rules.EVENTS) * 2)
    graph_id: str | None = Field(None, max_length=64)
    description: str | None = Field(None, max_length=rules.MAX_DESCRIPTION)
    enabled: bool | None = None


def _graph(graph_id: str | None) -> str | None:
    return None if graph_id is None else parse_uuid(graph_id, "graph_id")


DELIVERY_COLUMNS = ("delivery_id::text AS id, callback_id::text AS webhook_id, event, execution_id::text AS "
                    "execution_id, graph_id, status, attempts, last_status_code, last_error, next_attempt_at, "
                    "delivered_at, abandoned_reason, created_at, updated_at")


async def _deliveries(pool, user_id: str, callback_id: str, page: int, page_size: int) -> tuple[list[dict], int]:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT count(*) AS n FROM rm_callback_deliveries WHERE callback_id = %s AND user_id = %s",
                          (callback_id, user_id))
        total = (await cur.fetchone())["n"]
        await cur.execute(f"SELECT {DELIVERY_COLUMNS} FROM rm_callback_deliveries "  # noqa: S608 - fixed columns
                          "WHERE callback_id = %s AND user_id = %s ORDER BY created_at DESC, delivery_id "
                          "LIMIT %s OFFSET %s", (callback_id, user_id, page_size, (page - 1) * page_size))
        rows = await cur.fetchall()
    for row in rows:
        for name in ("next_attempt_at", "delivered_at", "created_at", "updated_at"):
            row[name] = row[name].isoformat() if row[name] is not None else None
    return rows, total


def build_router() -> APIRouter:
    router = APIRouter(prefix="/external-api/v1", tags=["external"], responses=refusals(401, 403),
                       route_class=IdempotentRoute)

    @router.post("/webhooks", summary="Register a completion webhook (the secret is shown only here)",
                 status_code=201, response_model=CreatedWebhook, responses=refusals(*BODY_REFUSALS),
                 dependencies=[idempotent_key(require(P.MANAGE_INTEGRATIONS))])
    def create_webhook(body: CreateWebhook, services: Services,
                       key: ApiKey = Depends(require(P.MANAGE_INTEGRATIONS))) -> Response:
        created = services.callback_commands.create(owner(key), url=body.url, events=body.events,
                                                    graph_id=_graph(body.graph_id), description=body.description)
        return json_response(created, status_code=201)

    @router.get("/webhooks", summary="The key owner's completion webhooks", response_model=list[WebhookInfo])
    def list_webhooks(services: Services, key: ApiKey = Depends(require(P.READ_INTEGRATIONS))) -> Response:
        return json_response(services.callback_commands.list(owner(key)))

    @router.get("/webhooks/{webhook_id}", summary="One completion webhook", response_model=WebhookInfo,
                responses=refusals(400, 404))
    def get_webhook(webhook_id: UuidPath, services: Services,
                    key: ApiKey = Depends(require(P.READ_INTEGRATIONS))) -> Response:
        return json_response(services.callback_commands.view(owner(key), parse_uuid(webhook_id, "webhook_id")))

    @router.patch("/webhooks/{webhook_id}", summary="Change a completion webhook", response_model=WebhookInfo,
                  responses=refusals(*BODY_REFUSALS, 404, 409))
    def update_webhook(webhook_id: UuidPath, body: UpdateWebhook, services: Services,
                       key: ApiKey = Depends(require(P.MANAGE_INTEGRATIONS))) -> Response:
        sent: dict[str, Any] = {name: getattr(body, name) for name in body.model_fields_set}
        if "graph_id" in sent:
            sent["graph_id"] = _graph(sent["graph_id"])
        changes = {name: sent.get(name, UNCHANGED) for name in ("url", "events", "graph_id", "description",
                                                                "enabled")}
        return json_response(services.callback_commands.update(owner(key), parse_uuid(webhook_id, "webhook_id"),
                                                               **changes))

    @router.delete("/webhooks/{webhook_id}", summary="Delete a completion webhook", status_code=204,
                   responses=refusals(400, 404, 409))
    def delete_webhook(webhook_id: UuidPath, services: Services,
                       key: ApiKey = Depends(require(P.DELETE_INTEGRATIONS))) -> Response:
        services.callback_commands.delete(owner(key), parse_uuid(webhook_id, "webhook_id"))
        return Response(status_code=204)

    @router.get("/webhooks/{webhook_id}/deliveries", summary="A completion webhook's deliveries, newest first",
                response_model=WebhookDeliveries, responses=refusals(400, 404))
    async def list_deliveries(webhook_id: UuidPath, services: Services, page: int = Query(1, ge=1, le=MAX_PAGE),
                              page_size: int = Query(20, ge=1, le=rules.MAX_DELIVERIES_PAGE_SIZE),
                              key: ApiKey = Depends(require(P.READ_INTEGRATIONS))) -> Response:
        callback_id = parse_uuid(webhook_id, "webhook_id")
        user = owner(key)
        await asyncio.to_thread(services.callback_commands.owned, user, callback_id)  # 404 unless the owner's
        rows, total = await _deliveries(services.kv_pool, user.id, callback_id, page, page_size)
        return json_response({"deliveries": rows, "pagination": pagination(total, page, page_size)})

    return router
