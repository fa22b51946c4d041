"""The cost summary's window rules (``services/domain/executions/costs.py``)."""

from datetime import UTC, datetime, timedelta

import pytest

from services.domain.errors import InvalidCommand
from services.domain.executions.costs import cost_window

NOW = datetime(2026, 12, 3, 10, 30, tzinfo=UTC)


def test_the_default_window_is_the_current_month_to_now():
    assert cost_window(None, None, NOW) == (datetime(2026, 12, 1, tzinfo=UTC), NOW)


def test_a_time_without_an_offset_is_utc_and_offsets_are_converted():
    since, until = cost_window(datetime(2026, 11, 1), datetime.fromisoformat("2026-11-02T02:00:00+02:00"), NOW)
    assert since == datetime(2026, 11, 1, tzinfo=UTC) and until == datetime(2026, 11, 2, tzinfo=UTC)


def test_an_inverted_or_over_long_window_is_refused():
    with pytest.raises(InvalidCommand, match="earlier than"):
        cost_window(NOW, NOW - timedelta(seconds=1), NOW)
    with pytest.raises(InvalidCommand, match="366 days"):
        cost_window(NOW - timedelta(days=367), None, NOW)
    assert cost_window(NOW - timedelta(days=366), None, NOW)[0] == NOW - timedelta(days=366)
