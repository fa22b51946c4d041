"""Library write routes (AutoGPT paths under ``/api/library``): change, delete, fork and move entries,
the folders' CRUD, the presets' CRUD and runs, and ``PATCH /api/graphs/{id}/settings``.

Reads are on the query side. Another user's entry, folder or preset answers 404 on every route.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.command_api.api.deps import CurrentUser, Folders, Library, Onboardings, Presets, Store
from services.command_api.api.idempotency import IDEMPOTENT, IdempotentRoute
from services.domain.errors import InvalidCommand
from services.domain.executions.shapes import GraphExecutionMeta
from services.domain.library import rules
from services.domain.library.shapes import GraphSettings, LibraryAgentView, LibraryFolderView, PresetView
from services.domain.users.onboarding import OnboardingStep
from services.infra.http import MAX_VERSION, UuidPath, current_user, json_response, parse_optional_uuid, parse_uuid
from services.infra.http_errors import BODY_REFUSALS, refusals
from services.infra.ratelimit import execute_limit


class GraphSettingsRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    human_in_the_loop_safe_mode: bool | None = None
    sensitive_action_safe_mode: bool | None = None

    def given(self) -> dict[str, bool]:
        return self.model_dump(exclude_none=True)


class LibraryAgentUpdateRequest(BaseModel):
    """Every field optional; ``folder_id``: omitted or null leaves it, ``""`` moves to the root."""

    model_config = ConfigDict(extra="ignore")

    auto_update_version: bool | None = None
    graph_version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    is_favorite: bool | None = None
    is_archived: bool | None = None
    settings: GraphSettingsRequest | None = None
    folder_id: str | None = Field(default=None, max_length=36)


class AddStoreAgentRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    store_listing_version_id: str = Field(max_length=36)
    source: Literal["marketplace", "onboarding"] = "marketplace"


class BulkMoveRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    agent_ids: list[str] = Field(min_length=1, max_length=rules.MAX_BULK_MOVE)
    folder_id: str | None = None


class FolderCreateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=rules.MAX_FOLDER_NAME)
    icon: str | None = Field(default=None, max_length=rules.MAX_ICON)
    color: str | None = Field(default=None, pattern=rules.COLOR_PATTERN)
    parent_id: str | None = None


class FolderUpdateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=rules.MAX_FOLDER_NAME)
    icon: str | None = Field(default=None, max_length=rules.MAX_ICON)
    color: str | None = Field(default=None, pattern=rules.COLOR_PATTERN)


class FolderMoveRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    target_parent_id: str | None = None


class PresetCreateRequest(BaseModel):
    """AutoGPT's two creatables in one body: a graph version with inputs and credentials, or a
    past run (``graph_execution_id``) whose inputs and credentials are copied."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=rules.MAX_PRESET_NAME)
    description: str = Field(default="", max_length=rules.MAX_PRESET_DESCRIPTION)
    is_active: bool = True
    graph_execution_id: str | None = None
    graph_id: str | None = None
    graph_version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    inputs: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> PresetCreateRequest:
        if self.graph_execution_id is None and (self.graph_id is None or self.graph_version is None):
            raise ValueError("give graph_id and graph_version, or graph_execution_id")
        return self


class PresetUpdateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=rules.MAX_PRESET_NAME)
    description: str | None = Field(default=None, max_length=rules.MAX_PRESET_DESCRIPTION)
    inputs: dict[str, Any] | None = None
    credentials: dict[str, Any] | None = None
    is_active: bool | None = None


class PresetExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputs: dict[str, Any] = Field(default_factory=dict)
    credential_inputs: dict[str, Any] = Field(default_factory=dict)


