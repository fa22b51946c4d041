"""The contract between AI blocks and language-model providers.

Blocks never speak HTTP to a provider themselves: they build an ``LlmRequest`` and hand it, with
the resolved credentials, to the ``LlmCaller`` found on their ``RunContext``. That keeps blocks
pure and testable with a fake caller, and keeps every provider concern (base URLs, timeouts,
retries on 429/5xx, wire formats) in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from services.domain.integrations.credentials import APIKeyCredentials


@dataclass(frozen=True)
class LlmRequest:
    model: str
    # [{"role": "system"|"user"|"assistant", "content": str}, ...] in conversation order.
    messages: list[dict[str, Any]]
    max_tokens: int | None = None
    # Ask the provider for a JSON object answer where it supports it (OpenAI ``response_format``).
    json_output: bool = False
    # Ollama's host:port from the block input; only used for the ``ollama`` provider.
    ollama_host: str | None = None


@dataclass
class LlmResponse:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    stop_reason: str | None = None
    reasoning: str | None = None
    # HTTP attempts beyond the first (429/5xx/timeouts retried by the caller).
    transport_retries: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


class LlmError(Exception):
    """A provider call that failed for good: the message is safe to show the user (never a key)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable


class LlmCaller(Protocol):
    """Sends one chat request to the provider serving ``request.model`` with ``credentials``."""

    async def complete(self, credentials: APIKeyCredentials, request: LlmRequest) -> LlmResponse: ...
