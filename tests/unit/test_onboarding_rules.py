"""Onboarding rules: steps, the PATCH bounds, the fold of AutoGPT's update rules and the reset."""

from __future__ import annotations

from functools import reduce

import pytest
from pydantic import ValidationError

from schemas.events.users import OnboardingReset, OnboardingStepCompleted, OnboardingUpdated
from services.command_api.api.onboarding import UserOnboardingUpdate
from services.domain.errors import InvalidCommand
from services.domain.users import onboarding as ob
from services.domain.users.onboarding import FRONTEND_STEPS, Onboarding, OnboardingStep


def test_both_clients_step_names_exist():
    for name in ("WELCOME", "CONGRATS", "VISIT_COPILOT", "MARKETPLACE_RUN_AGENT", "ONBOARDING_COMPLETE",
                 "LIBRARY_RUN_AGENT", "RUN_AGENTS_100", "BUILDER_RUN_AGENT"):
        assert OnboardingStep(name).value == name


def test_a_client_may_complete_only_the_frontend_steps_and_the_refusal_lists_them():
    assert ob.parse_step("WELCOME", FRONTEND_STEPS) is OnboardingStep.WELCOME
    with pytest.raises(InvalidCommand, match="ONBOARDING_COMPLETE"):
        ob.parse_step("RUN_AGENTS_100", FRONTEND_STEPS)  # a milestone the platform awards
    with pytest.raises(InvalidCommand, match="Invalid onboarding step"):
        ob.parse_step("welcome")


@pytest.mark.parametrize("changes", [
    {"usageReason": "x" * 1001}, {"otherIntegrations": "x" * 1001},
    {"selectedStoreListingVersionId": "x" * 201}, {"onboardingAgentExecutionId": "x" * 201},
    {"integrations": ["x"] * 101}, {"integrations": ["x" * 201]}, {"notified": ["WELCOME"] * 101},
    {"notified": ["NOPE"]}, {"agentInput": {"x": "y" * (64 * 1024)}},
    {"agentInput": reduce(lambda acc, _: {"a": acc}, range(20), {})},
    {"walletShown": "yes"}, {"unknown": 1},
])
def test_patch_bounds(changes):
    with pytest.raises(InvalidCommand):
        ob.check_update(changes)


def test_the_patch_model_answers_the_bounds_as_validation_errors():
    with pytest.raises(ValidationError, match="usageReason must be"):
        UserOnboardingUpdate(usageReason="x" * 1001)
    with pytest.raises(ValidationError, match="Invalid onboarding step"):
        UserOnboardingUpdate(notified=["NOPE"])
    assert UserOnboardingUpdate(walletShown=True, other="ignored").changes() == {"walletShown": True}


def test_within_bounds_values_pass_and_lists_lose_duplicates():
    assert ob.check_update({"integrations": ["a", "b", "a"], "usageReason": None, "agentInput": {"k": [1, 2]}}) == {
        "integrations": ["a", "b"], "agentInput": {"k": [1, 2]}}


def test_the_fold_keeps_wallet_shown_and_merges_notified():
    record = Onboarding.from_events("u", [
        (OnboardingUpdated(user_id="u", changes={"walletShown": True, "notified": ["WELCOME"]}), None),
        (OnboardingUpdated(user_id="u", changes={"notified": ["CONGRATS", "WELCOME"]}), None),
        (OnboardingStepCompleted(user_id="u", step="ONBOARDING_COMPLETE"), None)])
    assert record.wallet_shown and [s.value for s in record.notified] == ["WELCOME", "CONGRATS"]
    assert record.is_completed and record.update({"walletShown": False}) == []


def test_a_reset_is_recorded_only_when_there_is_progress():
    assert Onboarding("u").reset() == []
    record = Onboarding.from_events("u", [(OnboardingStepCompleted(user_id="u", step="WELCOME"), None)])
    assert [type(e) for e in record.reset()] == [OnboardingReset]
    record.apply(OnboardingReset(user_id="u"))
    assert record.completed_steps == [] and record.stream_version == 2 and record.reset() == []