def _agents(router: APIRouter) -> None:
    @router.post("/agents", status_code=201, summary="Add an approved store agent to the caller's library",
                 response_model=LibraryAgentView, responses=refusals(*BODY_REFUSALS, 404, 409),
                 dependencies=[IDEMPOTENT])
    async def add_store_agent(body: AddStoreAgentRequest, user: CurrentUser, store: Store,
                              onboarding: Onboardings) -> Response:
        version_id = parse_uuid(body.store_listing_version_id, "store_listing_version_id")
        entry = await asyncio.to_thread(store.add_to_library, user, version_id)
        if body.source == "marketplace":  # AutoGPT's onboarding step, unless onboarding itself added it
            await asyncio.to_thread(onboarding.complete_step, user, OnboardingStep.MARKETPLACE_ADD_AGENT)
        return json_response(entry, status_code=201)

    @router.patch("/agents/{library_agent_id}", summary="Change a library agent", response_model=LibraryAgentView,
                  responses=refusals(*BODY_REFUSALS, 404, 409))
    async def update_agent(library_agent_id: UuidPath, body: LibraryAgentUpdateRequest, user: CurrentUser,
                           library: Library) -> Response:
        agent_id = parse_uuid(library_agent_id, "library_agent_id")
        folder = "" if body.folder_id == "" else parse_optional_uuid(body.folder_id, "folder_id")
        return json_response(await asyncio.to_thread(
            library.update, user, agent_id, is_favorite=body.is_favorite, is_archived=body.is_archived,
            auto_update_version=body.auto_update_version, graph_version=body.graph_version,
            settings=body.settings.given() if body.settings else None, folder_id=folder))

    @router.delete("/agents/{library_agent_id}", status_code=204, summary="Delete a library agent (soft)",
                   responses=refusals(400, 404, 409))
    async def delete_agent(library_agent_id: UuidPath, user: CurrentUser, library: Library) -> None:
        await asyncio.to_thread(library.delete, user, parse_uuid(library_agent_id, "library_agent_id"))

    @router.post("/agents/{library_agent_id}/fork", summary="Fork a library agent's graph into a new one",
                 response_model=LibraryAgentView, responses=refusals(400, 404, 409, 413), dependencies=[IDEMPOTENT])
    async def fork_agent(library_agent_id: UuidPath, user: CurrentUser, library: Library) -> Response:
        return json_response(await asyncio.to_thread(library.fork, user,
                                                     parse_uuid(library_agent_id, "library_agent_id")))

    @router.post("/agents/bulk-move", summary="Move several library agents into a folder (or the root)",
                 response_model=list[LibraryAgentView], responses=refusals(*BODY_REFUSALS, 404, 409))
    async def bulk_move(body: BulkMoveRequest, user: CurrentUser, library: Library) -> Response:
        ids = [parse_uuid(i, "agent_ids") for i in body.agent_ids]
        return json_response(await asyncio.to_thread(library.bulk_move, user, ids,
                                                     parse_optional_uuid(body.folder_id, "folder_id")))


def _folders(router: APIRouter) -> None:
    @router.post("/folders", status_code=201, summary="Create a folder", response_model=LibraryFolderView,
                 responses=refusals(*BODY_REFUSALS, 404, 409), dependencies=[IDEMPOTENT])
    async def create_folder(body: FolderCreateRequest, user: CurrentUser, folders: Folders) -> Response:
        created = await asyncio.to_thread(folders.create, user, name=body.name, icon=body.icon, color=body.color,
                                          parent_id=parse_optional_uuid(body.parent_id, "parent_id"))
        return json_response(created, status_code=201)

    @router.patch("/folders/{folder_id}", summary="Rename or restyle a folder", response_model=LibraryFolderView,
                  responses=refusals(*BODY_REFUSALS, 404, 409))
    async def update_folder(folder_id: UuidPath, body: FolderUpdateRequest, user: CurrentUser,
                            folders: Folders) -> Response:
        return json_response(await asyncio.to_thread(folders.update, user, parse_uuid(folder_id, "folder_id"),
                                                     name=body.name, icon=body.icon, color=body.color))

    @router.post("/folders/{folder_id}/move", summary="Move a folder under another one (or to the root)",
                 response_model=LibraryFolderView, responses=refusals(*BODY_REFUSALS, 404, 409))
    async def move_folder(folder_id: UuidPath, body: FolderMoveRequest, user: CurrentUser,
                          folders: Folders) -> Response:
        return json_response(await asyncio.to_thread(folders.move, user, parse_uuid(folder_id, "folder_id"),
                                                     parse_optional_uuid(body.target_parent_id, "target_parent_id")))

    @router.delete("/folders/{folder_id}", status_code=204,
                   summary="Delete a folder, the folders under it and the agents in them (soft)",
                   responses=refusals(400, 404, 409))
    async def delete_folder(folder_id: UuidPath, user: CurrentUser, folders: Folders) -> None:
        await asyncio.to_thread(folders.delete, user, parse_uuid(folder_id, "folder_id"))


