"""Onboarding commands: AutoGPT's ``UserOnboarding`` record (steps, answers, reset) and the credits a
step may earn.

A step's reward is two writes on two streams, made safe by order and idempotency rather than by a
transaction: the ledger grant first, under the fixed key ``REWARD-{user}-{step}`` (the ledger
records a key once, so a repeated grant changes nothing), then ``OnboardingRewarded`` (recorded
once per step). A crash between the two leaves the step completed but not marked rewarded; the
next POST of the step repeats the grant, which the key turns into a no-op, and records the mark.
Two concurrent POSTs both reach the grant and the ledger keeps one. Amounts come from
``settings.onboarding_rewards`` (none by default).

Every write first makes sure the user is recorded (``UserCommands.get_or_create``: a user who
starts onboarding has a record to mail and to show). Reads fold the stream and write nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from schemas.events.base import Event
from services.command_api.application.users import UserCommands
from services.domain.users.onboarding import Onboarding, OnboardingStep, onboarding_stream_id
from services.infra.appending import decide_and_append
from services.infra.auth import User
from services.infra.eventstore import EventStore
from services.infra.ledger_service import LedgerService
from services.infra.store_contract import NewEvent, utcnow


def reward_key(user_id: str, step: OnboardingStep) -> str:
    """AutoGPT's transaction key for a step's reward (one grant per user and step, ever)."""
    return f"REWARD-{user_id}-{step.value}"


class OnboardingCommands:
    def __init__(self, store: EventStore, users: UserCommands, ledger: LedgerService | None = None,
                 rewards: dict[str, int] | None = None, now: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.users = users
        self.ledger = ledger
        self.rewards = dict(rewards or {})
        self.now = now

    def load(self, user_id: str) -> Onboarding:
        events = self.store.read_stream(onboarding_stream_id(user_id))
        return Onboarding.from_events(user_id, [(e.decode(), e.occurred_at) for e in events])

    def _change(self, user: User, decide: Callable[[Onboarding], list[Event]]) -> Onboarding:
        def record(onboarding: Onboarding) -> Onboarding:
            base, now = onboarding.stream_version, self.now()
            events = decide(onboarding)
            if events:
                self.store.append([NewEvent(onboarding_stream_id(user.id), base + i + 1, event, user_id=user.id,
                                            occurred_at=now) for i, event in enumerate(events)])
                for event in events:
                    onboarding.apply(event, now)
            return onboarding

        self.users.get_or_create(user)
        return decide_and_append(lambda: self.load(user.id), record)

    # -- commands -----------------------------------------------------------------------------

    def complete_step(self, user: User, step: OnboardingStep) -> Onboarding:
        """Idempotent: a completed step records nothing; its reward, if any and not yet marked,
        is granted (again harmlessly, by key) and marked."""
        onboarding = self._change(user, lambda record: record.complete_step(step))
        amount = self.rewards.get(step.value, 0)
        if amount <= 0 or self.ledger is None or step in onboarding.rewarded_for:
            return onboarding
        key = reward_key(user.id, step)
        self.ledger.grant(user.id, amount, key, f"Reward for completing {step.value} onboarding step.")
        return self._change(user, lambda record: record.rewarded(step, amount, key))

    def update(self, user: User, changes: dict[str, Any]) -> Onboarding:
        return self._change(user, lambda record: record.update(changes))

    def reset(self, user: User) -> Onboarding:
        return self._change(user, lambda record: record.reset())
