"""The Onboarding aggregate: AutoGPT's ``UserOnboarding`` record as a stream of its own per user
(pure).

Its stream id is ``onboarding_stream_id(user_id)``, which is also the record's ``id``. The record
exists from its first event; before that every read answers the defaults (AutoGPT upserts an
empty row on the first GET; here nothing is written until something changes).

Decisions follow AutoGPT's ``data/onboarding.py`` and record nothing when nothing would change:
completing a completed step, rewarding a rewarded step, a PATCH that repeats stored values. Two
of AutoGPT's update rules are kept on purpose: ``walletShown`` is only ever set (never back to
false) and ``notified`` is merged with the stored list. A reset clears the progress and keeps
``rewardedFor``, so a step's credits are never granted twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from schemas.events.base import Event
from schemas.events.users import OnboardingReset, OnboardingRewarded, OnboardingStepCompleted, OnboardingUpdated
from services.domain.users.rules import InvalidValue

# Fixed forever: changing it orphans every onboarding stream.
ONBOARDING_NAMESPACE = uuid.UUID("9a41c2d7-6e0b-4f83-b5a9-27d8e3f1c604")


def onboarding_stream_id(user_id: str) -> uuid.UUID:
    return uuid.uuid5(ONBOARDING_NAMESPACE, f"onboarding|{user_id}")


class OnboardingStep(StrEnum):
    """AutoGPT's ``OnboardingStep`` (classic names, then the two the latest client renamed to;
    both spellings are accepted so either client works)."""

    # Introductory onboarding
    WELCOME = "WELCOME"
    USAGE_REASON = "USAGE_REASON"
    INTEGRATIONS = "INTEGRATIONS"
    AGENT_CHOICE = "AGENT_CHOICE"
    AGENT_NEW_RUN = "AGENT_NEW_RUN"
    AGENT_INPUT = "AGENT_INPUT"
    CONGRATS = "CONGRATS"
    # First wins
    VISIT_COPILOT = "VISIT_COPILOT"
    GET_RESULTS = "GET_RESULTS"
    MARKETPLACE_VISIT = "MARKETPLACE_VISIT"
    MARKETPLACE_ADD_AGENT = "MARKETPLACE_ADD_AGENT"
    MARKETPLACE_RUN_AGENT = "MARKETPLACE_RUN_AGENT"
    BUILDER_SAVE_AGENT = "BUILDER_SAVE_AGENT"
    # Consistency challenge
    RE_RUN_AGENT = "RE_RUN_AGENT"
    SCHEDULE_AGENT = "SCHEDULE_AGENT"
    RUN_AGENTS = "RUN_AGENTS"
    RUN_3_DAYS = "RUN_3_DAYS"
    # Pro playground
    TRIGGER_WEBHOOK = "TRIGGER_WEBHOOK"
    RUN_14_DAYS = "RUN_14_DAYS"
    RUN_AGENTS_100 = "RUN_AGENTS_100"
    # Analytics only
    BUILDER_OPEN = "BUILDER_OPEN"
    BUILDER_RUN_AGENT = "BUILDER_RUN_AGENT"
    # The latest client's names (for VISIT_COPILOT and MARKETPLACE_RUN_AGENT)
    ONBOARDING_COMPLETE = "ONBOARDING_COMPLETE"
    LIBRARY_RUN_AGENT = "LIBRARY_RUN_AGENT"


# The steps a client may complete itself (AutoGPT's ``FrontendOnboardingStep``: the classic list
# plus the latest client's ONBOARDING_COMPLETE). The others are milestones the platform awards
# (runs, streaks, schedules), so a client cannot claim their rewards by naming them.
FRONTEND_STEPS: tuple[OnboardingStep, ...] = (
    OnboardingStep.WELCOME, OnboardingStep.USAGE_REASON, OnboardingStep.INTEGRATIONS, OnboardingStep.AGENT_CHOICE,
    OnboardingStep.AGENT_NEW_RUN, OnboardingStep.AGENT_INPUT, OnboardingStep.CONGRATS,
    OnboardingStep.MARKETPLACE_VISIT, OnboardingStep.BUILDER_OPEN, OnboardingStep.ONBOARDING_COMPLETE)
COMPLETION_STEPS = (OnboardingStep.ONBOARDING_COMPLETE, OnboardingStep.CONGRATS)

# Bounds on what a PATCH may store (AutoGPT has none; the record is shown back on every page).
MAX_TEXT_CHARS = 1000          # usageReason, otherIntegrations
MAX_ID_CHARS = 200             # selectedStoreListingVersionId, onboardingAgentExecutionId, each integration
MAX_LIST_ITEMS = 100           # integrations, notified
MAX_AGENT_INPUT_BYTES = 64 * 1024
MAX_AGENT_INPUT_DEPTH = 16
TEXT_FIELDS = {"usageReason": MAX_TEXT_CHARS, "otherIntegrations": MAX_TEXT_CHARS,
               "selectedStoreListingVersionId": MAX_ID_CHARS, "onboardingAgentExecutionId": MAX_ID_CHARS}
UPDATE_FIELDS = ("walletShown", "notified", "usageReason", "integrations", "otherIntegrations",
                 "selectedStoreListingVersionId", "agentInput", "onboardingAgentExecutionId")


def parse_step(value: str, allowed: tuple[OnboardingStep, ...] = tuple(OnboardingStep)) -> OnboardingStep:
    if value not in allowed:
        raise InvalidValue(f"Invalid onboarding step {str(value)[:60]!r}; expected one of "
                           f"{', '.join(s.value for s in allowed)}")
    return OnboardingStep(value)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def check_update(changes: dict[str, Any]) -> dict[str, Any]:
    """The PATCH fields given (None means "not given", as in AutoGPT), checked against the bounds;
    ``notified`` as steps. Refuses a field AutoGPT's ``UserOnboardingUpdate`` does not have."""
    unknown = [k for k in changes if k not in UPDATE_FIELDS]
    if unknown:
        raise InvalidValue(f"Unknown onboarding field(s) {', '.join(repr(k[:40]) for k in unknown[:5])}")
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if value is None:
            continue
        if name in TEXT_FIELDS:
            if not isinstance(value, str) or len(value) > TEXT_FIELDS[name]:
                raise InvalidValue(f"{name} must be a string of at most {TEXT_FIELDS[name]} characters")
        elif name == "walletShown":
            if not isinstance(value, bool):
                raise InvalidValue("walletShown must be true or false")
        elif name in ("notified", "integrations"):
            if not isinstance(value, list) or len(value) > MAX_LIST_ITEMS:
                raise InvalidValue(f"{name} must be a list of at most {MAX_LIST_ITEMS} items")
            if name == "notified":
                value = [parse_step(v).value for v in value]
            elif not all(isinstance(v, str) and len(v) <= MAX_ID_CHARS for v in value):
                raise InvalidValue(f"integrations must hold strings of at most {MAX_ID_CHARS} characters")
            value = list(dict.fromkeys(value))
        elif name == "agentInput":
            if not isinstance(value, dict):
                raise InvalidValue("agentInput must be a JSON object")
            if _depth(value) > MAX_AGENT_INPUT_DEPTH:
                raise InvalidValue(f"agentInput must nest at most {MAX_AGENT_INPUT_DEPTH} levels deep")
            try:
                size = len(orjson.dumps(value))
            except (TypeError, orjson.JSONEncodeError):
                raise InvalidValue("agentInput must be JSON") from None
            if size > MAX_AGENT_INPUT_BYTES:
                raise InvalidValue(f"agentInput must be at most {MAX_AGENT_INPUT_BYTES} bytes as JSON")
        out[name] = value
    return out