def _presets(router: APIRouter) -> None:
    @router.post("/presets", summary="Save a preset (from inputs, or from a past run)", response_model=PresetView,
                 responses=refusals(*BODY_REFUSALS, 404, 409), dependencies=[IDEMPOTENT])
    async def create_preset(body: PresetCreateRequest, user: CurrentUser, presets: Presets) -> Response:
        if body.graph_execution_id is not None:
            created = await asyncio.to_thread(
                presets.create_from_run, user, graph_execution_id=parse_uuid(body.graph_execution_id,
                                                                             "graph_execution_id"),
                name=body.name, description=body.description, is_active=body.is_active)
        else:
            created = await asyncio.to_thread(
                presets.create, user, graph_id=parse_uuid(body.graph_id or "", "graph_id"),
                graph_version=body.graph_version, name=body.name, description=body.description,
                inputs=body.inputs, credentials=body.credentials, is_active=body.is_active)
        return json_response(created)

    @router.patch("/presets/{preset_id}", summary="Change a preset", response_model=PresetView,
                  responses=refusals(*BODY_REFUSALS, 404, 409))
    async def update_preset(preset_id: UuidPath, body: PresetUpdateRequest, user: CurrentUser,
                            presets: Presets) -> Response:
        return json_response(await asyncio.to_thread(presets.update, user, parse_uuid(preset_id, "preset_id"),
                                                     **body.model_dump(exclude_none=True)))

    @router.delete("/presets/{preset_id}", status_code=204, summary="Delete a preset",
                   responses=refusals(400, 404, 409))
    async def delete_preset(preset_id: UuidPath, user: CurrentUser, presets: Presets) -> None:
        await asyncio.to_thread(presets.delete, user, parse_uuid(preset_id, "preset_id"))

    @router.post("/presets/{preset_id}/execute", summary="Run a preset (the request's values over the preset's)",
                 dependencies=[IDEMPOTENT, Depends(execute_limit(current_user))], response_model=GraphExecutionMeta,
                 responses=refusals(*BODY_REFUSALS, 402, 404, 429))
    async def execute_preset(preset_id: UuidPath, user: CurrentUser, presets: Presets,
                             body: PresetExecuteRequest | None = None) -> Response:
        body = body or PresetExecuteRequest()
        return json_response(await asyncio.to_thread(presets.execute, user, parse_uuid(preset_id, "preset_id"),
                                                     body.inputs, body.credential_inputs))


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/library", tags=["library"], responses=refusals(401), route_class=IdempotentRoute)
    _agents(router)
    _folders(router)
    _presets(router)
    return router


def build_graph_settings_router() -> APIRouter:
    router = APIRouter(prefix="/api/graphs", tags=["graphs"], responses=refusals(401))

    @router.patch("/{graph_id}/settings", summary="Change a graph's settings (kept on its library agent)",
                  response_model=GraphSettings, responses=refusals(*BODY_REFUSALS, 404, 409))
    async def update_graph_settings(graph_id: UuidPath, body: GraphSettingsRequest, user: CurrentUser,
                                    library: Library) -> Response:
        if not body.given():
            raise InvalidCommand("Give at least one setting: human_in_the_loop_safe_mode, sensitive_action_safe_mode")
        return json_response(await asyncio.to_thread(library.set_graph_settings, user,
                                                     parse_uuid(graph_id, "graph_id"), body.given()))

    return router
