"""Stories of ``UserCommands``: get-or-create from the claims, email, name, time zone,
preferences, the unsubscribe link, and reads that write nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.events.notifications import EmailQuotaUsed, NotificationType
from schemas.events.users import NotificationPreferencesSet, UserCreated, UserTimezoneSet
from services.command_api.application.users import UserCommands
from services.domain.errors import InvalidCommand
from services.domain.notifications.ids import mail_day_id
from services.domain.users.user import user_stream_id
from services.infra.auth import User
from tests.stories.fakes import RacingWriter
from tests.stories.world import expect

ALL_OFF = dict.fromkeys((t.value for t in NotificationType), False)


def _commands(world, store=None) -> UserCommands:
    return UserCommands(store or world.store("users"), world.store("notifications"))


def _recorded(world, user: User, *later) -> None:
    world.given(user_stream_id(user.id), UserCreated(user_id=user.id, email=user.email, name="Alice"), *later,
                user_id=user.id)


class UserStories:
    def test_the_first_call_creates_the_user_from_the_claims_and_the_second_finds_it(self, world):
        alice, users = world.user("alice"), _commands(world)
        account, created = world.when(lambda: users.get_or_create(alice))
        world.then(expect("UserCreated", user_stream_id(alice.id), user_id=alice.id, email=alice.email, name=None))
        assert created and (account.timezone, account.daily_limit, account.stream_version) == ("not-set", 3, 1)
        account, created = world.when(lambda: users.get_or_create(alice))
        world.then()
        assert not created and account.email == alice.email

    def test_two_racing_first_calls_record_one_user(self, world):
        alice, store = world.user("alice"), world.store("users")
        rival = _commands(world)
        users = _commands(world, RacingWriter(store, lambda: rival.get_or_create(alice)))
        account = world.when(lambda: users.set_timezone(alice, "Europe/Paris"))
        world.then(expect("UserCreated", user_id=alice.id), expect("UserTimezoneSet", timezone="Europe/Paris"))
        assert account.stream_version == 2 and account.timezone == "Europe/Paris"

    def test_the_loser_of_a_race_to_create_is_told_it_did_not_create(self, world):
        alice, store = world.user("alice"), world.store("users")
        rival = _commands(world)
        users = _commands(world, RacingWriter(store, lambda: rival.get_or_create(alice)))
        account, created = world.when(lambda: users.get_or_create(alice))
        world.then(expect("UserCreated", user_id=alice.id))
        assert not created and account.stream_version == 1

    def test_a_change_for_a_user_not_recorded_yet_creates_it_in_the_same_append(self, world):
        alice, users = world.user("alice"), _commands(world)
        world.when(lambda: users.set_timezone(alice, "America/New_York"))
        world.then(expect("UserCreated", user_stream_id(alice.id)),
                   expect("UserTimezoneSet", timezone="America/New_York"))

    def test_reads_write_nothing_and_answer_the_claims_defaults(self, world):
        alice, users = world.user("alice"), _commands(world)
        account = world.when(lambda: users.view(alice))
        world.then()
        assert (account.email, account.name, account.timezone) == (alice.email, None, "not-set")
        assert all(account.preferences.values()) and len(account.preferences) == len(NotificationType)

    def test_email_changes_once_normalised_and_a_bad_one_is_refused(self, world):
        alice, users = world.user("alice"), _commands(world)
        _recorded(world, alice)
        world.when(lambda: users.change_email(alice, " new@EXAMPLE.org "))
        world.then(expect("UserEmailChanged", user_stream_id(alice.id), email="new@example.org"))
        world.when(lambda: users.change_email(alice, "new@example.org"))
        world.then()
        world.refused(InvalidCommand, lambda: users.change_email(alice, "not-an-email"), match="Invalid email")

    def test_time_zones_are_iana_names_exactly(self, world):
        alice, users = world.user("alice"), _commands(world)
        _recorded(world, alice, UserTimezoneSet(timezone="Europe/Paris"))
        world.when(lambda: users.set_timezone(alice, "Europe/Paris"))
        world.then()
        for bad in ("Mars/Olympus", "europe/paris", "not-set", ""):
            world.refused(InvalidCommand, lambda bad=bad: users.set_timezone(alice, bad))

    def test_preferences_merge_and_record_the_whole_map(self, world):
        alice, users = world.user("alice"), _commands(world)
        _recorded(world, alice)
        account = world.when(lambda: users.set_preferences(alice, {"AGENT_RUN": False}, 5))
        [event] = world.then(expect("NotificationPreferencesSet", daily_limit=5, via="preferences"))
        assert event.payload["preferences"] == {**dict.fromkeys(ALL_OFF, True), "AGENT_RUN": False}
        assert not account.wants_email("AGENT_RUN") and account.wants_email("LOW_BALANCE")
        account = world.when(lambda: users.set_preferences(alice, {"LOW_BALANCE": False}, None))
        world.then(expect("NotificationPreferencesSet", daily_limit=5,
                          preferences={"AGENT_RUN": False, "LOW_BALANCE": False, "ZERO_BALANCE": True}))
        world.when(lambda: users.set_preferences(alice, {"AGENT_RUN": False}, 5))
        world.then()
        world.when(lambda: users.set_preferences(alice, {}, 0))
        world.then(expect("NotificationPreferencesSet", daily_limit=0))

    def test_unknown_preference_keys_and_caps_out_of_range_are_refused(self, world):
        alice, users = world.user("alice"), _commands(world)
        _recorded(world, alice)
        world.refused(InvalidCommand, lambda: users.set_preferences(alice, {"SPAM": True}, 3), match="'SPAM'")
        world.refused(InvalidCommand, lambda: users.set_preferences(alice, {}, 1001), match="daily_limit")
        world.refused(InvalidCommand, lambda: users.set_preferences(alice, {}, -1), match="daily_limit")

    def test_a_preferences_post_may_change_the_email_in_the_same_append(self, world):
        alice, users = world.user("alice"), _commands(world)
        _recorded(world, alice)
        world.when(lambda: users.set_preferences(alice, {"AGENT_RUN": False}, 3, email="other@example.com"))
        world.then(expect("UserEmailChanged", email="other@example.com"), expect("NotificationPreferencesSet"))

    def test_the_profile_update_is_all_or_nothing(self, world):
        alice, users = world.user("alice"), _commands(world)
        _recorded(world, alice)
        world.refused(InvalidCommand, lambda: users.update_profile(alice, name="Al", timezone="Nowhere/Land"))
        account = world.when(lambda: users.update_profile(alice, name="  Al  ", timezone="Asia/Tokyo"))
        world.then(expect("UserNameChanged", name="Al"), expect("UserTimezoneSet", timezone="Asia/Tokyo"))
        assert (account.name, account.timezone) == ("Al", "Asia/Tokyo")
        world.when(lambda: users.update_profile(alice, name=None))
        world.then(expect("UserNameChanged", name=None))
        world.refused(InvalidCommand, lambda: users.update_profile(alice, name="x" * 201), match="200")

    def test_unsubscribing_turns_every_email_off_once_and_keeps_the_cap(self, world):
        alice, users = world.user("alice"), _commands(world)
        _recorded(world, alice, NotificationPreferencesSet(preferences={}, daily_limit=7))
        account = world.when(lambda: users.unsubscribe(alice.id))
        world.then(expect("NotificationPreferencesSet", preferences=ALL_OFF, daily_limit=7, via="unsubscribe_link"))
        assert not any(account.wants_email(t) for t in NotificationType)
        world.when(lambda: users.unsubscribe(alice.id))
        world.then()

    def test_unsubscribing_a_user_never_recorded_writes_nothing(self, world):
        world.when(lambda: _commands(world).unsubscribe(world.user("ghost").id))
        world.then()

    def test_emails_sent_today_counts_the_mail_day_stream(self, world):
        alice = world.user("alice")
        now = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)
        users = UserCommands(world.store("users"), world.store("notifications"), now=lambda: now)
        day = mail_day_id(alice.id, "2026-12-03")
        world.given(day, *(EmailQuotaUsed(user_id=alice.id, day="2026-12-03", notification_id=f"n{i}")
                           for i in range(2)), user_id=alice.id)
        assert users.emails_sent_today(alice.id) == (2, datetime(2026, 12, 3, tzinfo=UTC))

    def test_one_users_changes_never_touch_anothers(self, world):
        alice, bob, users = world.user("alice"), world.user("bob"), _commands(world)
        world.when(lambda: users.set_timezone(alice, "Europe/Berlin"))
        world.then(expect("UserCreated", user_stream_id(alice.id)), expect("UserTimezoneSet", user_stream_id(alice.id)))
        assert users.view(bob).timezone == "not-set"
