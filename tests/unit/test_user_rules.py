"""The users context's rules: emails, IANA time zones, names, caps and preference keys, and how the
request models turn a refusal into a 422 with the rule's message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas.events.notifications import NotificationType
from services.command_api.api.users import NotificationPreferenceDTO, UpdateTimezoneRequest, UpdateUserRequest
from services.domain.errors import InvalidCommand
from services.domain.users import rules
from services.domain.users.shapes import NOTIFY_FIELDS, user_view
from services.domain.users.user import UserAccount


@pytest.mark.parametrize("email, normal", [("alice@example.com", "alice@example.com"),
                                           (" Bob@EXAMPLE.Org ", "Bob@example.org"),
                                           ("δοκιμή@παράδειγμα.δοκιμή", "δοκιμή@παράδειγμα.δοκιμή")])
def test_valid_emails_come_back_normalised(email, normal):
    assert rules.clean_email(email) == normal


@pytest.mark.parametrize("email", ["", "  ", "plain", "a@", "@b.com", "a@b@c.com", "a b@c.com", "a@localhost",
                                   "x" * 250 + "@b.co", "a@b.com\r\nBcc: evil@x.com"])
def test_invalid_emails_are_refused(email):
    with pytest.raises(InvalidCommand):
        rules.clean_email(email)


def test_time_zones_must_be_exact_iana_names():
    assert rules.check_timezone("Europe/Paris") == "Europe/Paris"
    assert rules.check_timezone("UTC") == "UTC"
    for bad in ("europe/paris", "Europe/Paris ", "Mars/Olympus", "not-set", "", "x" * 500, "Europe/../etc/passwd"):
        with pytest.raises(InvalidCommand):
            rules.check_timezone(bad)
    assert rules.timezone_names() is rules.timezone_names()  # read once


def test_names_are_stripped_bounded_and_empty_clears():
    assert rules.clean_name("  Alice ") == "Alice"
    assert rules.clean_name("   ") is None and rules.clean_name(None) is None
    assert rules.clean_name("x" * 200) == "x" * 200
    with pytest.raises(InvalidCommand, match="200"):
        rules.clean_name("x" * 201)


def test_daily_limit_bounds():
    assert rules.check_daily_limit(0) == 0 and rules.check_daily_limit(1000) == 1000
    for bad in (-1, 1001, True, 2**63):
        with pytest.raises(InvalidCommand):
            rules.check_daily_limit(bad)


def test_preference_keys_must_be_notification_types_and_the_refusal_names_the_key():
    assert rules.parse_preferences({"AGENT_RUN": False}) == {NotificationType.AGENT_RUN: False}
    with pytest.raises(InvalidCommand, match="'agent_run'"):
        rules.parse_preferences({"agent_run": False})
    with pytest.raises(InvalidCommand, match="true or false"):
        rules.parse_preferences({"AGENT_RUN": "yes"})


def test_request_models_answer_the_rules_as_validation_errors():
    with pytest.raises(ValidationError, match="Unknown time zone"):
        UpdateTimezoneRequest(timezone="Nowhere/Land")
    with pytest.raises(ValidationError, match="Unknown notification type"):
        NotificationPreferenceDTO(preferences={"NOPE": True})
    with pytest.raises(ValidationError, match="Invalid email"):
        NotificationPreferenceDTO(email="nope")
    with pytest.raises(ValidationError, match="daily_limit"):
        NotificationPreferenceDTO(daily_limit=5000)
    with pytest.raises(ValidationError, match="extra"):
        UpdateUserRequest(nickname="x")
    body = UpdateUserRequest(name=None)
    assert "name" in body.model_fields_set and body.email is None


def test_the_user_shape_answers_the_stored_switches():
    account = UserAccount("u1", email="u@example.com", stream_version=1)
    account.preferences[NotificationType.LOW_BALANCE] = False
    view = user_view(account, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert view["notify_on_low_balance"] is False and view["notify_on_agent_run"] is True
    assert set(NOTIFY_FIELDS) <= set(view) and view["timezone"] == "not-set" and view["max_emails_per_day"] == 3
    assert not account.wants_email("NOT_A_TYPE")
