"""The command routes' typed dependencies: each alias names the handler a route calls, so a reader,
and a type checker, can follow a route to its handler (``graphs: Graphs`` is a ``GraphCommands``).

They all come from the one ``CommandServices`` the app's lifespan opened. The providers are
``async`` because they only read attributes: FastAPI runs a plain ``def`` dependency in a worker
thread.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.command_api.application.api_keys import ApiKeyCommands, KeyUsage
from services.command_api.application.bootstrap import CommandServices
from services.command_api.application.credentials import CredentialsCommands
from services.command_api.application.executions import ExecutionCommands
from services.command_api.application.folders import FolderCommands
from services.command_api.application.graphs import GraphCommands
from services.command_api.application.library import LibraryCommands
from services.command_api.application.notifications import NotificationCommands
from services.command_api.application.onboarding import OnboardingCommands
from services.command_api.application.presets import PresetCommands
from services.command_api.application.reviews import ReviewCommands
from services.command_api.application.schedules import ScheduleCommands
from services.command_api.application.sharing import ShareCommands
from services.command_api.application.store import StoreCommands
from services.command_api.application.users import UserCommands
from services.command_api.application.webhooks import WebhookCommands
from services.infra.http import CurrentUser  # noqa: F401 - re-exported: every route's user
from services.infra.ledger_service import LedgerService


async def command_services(request: Request) -> CommandServices:
    return request.app.state.command_services


Services = Annotated[CommandServices, Depends(command_services)]


async def graph_commands(services: Services) -> GraphCommands:
    return services.graph_commands


async def execution_commands(services: Services) -> ExecutionCommands:
    return services.execution_commands


async def api_key_commands(services: Services) -> ApiKeyCommands:
    return services.api_key_commands


async def credentials_commands(services: Services) -> CredentialsCommands:
    return services.credentials_commands


async def notification_commands(services: Services) -> NotificationCommands:
    return services.notification_commands


async def ledger(services: Services) -> LedgerService:
    return services.ledger


async def user_commands(services: Services) -> UserCommands:
    return services.user_commands


async def onboarding_commands(services: Services) -> OnboardingCommands:
    return services.onboarding_commands


async def library_commands(services: Services) -> LibraryCommands:
    return services.library_commands


async def folder_commands(services: Services) -> FolderCommands:
    return services.folder_commands


async def preset_commands(services: Services) -> PresetCommands:
    return services.preset_commands


async def store_commands(services: Services) -> StoreCommands:
    return services.store_commands


async def schedule_commands(services: Services) -> ScheduleCommands:
    return services.schedule_commands


async def webhook_commands(services: Services) -> WebhookCommands:
    return services.webhook_commands


async def review_commands(services: Services) -> ReviewCommands:
    return services.review_commands


async def share_commands(services: Services) -> ShareCommands:
    return services.share_commands


async def key_usage(services: Services) -> KeyUsage:
    assert services.key_usage is not None, "opened by the app's lifespan"
    return services.key_usage


Graphs = Annotated[GraphCommands, Depends(graph_commands)]
Executions = Annotated[ExecutionCommands, Depends(execution_commands)]
ApiKeys = Annotated[ApiKeyCommands, Depends(api_key_commands)]
Credentials = Annotated[CredentialsCommands, Depends(credentials_commands)]
Ledger = Annotated[LedgerService, Depends(ledger)]
Notifications = Annotated[NotificationCommands, Depends(notification_commands)]
KeyUsages = Annotated[KeyUsage, Depends(key_usage)]
Users = Annotated[UserCommands, Depends(user_commands)]
Onboardings = Annotated[OnboardingCommands, Depends(onboarding_commands)]
Library = Annotated[LibraryCommands, Depends(library_commands)]
Folders = Annotated[FolderCommands, Depends(folder_commands)]
Presets = Annotated[PresetCommands, Depends(preset_commands)]
Store = Annotated[StoreCommands, Depends(store_commands)]
Webhooks = Annotated[WebhookCommands, Depends(webhook_commands)]
Schedules = Annotated[ScheduleCommands, Depends(schedule_commands)]
Reviews = Annotated[ReviewCommands, Depends(review_commands)]
Shares = Annotated[ShareCommands, Depends(share_commands)]
