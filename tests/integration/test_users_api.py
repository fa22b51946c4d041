"""Users, preferences, onboarding and the unsubscribe link over HTTP against the real stack (store,
relay, broker, projector; no executor), and the user and onboarding stories on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from schemas.events.notifications import NotificationType
from services.domain.notifications.links import unsubscribe_token
from services.infra.eventstore import EventStore
from tests.conftest import drop_schema, isolated_settings
from tests.integration.stack import running_stack
from tests.integration.test_api_keys import EXT, external, new_key
from tests.stories.onboarding import OnboardingStories
from tests.stories.postgres import migrated_datastore
from tests.stories.users import UserStories
from tests.stories.world import World

REWARDS = {"WELCOME": 250, "AGENT_NEW_RUN": 300}
TYPES = [t.value for t in NotificationType]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    settings = isolated_settings(database_url, broker.bootstrap, onboarding_rewards=REWARDS)
    async with running_stack(settings) as running:
        yield running
    drop_schema(database_url, settings.db_schema)


async def test_the_autogpt_client_sequence(stack, user_ids):
    alice_id = user_ids["alice"]
    async with stack.client(alice_id) as alice:
        first = await alice.post("/api/auth/user")
        second = await alice.post("/api/auth/user")
        assert first.status_code == second.status_code == 200, first.text
        assert (first.headers["X-AutoGPT-User-Created"], second.headers["X-AutoGPT-User-Created"]) == ("true", "false")
        assert first.json() == second.json()
        user = first.json()
        assert (user["id"], user["email"], user["name"], user["timezone"]) == (alice_id, f"{alice_id}@example.com",
                                                                               None, "not-set")
        assert user["email_verified"] is True and user["max_emails_per_day"] == 3 and user["notify_on_agent_run"]

        assert (await alice.get("/api/auth/user/timezone")).json() == {"timezone": "not-set"}
        r = await alice.post("/api/auth/user/timezone", json={"timezone": "Europe/Paris"})
        assert r.status_code == 200 and r.json() == {"timezone": "Europe/Paris"}
        assert (await alice.get("/api/auth/user/timezone")).json() == {"timezone": "Europe/Paris"}

        prefs = (await alice.get("/api/auth/user/preferences")).json()
        assert prefs["preferences"] == dict.fromkeys(TYPES, True) and prefs["daily_limit"] == 3
        assert prefs["emails_sent_today"] == 0 and prefs["last_reset_date"].endswith("T00:00:00+00:00")
        r = await alice.post("/api/auth/user/preferences", json={
            "email": f"{alice_id}@example.com", "preferences": {"AGENT_RUN": False, "LOW_BALANCE": False},
            "daily_limit": 0})
        assert r.status_code == 200, r.text
        assert r.json() == (await alice.get("/api/auth/user/preferences")).json()
        assert r.json()["preferences"] == {**dict.fromkeys(TYPES, True), "AGENT_RUN": False, "LOW_BALANCE": False}
        assert r.json()["daily_limit"] == 0  # AutoGPT drops a 0; it is a real cap here

        r = await alice.post("/api/auth/user/email", json=f"new-{alice_id}@example.com")
        assert r.status_code == 200 and r.json() == {"email": f"new-{alice_id}@example.com"}
        r = await alice.post("/api/auth/user/email", json={"email": f"alice-{alice_id}@example.com"})
        assert r.json() == {"email": f"alice-{alice_id}@example.com"}

        r = await alice.put("/api/user", json={"name": "  Alice  ", "timezone": "Asia/Tokyo"})
        assert r.status_code == 200, r.text
        profile = (await alice.get("/api/user")).json()
        assert profile == r.json()
        assert (profile["name"], profile["timezone"], profile["email"]) == ("Alice", "Asia/Tokyo",
                                                                            f"alice-{alice_id}@example.com")
        assert (profile["notify_on_agent_run"], profile["notify_on_low_balance"], profile["max_emails_per_day"]) == (
            False, False, 0)
        assert profile["created_at"] == user["created_at"] and profile["updated_at"] > user["updated_at"]

        credits = await alice.get("/api/user/credits")
        assert credits.status_code == 200 and credits.json() == (await alice.get("/api/credits")).json()

        r = await alice.post("/api/user/api-keys", json={"name": "seed", "permissions": ["IDENTITY"]})
        assert r.status_code == 200, r.text
        key_id, plain = r.json()["api_key"]["id"], r.json()["plain_text_key"]
        listed = (await alice.get("/api/user/api-keys")).json()
        assert [k["id"] for k in listed] == [key_id] == [k["id"] for k in (await alice.get("/api/api-keys")).json()]

        async with external(stack, plain) as ext:
            me = (await ext.get(f"{EXT}/me")).json()
        assert me == {"id": alice_id, "name": "Alice", "email": f"alice-{alice_id}@example.com",
                      "timezone": "Asia/Tokyo"}


async def test_a_user_never_created_reads_the_defaults_and_external_me_too(stack, user_ids):
    async with stack.client(user_ids["carol"]) as carol:
        _, plain = await new_key(carol, ["IDENTITY"])
        async with external(stack, plain) as ext:
            me = (await ext.get(f"{EXT}/me")).json()
        assert (me["name"], me["timezone"]) == (None, "not-set")
        profile = (await carol.get("/api/user")).json()
        assert (profile["name"], profile["timezone"], profile["email"]) == (None, "not-set",
                                                                            f"{user_ids['carol']}@example.com")
        created = await carol.post("/api/auth/user")
        assert created.headers["X-AutoGPT-User-Created"] == "true"  # the reads wrote nothing


@pytest.mark.parametrize("method, path, body, needle", [
    ("POST", "/api/auth/user/email", "not-an-email", "Invalid email"),
    ("POST", "/api/auth/user/email", {"email": "a@b@c"}, "Invalid email"),
    ("POST", "/api/auth/user/timezone", {"timezone": "Mars/Olympus"}, "Unknown time zone"),
    ("POST", "/api/auth/user/timezone", {"timezone": "not-set"}, "cannot be chosen"),
    ("POST", "/api/auth/user/preferences", {"preferences": {"SPAM": True}}, "'SPAM'"),
    ("POST", "/api/auth/user/preferences", {"preferences": {}, "daily_limit": 100000}, "daily_limit"),
    ("PUT", "/api/user", {"timezone": "europe/paris"}, "Unknown time zone"),
    ("PUT", "/api/user", {"name": "x" * 201}, "200"),
    ("PUT", "/api/user", {"nickname": "x"}, "Extra inputs"),
    ("PATCH", "/api/onboarding", {"usageReason": "x" * 1001}, "usageReason"),
    ("PATCH", "/api/onboarding", {"integrations": ["x"] * 101}, "integrations"),
    ("PATCH", "/api/onboarding", {"notified": ["NOPE"]}, "Invalid onboarding step"),
    ("PATCH", "/api/onboarding", {"agentInput": {"x": "y" * 70_000}}, "agentInput"),
])
async def test_bad_input_is_422_with_a_message_and_records_nothing(stack, user_ids, method, path, body, needle):
    async with stack.client(user_ids["bob"]) as bob:
        r = await bob.request(method, path, json=body)
        assert r.status_code == 422, r.text
        assert needle in str(r.json()["detail"])
        assert (await bob.post("/api/auth/user")).headers["X-AutoGPT-User-Created"] == "true"


async def test_onboarding_steps_are_idempotent_and_the_reward_is_granted_once(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        empty = await alice.get("/api/onboarding")
        assert empty.status_code == 200 and empty.json()["completedSteps"] == [] and empty.json()["updatedAt"] is None
        before = (await alice.get("/api/credits")).json()["credits"]
        answers = await asyncio.gather(*(alice.post("/api/onboarding/step", params={"step": "WELCOME"})
                                         for _ in range(4)))
        assert [(r.status_code, r.json()) for r in answers] == [(200, None)] * 4
        assert (await alice.get("/api/credits")).json()["credits"] == before + 250
        assert (await alice.post("/api/onboarding/step", params={"step": "WELCOME"})).status_code == 200
        assert (await alice.post("/api/onboarding/step", params={"step": "USAGE_REASON"})).status_code == 200
        assert (await alice.get("/api/credits")).json()["credits"] == before + 250
        record = (await alice.get("/api/onboarding")).json()
        assert record["completedSteps"] == ["WELCOME", "USAGE_REASON"] and record["rewardedFor"] == ["WELCOME"]
        assert (await alice.get("/api/onboarding/completed")).json() == {"is_completed": False}

        for step in ("RUN_AGENTS_100", "welcome", "NOPE", ""):
            r = await alice.post("/api/onboarding/step", params={"step": step})
            assert r.status_code == 422 and "CONGRATS" in str(r.json()["detail"]), r.text

        r = await alice.patch("/api/onboarding", json={"walletShown": True, "notified": ["WELCOME"],
                                                       "usageReason": "fun", "agentInput": {"topic": "x"}})
        assert r.status_code == 200, r.text
        r = await alice.patch("/api/onboarding", json={"walletShown": False, "notified": ["CONGRATS"]})
        assert (r.json()["walletShown"], r.json()["notified"], r.json()["usageReason"]) == (
            True, ["WELCOME", "CONGRATS"], "fun")

        await alice.post("/api/onboarding/step", params={"step": "ONBOARDING_COMPLETE"})
        assert (await alice.get("/api/onboarding/completed")).json() == {"is_completed": True}
        reset = await alice.post("/api/onboarding/reset")
        assert reset.status_code == 200 and reset.json() == (await alice.get("/api/onboarding")).json()
        assert (reset.json()["completedSteps"], reset.json()["walletShown"], reset.json()["rewardedFor"]) == (
            [], False, ["WELCOME"])
        await alice.post("/api/onboarding/step", params={"step": "WELCOME"})
        assert (await alice.get("/api/credits")).json()["credits"] == before + 250  # never rewarded twice


async def test_the_unsubscribe_link_turns_every_email_off(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client() as anon:
        await alice.post("/api/auth/user")
        token = unsubscribe_token(stack.settings.api_key_secret, user_ids["alice"])
        for bad in ("", "garbage", unsubscribe_token("another-secret", user_ids["alice"]), token[:-2]):
            r = await anon.post("/api/email/unsubscribe", params={"token": bad} if bad else None)
            assert r.status_code == 400 and "unsubscribe" in r.json()["detail"], r.text
        assert (await anon.post("/api/email/unsubscribe", params={"token": "x" * 1001})).status_code == 422
        assert all((await alice.get("/api/auth/user/preferences")).json()["preferences"].values())
        r = await anon.post("/api/email/unsubscribe", params={"token": token})
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        prefs = (await alice.get("/api/auth/user/preferences")).json()
        assert prefs["preferences"] == dict.fromkeys(TYPES, False) and prefs["daily_limit"] == 3
        assert not any(v for k, v in (await alice.get("/api/user")).json().items() if k.startswith("notify_on_"))


async def test_one_users_changes_are_invisible_to_another(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        await alice.put("/api/user", json={"name": "Alice", "timezone": "Europe/Berlin"})
        await alice.post("/api/auth/user/preferences", json={"preferences": {"AGENT_RUN": False}, "daily_limit": 9})
        await alice.patch("/api/onboarding", json={"usageReason": "secret"})
        await alice.post("/api/onboarding/step", params={"step": "CONGRATS"})
        await alice.post("/api/user/api-keys", json={"name": "alice's", "permissions": []})
        profile = (await bob.get("/api/user")).json()
        assert (profile["id"], profile["name"], profile["timezone"]) == (user_ids["bob"], None, "not-set")
        assert (await bob.get("/api/auth/user/timezone")).json() == {"timezone": "not-set"}
        prefs = (await bob.get("/api/auth/user/preferences")).json()
        assert prefs["user_id"] == user_ids["bob"] and all(prefs["preferences"].values()) and prefs["daily_limit"] == 3
        record = (await bob.get("/api/onboarding")).json()
        assert (record["userId"], record["usageReason"], record["completedSteps"]) == (user_ids["bob"], None, [])
        assert (await bob.get("/api/onboarding/completed")).json() == {"is_completed": False}
        assert (await bob.get("/api/user/api-keys")).json() == []
        await bob.post("/api/onboarding/reset")
        assert (await alice.get("/api/onboarding")).json()["usageReason"] == "secret"


async def test_every_route_needs_a_token_except_the_unsubscribe_link(stack):
    async with stack.client() as anon:
        for method, path in [("POST", "/api/auth/user"), ("GET", "/api/auth/user/timezone"), ("GET", "/api/user"),
                             ("GET", "/api/auth/user/preferences"), ("GET", "/api/onboarding"),
                             ("POST", "/api/onboarding/reset"), ("GET", "/api/user/credits"),
                             ("GET", "/api/user/api-keys")]:
            assert (await anon.request(method, path)).status_code == 401, path


# -- the stories on PostgreSQL ----------------------------------------------------------------


@pytest.fixture(scope="module")
def datastore(database_url):
    with migrated_datastore(database_url) as datastore:
        yield datastore


@pytest.fixture
def world(datastore) -> World:
    return World(lambda context: EventStore(datastore, context))


class TestUserStoriesOnPostgres(UserStories):
    pass


class TestOnboardingStoriesOnPostgres(OnboardingStories):
    pass
