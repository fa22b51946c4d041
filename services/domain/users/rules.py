"""What a user may store: email addresses, IANA time zones, display names, notification switches
and the daily email cap (pure).

Each rule lives here once. A refusal is an ``InvalidValue``, which is an ``InvalidCommand`` (a
handler that checks a value answers 400 like any refusal) and also a ``ValueError``, so the request
models call these same functions from their validators and pydantic turns the refusal into the
issue's 422 with the rule's own message: one rule, two callers, never written twice.
"""

from __future__ import annotations

import functools
import zoneinfo

from email_validator import EmailNotValidError, validate_email

from schemas.events.notifications import NotificationType
from services.domain.errors import InvalidCommand

MAX_EMAIL_CHARS = 254  # RFC 5321's limit on a forward path, less the angle brackets
MAX_NAME_CHARS = 200
MAX_TIMEZONE_CHARS = 64  # the longest IANA name is 32 characters
MAX_DAILY_LIMIT = 1000
TIMEZONE_NOT_SET = "not-set"  # AutoGPT's value for a user who never chose a time zone
NOTIFICATION_TYPES = [t.value for t in NotificationType]


class InvalidValue(InvalidCommand, ValueError):
    """A value the rules refuse (400 from a handler; 422 when a request model's validator raises it)."""


def _shown(value: str, limit: int = 60) -> str:
    return repr(value[:limit] + ("…" if len(value) > limit else ""))


def clean_email(email: str) -> str:
    """The address in normal form (the domain lower-cased and IDNA-checked). Syntax only: whether
    the domain receives mail is not asked, so validating never touches the network."""
    if not isinstance(email, str) or not email.strip():
        raise InvalidValue("Email address must not be empty")
    email = email.strip()
    if len(email) > MAX_EMAIL_CHARS:
        raise InvalidValue(f"Email address must be at most {MAX_EMAIL_CHARS} characters")
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidValue(f"Invalid email address {_shown(email)}: {exc}") from None


@functools.cache
def timezone_names() -> frozenset[str]:
    """Every IANA time zone name this runtime knows (read once: the lookup walks the tz database)."""
    return frozenset(zoneinfo.available_timezones())


def check_timezone(timezone: str) -> str:
    """An IANA name, exactly as the database spells it (``Europe/Paris``, not ``europe/paris``).
    ``"not-set"`` is what a user has before choosing, never something to choose."""
    if not isinstance(timezone, str) or not timezone:
        raise InvalidValue("Time zone must not be empty")
    if timezone == TIMEZONE_NOT_SET:
        raise InvalidValue(f"{TIMEZONE_NOT_SET!r} cannot be chosen; send an IANA time zone such as Europe/Paris")
    if len(timezone) > MAX_TIMEZONE_CHARS or timezone not in timezone_names():
        raise InvalidValue(f"Unknown time zone {_shown(timezone)}; expected an IANA name such as Europe/Paris")
    return timezone


def clean_name(name: str | None) -> str | None:
    """The display name stripped; an empty one clears it (AutoGPT's name is optional)."""
    if name is None:
        return None
    name = name.strip()
    if len(name) > MAX_NAME_CHARS:
        raise InvalidValue(f"Name must be at most {MAX_NAME_CHARS} characters")
    return name or None


def check_daily_limit(daily_limit: int) -> int:
    """The daily email cap; 0 means no email at all (AutoGPT ignored 0, which it should not)."""
    if isinstance(daily_limit, bool) or not isinstance(daily_limit, int) or not 0 <= daily_limit <= MAX_DAILY_LIMIT:
        raise InvalidValue(f"daily_limit must be an integer from 0 to {MAX_DAILY_LIMIT}")
    return daily_limit


def parse_preferences(preferences: dict[str, bool]) -> dict[NotificationType, bool]:
    """Email switches keyed by ``NotificationType`` name; an unknown key is refused by name."""
    unknown = [key for key in preferences if key not in NOTIFICATION_TYPES]
    if unknown:
        raise InvalidValue(f"Unknown notification type(s) {', '.join(_shown(str(k), 40) for k in unknown[:5])}; "
                           f"expected any of {', '.join(NOTIFICATION_TYPES)}")
    wrong = [key for key, value in preferences.items() if not isinstance(value, bool)]
    if wrong:
        raise InvalidValue(f"Preference {wrong[0]!r} must be true or false")
    return {NotificationType(key): value for key, value in preferences.items()}