@dataclass
class Onboarding:
    user_id: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_steps: list[OnboardingStep] = field(default_factory=list)
    wallet_shown: bool = False
    notified: list[OnboardingStep] = field(default_factory=list)
    rewarded_for: list[OnboardingStep] = field(default_factory=list)
    usage_reason: str | None = None
    integrations: list[str] = field(default_factory=list)
    other_integrations: str | None = None
    selected_store_listing_version_id: str | None = None
    agent_input: dict[str, Any] | None = None
    onboarding_agent_execution_id: str | None = None
    agent_runs: int = 0
    last_run_at: datetime | None = None
    consecutive_run_days: int = 0
    stream_version: int = 0

    # -- folding ------------------------------------------------------------------------------

    @classmethod
    def from_events(cls, user_id: str, events: list[tuple[Event, datetime | None]]) -> Onboarding:
        record = cls(user_id)
        for event, at in events:
            record.apply(event, at)
        return record

    def apply(self, event: Event, at: datetime | None = None) -> None:
        if self.stream_version == 0:
            self.created_at = at
        self.stream_version += 1
        self.updated_at = at
        if isinstance(event, OnboardingStepCompleted):
            self._add(self.completed_steps, event.step)
        elif isinstance(event, OnboardingRewarded):
            self._add(self.rewarded_for, event.step)
        elif isinstance(event, OnboardingUpdated):
            self._update(event.changes)
        elif isinstance(event, OnboardingReset):
            cleared = Onboarding.from_reset(self)
            for name in (f.name for f in fields(self)):
                setattr(self, name, getattr(cleared, name))

    @staticmethod
    def _add(steps: list[OnboardingStep], step: str) -> None:
        if step in OnboardingStep.__members__ and step not in steps:
            steps.append(OnboardingStep(step))

    def _update(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            if name == "walletShown":
                self.wallet_shown = bool(value)
            elif name == "notified":
                for step in value:
                    self._add(self.notified, step)
            elif name == "integrations":
                self.integrations = list(value)
            elif name == "agentInput":
                self.agent_input = value
            elif name in _ATTRIBUTE:
                setattr(self, _ATTRIBUTE[name], value)

    # -- reading ------------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return self.stream_version > 0

    @property
    def is_completed(self) -> bool:
        return any(step in self.completed_steps for step in COMPLETION_STEPS)

    def current(self, name: str) -> Any:
        value = getattr(self, _ATTRIBUTE[name])
        return [s.value for s in value] if name == "notified" else value

    # -- decisions ----------------------------------------------------------------------------

    def complete_step(self, step: OnboardingStep) -> list[Event]:
        if step in self.completed_steps:
            return []
        return [OnboardingStepCompleted(user_id=self.user_id, step=step.value)]

    def rewarded(self, step: OnboardingStep, amount: int, key: str) -> list[Event]:
        if step in self.rewarded_for:
            return []
        return [OnboardingRewarded(user_id=self.user_id, step=step.value, amount=amount, transaction_key=key)]

    def update(self, changes: dict[str, Any]) -> list[Event]:
        """Only the fields that change: ``walletShown`` only when it turns true, ``notified`` as the
        union with the stored list, any other field when given and different."""
        wanted = check_update(changes)
        diff: dict[str, Any] = {}
        for name, value in wanted.items():
            if name == "walletShown":
                if value and not self.wallet_shown:
                    diff[name] = True
            elif name == "notified":
                new = [s for s in value if s not in self.notified]
                if new:
                    diff[name] = new
            elif value != self.current(name):
                diff[name] = value
        return [OnboardingUpdated(user_id=self.user_id, changes=diff)] if diff else []

    def reset(self) -> list[Event]:
        """Back to the defaults except ``rewardedFor``; nothing when there is no progress to clear."""
        if Onboarding.from_reset(self) == self:
            return []
        return [OnboardingReset(user_id=self.user_id)]

    @classmethod
    def from_reset(cls, record: Onboarding) -> Onboarding:
        return cls(record.user_id, created_at=record.created_at, updated_at=record.updated_at,
                   rewarded_for=list(record.rewarded_for), stream_version=record.stream_version)


_ATTRIBUTE = {"walletShown": "wallet_shown", "notified": "notified", "usageReason": "usage_reason",
              "integrations": "integrations", "otherIntegrations": "other_integrations",
              "selectedStoreListingVersionId": "selected_store_listing_version_id",
              "agentInput": "agent_input", "onboardingAgentExecutionId": "onboarding_agent_execution_id"}
