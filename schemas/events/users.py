"""Events of the users context.

Two streams per user, both derived from the user id (``services.domain.users``):

- **The user** (id ``user_stream_id(user_id)``): created from the sign-in token's claims on the
  first ``POST /api/auth/user``, then the changes the user makes to their email, name, time zone
  and notification preferences. Each change event carries the new value, so the fold is a plain
  overwrite and a repeated request that changes nothing records nothing.
- **The user's onboarding** (id ``onboarding_stream_id(user_id)``): AutoGPT's ``UserOnboarding``
  row as events. A step completed, the reward granted for it, the answers the web app stores
  (``OnboardingUpdated`` carries only the fields that changed) and a reset.

Notification preferences are keyed by ``NotificationType``; a type missing from the map is on (AutoGPT's
default), so a type added later reaches existing users.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from schemas.events.base import Event
from schemas.events.notifications import NotificationType


class UserEvent(Event):
    CONTEXT: ClassVar[str] = "users"


class UserCreated(UserEvent):
    """The user's record, from the token's ``sub``, ``email`` and ``user_metadata.name``;
    always version 1 of the user stream."""

    TYPE: ClassVar[str] = "UserCreated"
    user_id: str
    email: str
    name: str | None = None


class UserEmailChanged(UserEvent):
    TYPE: ClassVar[str] = "UserEmailChanged"
    email: str


class UserNameChanged(UserEvent):
    TYPE: ClassVar[str] = "UserNameChanged"
    name: str | None


class UserTimezoneSet(UserEvent):
    """An IANA time zone name (validated when the command was taken)."""

    TYPE: ClassVar[str] = "UserTimezoneSet"
    timezone: str


class NotificationPreferencesSet(UserEvent):
    """The user's email switches per notification type and daily email cap, as a whole.

    ``via`` says where the change came from: ``"preferences"`` (the REST route) or
    ``"unsubscribe_link"`` (the signed link in an email, which turns every email off)."""

    TYPE: ClassVar[str] = "NotificationPreferencesSet"
    preferences: dict[NotificationType, bool]
    daily_limit: int
    via: str = "preferences"


class OnboardingEvent(UserEvent):
    """Events of the onboarding stream (same context and log as the user's own events)."""


class OnboardingStepCompleted(OnboardingEvent):
    TYPE: ClassVar[str] = "OnboardingStepCompleted"
    user_id: str
    step: str


class OnboardingRewarded(OnboardingEvent):
    """Credits were granted for a step (ledger key ``transaction_key``); never granted twice."""

    TYPE: ClassVar[str] = "OnboardingRewarded"
    user_id: str
    step: str
    amount: int
    transaction_key: str


class OnboardingUpdated(OnboardingEvent):
    """The fields of AutoGPT's ``UserOnboardingUpdate`` that changed, by their camelCase names
    (``walletShown``, ``notified``, ``usageReason``, ``integrations``, ``otherIntegrations``,
    ``selectedStoreListingVersionId``, ``agentInput``, ``onboardingAgentExecutionId``)."""

    TYPE: ClassVar[str] = "OnboardingUpdated"
    user_id: str
    changes: dict[str, Any] = Field(default_factory=dict)


class OnboardingReset(OnboardingEvent):
    """Progress cleared; the steps already rewarded stay rewarded (AutoGPT keeps ``rewardedFor``)."""

    TYPE: ClassVar[str] = "OnboardingReset"
    user_id: str
