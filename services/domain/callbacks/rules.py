"""Bounds of a callback (pure), each in one place. The URL's parse (host, port, no user info) and
its address policy (SSRF) are not here: they need a URL parser and DNS, so the command handler
applies ``services.blocks.net_policy`` after these."""

from __future__ import annotations

from services.domain.errors import InvalidCommand

MAX_URL = 2048
MAX_DESCRIPTION = 500
MAX_CALLBACKS_PER_USER = 20  # each one is an outbound request per run end: a standing load
EVENTS = ("execution.completed", "execution.failed", "execution.terminated")
MAX_DELIVERIES_PAGE_SIZE = 100


def check_url(url: str) -> str:
    cleaned = (url or "").strip()
    if not cleaned or len(cleaned) > MAX_URL:
        raise InvalidCommand(f"url must be 1 to {MAX_URL} characters")
    if not cleaned.lower().startswith(("http://", "https://")):
        raise InvalidCommand("url must be an http or https URL")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in cleaned):
        raise InvalidCommand("url may not contain spaces or control characters")
    return cleaned


def check_events(events: list[str]) -> list[str]:
    if not events:
        raise InvalidCommand(f"events must name at least one of {', '.join(EVENTS)}")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise InvalidCommand(f"unknown event(s) {', '.join(repr(e)[:60] for e in unknown[:5])}; "
                             f"expected some of {', '.join(EVENTS)}")
    return [e for e in EVENTS if e in events]  # canonical order, no repeats


def check_description(description: str | None) -> str:
    cleaned = (description or "").strip()
    if len(cleaned) > MAX_DESCRIPTION:
        raise InvalidCommand(f"description may be at most {MAX_DESCRIPTION} characters")
    return cleaned
