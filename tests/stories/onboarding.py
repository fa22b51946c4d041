"""Stories of ``OnboardingCommands``: steps (idempotent), rewards through the ledger (once, even
after a crash between grant and mark), PATCH rules, and reset."""

from __future__ import annotations

from schemas.events.users import OnboardingRewarded, OnboardingStepCompleted, OnboardingUpdated, UserCreated
from services.command_api.application.onboarding import OnboardingCommands, reward_key
from services.command_api.application.users import UserCommands
from services.domain.credits.ledger import ledger_stream_id
from services.domain.errors import InvalidCommand
from services.domain.users.onboarding import OnboardingStep, onboarding_stream_id
from services.domain.users.user import user_stream_id
from services.infra.ledger_service import LedgerService
from tests.stories.world import expect

STEP = OnboardingStep.WELCOME


def _commands(world, rewards=None) -> OnboardingCommands:
    users = UserCommands(world.store("users"), world.store("notifications"))
    return OnboardingCommands(world.store("users"), users, LedgerService(world.store("credits")), rewards)


def _user(world, name="alice"):
    user = world.user(name)
    world.given(user_stream_id(user.id), UserCreated(user_id=user.id, email=user.email), user_id=user.id)
    return user


class OnboardingStories:
    def test_a_step_is_completed_once(self, world):
        alice, onboarding = _user(world), _commands(world)
        record = world.when(lambda: onboarding.complete_step(alice, STEP))
        world.then(expect("OnboardingStepCompleted", onboarding_stream_id(alice.id), user_id=alice.id, step="WELCOME"))
        assert record.completed_steps == [STEP] and not record.is_completed
        world.when(lambda: onboarding.complete_step(alice, STEP))
        world.then()

    def test_the_first_onboarding_write_also_records_the_user(self, world):
        alice, onboarding = world.user("alice"), _commands(world)
        world.when(lambda: onboarding.complete_step(alice, OnboardingStep.CONGRATS))
        world.then(expect("UserCreated", user_stream_id(alice.id)), expect("OnboardingStepCompleted", step="CONGRATS"))
        assert onboarding.load(alice.id).is_completed

    def test_a_rewarded_step_grants_its_credits_once(self, world):
        alice, onboarding = _user(world), _commands(world, {"WELCOME": 300})
        record = world.when(lambda: onboarding.complete_step(alice, STEP))
        world.then(expect("CreditsGranted", ledger_stream_id(alice.id), transaction_key=f"REWARD-{alice.id}-WELCOME",
                          amount=300),
                   expect("OnboardingStepCompleted", step="WELCOME"),
                   expect("OnboardingRewarded", step="WELCOME", amount=300, transaction_key=reward_key(alice.id, STEP)))
        assert record.rewarded_for == [STEP]
        world.when(lambda: onboarding.complete_step(alice, STEP))
        world.then()

    def test_a_reward_interrupted_after_the_grant_is_finished_without_a_second_grant(self, world):
        alice, onboarding = _user(world), _commands(world, {"WELCOME": 300})
        LedgerService(world.store("credits")).grant(alice.id, 300, reward_key(alice.id, STEP), "Reward")
        world.given(onboarding_stream_id(alice.id), OnboardingStepCompleted(user_id=alice.id, step="WELCOME"))
        world.when(lambda: onboarding.complete_step(alice, STEP))
        world.then(expect("OnboardingRewarded", step="WELCOME"))
        assert LedgerService(world.store("credits")).load(alice.id).balance == 300

    def test_a_step_without_a_reward_grants_nothing(self, world):
        alice, onboarding = _user(world), _commands(world, {"WELCOME": 0, "CONGRATS": 100})
        world.when(lambda: onboarding.complete_step(alice, STEP))
        world.then(expect("OnboardingStepCompleted"))

    def test_patch_records_only_what_changes(self, world):
        alice, onboarding = _user(world), _commands(world)
        world.given(onboarding_stream_id(alice.id), OnboardingUpdated(
            user_id=alice.id, changes={"walletShown": True, "notified": ["WELCOME"], "usageReason": "fun"}))
        world.when(lambda: onboarding.update(alice, {"walletShown": False, "usageReason": "fun",
                                                     "notified": ["WELCOME", "CONGRATS"], "integrations": ["x"]}))
        world.then(expect("OnboardingUpdated", changes={"notified": ["CONGRATS"], "integrations": ["x"]}))
        record = onboarding.load(alice.id)
        assert record.wallet_shown and [s.value for s in record.notified] == ["WELCOME", "CONGRATS"]
        world.when(lambda: onboarding.update(alice, {"walletShown": True, "integrations": ["x"]}))
        world.then()

    def test_patch_bounds_are_refused(self, world):
        alice, onboarding = _user(world), _commands(world)
        world.refused(InvalidCommand, lambda: onboarding.update(alice, {"notified": ["NOPE"]}), match="WELCOME")
        world.refused(InvalidCommand, lambda: onboarding.update(alice, {"usageReason": "x" * 1001}))
        world.refused(InvalidCommand, lambda: onboarding.update(alice, {"agentInput": {"x": "y" * 70_000}}))

    def test_reset_clears_the_progress_and_keeps_the_rewards(self, world):
        alice, onboarding = _user(world), _commands(world, {"WELCOME": 300})
        world.given(onboarding_stream_id(alice.id), OnboardingStepCompleted(user_id=alice.id, step="WELCOME"),
                    OnboardingRewarded(user_id=alice.id, step="WELCOME", amount=300,
                                       transaction_key=reward_key(alice.id, STEP)),
                    OnboardingUpdated(user_id=alice.id, changes={"walletShown": True, "agentInput": {"a": 1}}))
        record = world.when(lambda: onboarding.reset(alice))
        world.then(expect("OnboardingReset", user_id=alice.id))
        assert (record.completed_steps, record.wallet_shown, record.agent_input) == ([], False, None)
        assert record.rewarded_for == [STEP]
        world.when(lambda: onboarding.reset(alice))
        world.then()
        world.when(lambda: onboarding.complete_step(alice, STEP))
        world.then(expect("OnboardingStepCompleted"))  # completed again, never rewarded again
