"""AutoGPT's user and onboarding shapes, and the builders that make them from the aggregates.

``User`` is AutoGPT's ``data/model.py`` model (snake_case, no aliases); ``NotificationPreference`` its
preferences answer; ``UserOnboarding`` the Prisma row with its camelCase keys. Unlike AutoGPT's
``from_db`` (``field or True``), every switch answers what is stored. Fields AutoGPT keeps and
agentloom has no use for answer AutoGPT's defaults (``email_verified`` true, ``metadata`` {},
``integrations`` "", no Stripe customer, no auto top-up).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from schemas.events.notifications import NotificationType
from services.domain.users.onboarding import Onboarding, OnboardingStep, onboarding_stream_id
from services.domain.users.user import UserAccount

# AutoGPT's User columns for the switches it shows (AGENT_APPROVED/REJECTED have no User field).
NOTIFY_FIELDS: dict[str, NotificationType] = {
    "notify_on_agent_run": NotificationType.AGENT_RUN,
    "notify_on_zero_balance": NotificationType.ZERO_BALANCE,
    "notify_on_low_balance": NotificationType.LOW_BALANCE,
    "notify_on_block_execution_failed": NotificationType.BLOCK_EXECUTION_FAILED,
    "notify_on_continuous_agent_error": NotificationType.CONTINUOUS_AGENT_ERROR,
    "notify_on_daily_summary": NotificationType.DAILY_SUMMARY,
    "notify_on_weekly_summary": NotificationType.WEEKLY_SUMMARY,
    "notify_on_monthly_summary": NotificationType.MONTHLY_SUMMARY,
}


class AutoTopUpConfig(BaseModel):
    amount: int
    threshold: int


class User(BaseModel):
    id: str
    email: str
    email_verified: bool = True
    name: str | None = None
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] = {}
    integrations: str = ""
    stripe_customer_id: str | None = None
    top_up_config: AutoTopUpConfig | None = None
    max_emails_per_day: int = 3
    notify_on_agent_run: bool = True
    notify_on_zero_balance: bool = True
    notify_on_low_balance: bool = True
    notify_on_block_execution_failed: bool = True
    notify_on_continuous_agent_error: bool = True
    notify_on_daily_summary: bool = True
    notify_on_weekly_summary: bool = True
    notify_on_monthly_summary: bool = True
    timezone: str = "not-set"


class NotificationPreference(BaseModel):
    user_id: str
    email: str
    preferences: dict[NotificationType, bool]
    daily_limit: int
    emails_sent_today: int
    last_reset_date: datetime


class TimezoneResponse(BaseModel):
    timezone: str  # an IANA name, or "not-set"


class UserOnboarding(BaseModel):
    id: str
    userId: str  # noqa: N815 - AutoGPT's (Prisma's) field names
    createdAt: datetime  # noqa: N815
    updatedAt: datetime | None  # noqa: N815
    completedSteps: list[OnboardingStep]  # noqa: N815
    walletShown: bool  # noqa: N815
    notified: list[OnboardingStep]
    rewardedFor: list[OnboardingStep]  # noqa: N815
    usageReason: str | None  # noqa: N815
    integrations: list[str]
    otherIntegrations: str | None  # noqa: N815
    selectedStoreListingVersionId: str | None  # noqa: N815
    agentInput: dict[str, Any] | None  # noqa: N815
    onboardingAgentExecutionId: str | None  # noqa: N815
    agentRuns: int  # noqa: N815
    lastRunAt: datetime | None  # noqa: N815
    consecutiveRunDays: int  # noqa: N815


class OnboardingStatusResponse(BaseModel):
    is_completed: bool


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def user_view(account: UserAccount, now: datetime) -> dict[str, Any]:
    """AutoGPT's ``User`` (``now`` stands in for the dates of a user not recorded yet)."""
    created = account.created_at or now
    view: dict[str, Any] = {
        "id": account.user_id, "email": account.email or "", "email_verified": True, "name": account.name,
        "created_at": _iso(created), "updated_at": _iso(account.updated_at or created), "metadata": {},
        "integrations": "", "stripe_customer_id": None, "top_up_config": None,
        "max_emails_per_day": account.daily_limit}
    view.update({name: account.wants_email(kind) for name, kind in NOTIFY_FIELDS.items()})
    view["timezone"] = account.timezone
    return view


def preferences_view(account: UserAccount, emails_sent_today: int, last_reset_date: datetime) -> dict[str, Any]:
    return {"user_id": account.user_id, "email": account.email or "",
            "preferences": {t.value: account.wants_email(t) for t in NotificationType},
            "daily_limit": account.daily_limit, "emails_sent_today": emails_sent_today,
            "last_reset_date": _iso(last_reset_date)}


def onboarding_view(record: Onboarding, now: datetime) -> dict[str, Any]:
    """AutoGPT's ``UserOnboarding`` row (``now`` is the creation date of a record not recorded yet)."""
    return {
        "id": str(onboarding_stream_id(record.user_id)), "userId": record.user_id,
        "createdAt": _iso(record.created_at or now), "updatedAt": _iso(record.updated_at),
        "completedSteps": [s.value for s in record.completed_steps], "walletShown": record.wallet_shown,
        "notified": [s.value for s in record.notified], "rewardedFor": [s.value for s in record.rewarded_for],
        "usageReason": record.usage_reason, "integrations": list(record.integrations),
        "otherIntegrations": record.other_integrations,
        "selectedStoreListingVersionId": record.selected_store_listing_version_id,
        "agentInput": record.agent_input, "onboardingAgentExecutionId": record.onboarding_agent_execution_id,
        "agentRuns": record.agent_runs, "lastRunAt": _iso(record.last_run_at),
        "consecutiveRunDays": record.consecutive_run_days}
