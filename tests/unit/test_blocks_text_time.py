"""Focused tests for the tricky corners of the text blocks (bounded regexes, templates) and the time blocks."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.blocks import text, time_blocks
from services.blocks.text import (
    CombineTextsBlock,
    ExtractTextInformationBlock,
    FillTextTemplateBlock,
    MatchTextPatternBlock,
    TextSplitBlock,
)
from services.blocks.time_blocks import (
    CountdownTimerBlock,
    GetCurrentDateAndTimeBlock,
    GetCurrentTimeBlock,
)
from services.domain.blocks.base import BlockInputError, RunContext
from tests.unit.block_runner import run

CATASTROPHIC = r"(a+)+$"
EVIL_TEXT = "a" * 5000 + "!"


# -- text ----------------------------------------------------------------------------------------

def test_extract_text_catastrophic_pattern_is_bounded(monkeypatch):
    monkeypatch.setattr(text, "REGEX_TIMEOUT_SECONDS", 0.5)
    started = time.monotonic()
    out = run(ExtractTextInformationBlock, {"text": EVIL_TEXT, "pattern": CATASTROPHIC, "find_all": True})
    elapsed = time.monotonic() - started
    assert out == [("error", "pattern timed out after 0.5 seconds")]
    assert elapsed < 2.0


def test_match_text_catastrophic_pattern_is_bounded(monkeypatch):
    monkeypatch.setattr(text, "REGEX_TIMEOUT_SECONDS", 0.5)
    started = time.monotonic()
    out = run(MatchTextPatternBlock, {"text": EVIL_TEXT, "match": CATASTROPHIC, "data": "d"})
    assert out[0][0] == "error" and time.monotonic() - started < 2.0


def test_regex_timeout_bounded_without_regex_package(monkeypatch):
    """Stdlib fallback: the match runs in a child process that is killed at the limit."""
    monkeypatch.setattr(text, "_regex", None)
    assert asyncio.run(text.scan_pattern(r"l+", "hello world", first_only=False)) == ["ll", "l"]
    started = time.monotonic()
    with pytest.raises(text.RegexTimeout):
        asyncio.run(text.scan_pattern(CATASTROPHIC, "a" * 60 + "!", timeout=0.5))
    assert time.monotonic() - started < 5.0
    with pytest.raises(ValueError, match="invalid pattern"):
        asyncio.run(text.scan_pattern("(", "x"))


def test_extract_text_invalid_pattern_and_json_text():
    out = run(ExtractTextInformationBlock, {"text": "abc", "pattern": "(unclosed"})
    assert len(out) == 1 and out[0][0] == "error"
    out = run(ExtractTextInformationBlock, {"text": {"id": 42}, "pattern": r'"id": (\d+)', "group": 1})
    assert out == [("positive", "42"), ("matched_results", ["42"]), ("matched_count", 1)]
    # no match: negative carries the original (non-string) value
    assert run(ExtractTextInformationBlock, {"text": [1], "pattern": "z"})[0] == ("negative", [1])


def test_extract_text_dot_all_and_optional_group():
    out = run(ExtractTextInformationBlock, {"text": "a\nb", "pattern": "a.b", "dot_all": False})
    assert out[0] == ("negative", "a\nb")
    out = run(ExtractTextInformationBlock, {"text": "ab", "pattern": "a(x)?b", "group": 1})
    assert out == [("positive", None), ("matched_results", [None]), ("matched_count", 1)]


def test_text_split_empty_text_and_delimiter():
    assert run(TextSplitBlock, {"text": "", "delimiter": ","}) == [("texts", [])]
    assert run(TextSplitBlock, {"text": "a,,b", "delimiter": ","}) == [("texts", ["a", "", "b"])]
    assert run(TextSplitBlock, {"text": "ab", "delimiter": ""})[0][0] == "error"


def test_fill_text_template_sandbox_and_syntax_errors():
    out = run(FillTextTemplateBlock, {"values": {}, "format": "{{ ''.__class__.__mro__ }}"})
    assert out[0][0] == "error" or out == [("output", "")]
    out = run(FillTextTemplateBlock, {"values": {}, "format": "{% for %}"})
    assert out[0][0] == "error"
    assert run(FillTextTemplateBlock, {"values": {"n": 3}, "format": "{{ n * 2 }}"}) == [("output", "6")]


def test_combine_texts_requires_list():
    assert run(CombineTextsBlock, {"input": [], "delimiter": "-"}) == [("output", "")]


# -- time ----------------------------------------------------------------------------------------

def test_use_user_timezone_from_context():
    ctx = RunContext(extra={"user_timezone": "Asia/Kathmandu"})
    fmt = {"discriminator": "iso8601", "timezone": "UTC", "use_user_timezone": True}
    (pin, value), = run(GetCurrentTimeBlock, {"trigger": "x", "format_type": fmt}, ctx)
    assert value.endswith("+05:45")
    fmt["use_user_timezone"] = False
    (pin, value), = run(GetCurrentDateAndTimeBlock, {"trigger": "x", "format_type": fmt}, ctx)
    assert value.endswith("+00:00") and "." not in value


def test_invalid_timezone_is_rejected():
    with pytest.raises(BlockInputError):
        run(GetCurrentTimeBlock, {"trigger": "x", "format_type": {"discriminator": "iso8601", "timezone": "Mars/Base"}})


def test_countdown_sleeps_total_duration_once_per_repeat(monkeypatch):
    slept = []

    async def fake_sleep(seconds):
        slept.append(seconds)

    monkeypatch.setattr(time_blocks.asyncio, "sleep", fake_sleep)
    out = run(CountdownTimerBlock, {"seconds": "5", "minutes": 1, "hours": "1", "days": 1, "repeat": 3})
    assert out == [("output_message", "timer finished")] * 3
    assert slept == [5 + 60 + 3600 + 86400] * 3
