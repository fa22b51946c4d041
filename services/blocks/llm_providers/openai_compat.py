"""The OpenAI chat-completions wire format, spoken by most providers the AI blocks use.

OpenAI, Groq, OpenRouter, AI/ML API, Llama API, v0 and Ollama (through its ``/v1`` endpoint) all
accept ``POST {base_url}/chat/completions`` with the same body and answer with the same shape, so
one pair of pure functions covers them: ``build_chat_request`` turns an ``LlmRequest`` into
(url, headers, body) and ``parse_chat_response`` turns the decoded answer into an ``LlmResponse``.
No I/O happens here; retries, timeouts and error messages are the gateway's job.
"""

from __future__ import annotations

from typing import Any

from services.domain.llm.types import LlmError, LlmRequest, LlmResponse

OPENAI_COMPATIBLE_PROVIDERS = frozenset(
    {"openai", "groq", "open_router", "aiml_api", "llama_api", "v0", "ollama"}
)

# OpenAI's reasoning models reject ``max_tokens`` and want ``max_completion_tokens`` instead.
_REASONING_MODEL_PREFIXES = ("o1", "o3", "gpt-5")

# Ollama ignores the key, but an empty ``Bearer`` header is malformed HTTP for some proxies.
_OLLAMA_PLACEHOLDER_KEY = "ollama"


def uses_max_completion_tokens(provider: str, model: str) -> bool:
    """True for OpenAI reasoning models (o1*, o3*, gpt-5*), which reject ``max_tokens``."""
    return provider == "openai" and model.startswith(_REASONING_MODEL_PREFIXES)


def build_chat_request(
    request: LlmRequest, *, provider: str, base_url: str, api_key: str
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The (url, headers, json body) of one chat-completions call."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [{"role": m.get("role", "user"), "content": m.get("content", "")} for m in request.messages],
    }
    if request.max_tokens is not None:
        limit_field = "max_completion_tokens" if uses_max_completion_tokens(provider, request.model) else "max_tokens"
        body[limit_field] = request.max_tokens
    if request.json_output:
        body["response_format"] = {"type": "json_object"}
    key = api_key or (_OLLAMA_PLACEHOLDER_KEY if provider == "ollama" else "")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return f"{base_url.rstrip('/')}/chat/completions", headers, body


def parse_chat_response(data: Any, requested_model: str) -> LlmResponse:
    """Read text, usage, finish reason and any reasoning from a decoded chat-completions answer.

    Raises ``ValueError`` (naming what is missing) when the answer does not have the expected shape,
    and ``LlmError`` when the model explicitly refused.
    """
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("no choices in the answer")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise ValueError("the first choice has no message")
    content = message.get("content")
    if content is None and isinstance(message.get("refusal"), str) and message["refusal"]:
        raise LlmError(f"The model refused to answer: {message['refusal']}")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return LlmResponse(
        text=_text_of(content),
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")),
        model=data.get("model") if isinstance(data.get("model"), str) else requested_model,
        stop_reason=choices[0].get("finish_reason"),
        reasoning=_reasoning_of(message),
        raw=data,
    )


def _text_of(content: Any) -> str:
    """Content is usually a string; some compatible providers send a list of ``{type, text}`` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    raise ValueError("message content is neither text nor a list of parts")


def _reasoning_of(message: dict[str, Any]) -> str | None:
    """OpenRouter and Ollama call it ``reasoning``; DeepSeek-style APIs ``reasoning_content``."""
    for field_name in ("reasoning", "reasoning_content"):
        value = message.get(field_name)
        if isinstance(value, str) and value:
            return value
    return None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
