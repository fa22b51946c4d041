"""The Anthropic messages wire format (``POST {base_url}/v1/messages``).

Anthropic differs from the OpenAI shape in ways that would otherwise fail at the provider: the
system prompt is a top-level field rather than a message, ``max_tokens`` is required, and turns
must alternate user/assistant starting with a user turn. ``normalise_messages`` reshapes any
conversation the blocks build into that form; ``build_messages_request`` and
``parse_messages_response`` are pure, so the gateway alone does I/O, retries and error messages.
A JSON answer is asked for in the prompt only: the messages API has no ``response_format``.
"""

from __future__ import annotations

from typing import Any

from services.domain.llm.models import model_info
from services.domain.llm.types import LlmRequest, LlmResponse

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
MAX_DEFAULT_MAX_TOKENS = 8192

# Anthropic requires the conversation to open with a non-empty user turn; this stands in for one
# when the blocks' conversation starts with the assistant (or has no turns besides the system).
OPENING_USER_TURN = "(continue)"

_SYSTEM_ROLES = frozenset({"system", "developer"})


def default_max_tokens(model: str) -> int:
    """The model's own output limit capped at 8192 (a sane bill for one call), else 4096."""
    info = model_info(model)
    if info is None or not info.max_output_tokens:
        return DEFAULT_MAX_TOKENS
    return min(info.max_output_tokens, MAX_DEFAULT_MAX_TOKENS)


def normalise_messages(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """Split out the system prompt and make the turns valid for Anthropic.

    System messages are joined with blank lines; consecutive same-role turns are merged (joined
    with blank lines); empty turns are dropped (Anthropic rejects empty text); a placeholder user
    turn is prepended if the conversation would start with the assistant; and a final assistant
    turn (a prefill) loses trailing whitespace, which Anthropic also rejects.
    """
    system_parts: list[str] = []
    turns: list[dict[str, str]] = []
    for message in messages:
        role = message.get("role", "user")
        text = _text_of(message.get("content"))
        if role in _SYSTEM_ROLES:
            if text.strip():
                system_parts.append(text)
            continue
        if role != "assistant":
            role = "user"
        if not text.strip():
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + text
        else:
            turns.append({"role": role, "content": text})
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": OPENING_USER_TURN})
    if turns[-1]["role"] == "assistant":
        turns[-1]["content"] = turns[-1]["content"].rstrip()
    return "\n\n".join(system_parts), turns


def build_messages_request(
    request: LlmRequest, *, base_url: str, api_key: str
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The (url, headers, json body) of one messages call."""
    system, turns = normalise_messages(request.messages)
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or default_max_tokens(request.model),
        "messages": turns,
    }
    if system:
        body["system"] = system
    headers = {
        "x-api-key": api_key,
        "anthropic-version": ANTHROPIC_VERSION,
        "content-type": "application/json",
    }
    return f"{base_url.rstrip('/')}/v1/messages", headers, body


def parse_messages_response(data: Any, requested_model: str) -> LlmResponse:
    """Read text (all text blocks joined), usage, stop reason and any thinking from an answer.

    Raises ``ValueError`` (naming what is missing) when the answer does not have the expected shape.
    """
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    content = data.get("content")
    if not isinstance(content, list):
        raise ValueError("no content blocks in the answer")
    blocks = [b for b in content if isinstance(b, dict)]
    text = "".join(b["text"] for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str))
    thinking = "".join(
        b["thinking"] for b in blocks if b.get("type") == "thinking" and isinstance(b.get("thinking"), str)
    )
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return LlmResponse(
        text=text,
        prompt_tokens=_count(usage.get("input_tokens")),
        completion_tokens=_count(usage.get("output_tokens")),
        model=data.get("model") if isinstance(data.get("model"), str) else requested_model,
        stop_reason=data.get("stop_reason"),
        reasoning=thinking or None,
        raw=data,
    )


def _text_of(content: Any) -> str:
    """Blocks send strings; tolerate a list of ``{type, text}`` parts as the OpenAI shape allows."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return str(content)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
