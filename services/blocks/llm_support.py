"""Shared plumbing of the language-model blocks: input fields, the one model-call seam, usage
accounting, prompt templating and fitting, summary chunking, and the scripted reply the
conformance examples use.

One job: everything an LLM block needs around a single model call. The blocks never talk to a
provider themselves. Each has one ``llm_call(ctx, request)`` method (so the conformance examples
can swap in a scripted fake) that ends in ``ctx.llm.complete``; the gateway behind that port owns
base URLs, HTTP retries and wire formats. What stays here is what AutoGPT's blocks decide *before*
and *after* a call, since exported graphs depend on it: which models and fields the pins accept,
how ``{{var}}`` placeholders are filled, and how tokens are counted. The JSON answer contract and
the retry loop built on these pieces live in ``llm_structured``.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from services.blocks.formatting import render_template
from services.domain.blocks.base import CredentialsField, RunContext, SchemaField
from services.domain.llm.models import (
    DEFAULT_LLM_MODEL,
    LLM_PROVIDERS,
    MODEL_NAMES,
    MODELS,
    discriminator_mapping,
)
from services.domain.llm.types import LlmError, LlmRequest, LlmResponse

OLLAMA_DEFAULT_HOST = "localhost:11434"
MAX_SUMMARY_TEXT_CHARS = 1_000_000
MAX_SUMMARY_CHUNKS = 100
# A made-up credential reference for the conformance examples; the mocked call never reads it.
TEST_CREDENTIALS_INPUT = {"id": "0f3c7a52-4d1e-4b8a-9c6f-2e5d8b1a7c90", "provider": "openai",
                          "type": "api_key", "title": "Example OpenAI key"}

LlmCall = Callable[[RunContext, LlmRequest], "Awaitable[LlmResponse] | LlmResponse"]


class LlmBlockFailure(Exception):
    """A language-model block could not produce its output; the message goes on the error pin."""


# -- input fields --------------------------------------------------------------------------------

def _known_model(value: str) -> str:
    """Accept a model by its exact name, or with a provider prefix AutoGPT also tolerates
    ("anthropic/claude-..."), and reject anything else with a message naming the bad value."""
    if value in MODELS:
        return value
    if "/" in value and value.split("/", 1)[1] in MODELS:
        return value.split("/", 1)[1]
    raise ValueError(f"Unknown model {value!r}: it is not one of the {len(MODEL_NAMES)} supported "
                     f"language models (for example {DEFAULT_LLM_MODEL!r})")


LlmModelName = Annotated[
    str,
    AfterValidator(_known_model),
    WithJsonSchema({"type": "string", "enum": list(MODEL_NAMES), "llm_model": True}),
]


def _stringify_values(value: Any) -> Any:
    """Linked pins often carry numbers, lists or dicts into ``prompt_values``; render them as the
    text the prompt will contain instead of rejecting the node (AutoGPT converts them too)."""
    if not isinstance(value, dict):
        return value
    return {str(k): v if isinstance(v, str) else ("" if v is None else json.dumps(v))
            for k, v in value.items()}


PromptValues = Annotated[dict[str, str], BeforeValidator(_stringify_values)]


def model_field(description: str, *, advanced: bool = False) -> Any:
    return SchemaField(DEFAULT_LLM_MODEL, title="LLM Model", description=description, advanced=advanced)


def ai_credentials_field() -> Any:
    return CredentialsField(providers=list(LLM_PROVIDERS), discriminator="model",
                            discriminator_mapping=discriminator_mapping(),
                            description="API key for the provider serving the chosen model.")


def sys_prompt_field() -> Any:
    return SchemaField("", title="System Prompt",
                       description="Extra instructions or context for the model, sent as a system message.")


def force_json_field() -> Any:
    return SchemaField(False, title="Restrict LLM to pure JSON output",
                       description="Make the model answer with JSON only. Parsing gets more reliable, but the "
                                   "model cannot reason in prose first, which may lower the answer's quality.")


def ollama_host_field() -> Any:
    return SchemaField(OLLAMA_DEFAULT_HOST, advanced=True, description="host:port of the Ollama server "
                       "(only used by Ollama models).")


def max_tokens_field() -> Any:
    return SchemaField(None, advanced=True, description="Upper limit on the tokens the model may "
                       "generate; empty means the model's own limit.")


# -- the model call and its accounting -------------------------------------------------------------

async def provider_call(ctx: RunContext, request: LlmRequest) -> LlmResponse:
    """The real path behind every block's ``llm_call``: the executor-resolved key, the gateway."""
    if ctx.llm is None:
        raise LlmError("No language model provider is configured")
    credentials = ctx.credentials.get("credentials")
    if credentials is None:
        raise LlmError("Credentials not resolved for this node")
    return await ctx.llm.complete(credentials, request)


def record_usage(stats: dict[str, Any], response: LlmResponse) -> None:
    """Add one call's token counts to the node's stats (every attempt costs, good answer or not)."""
    _add(stats, "input_token_count", response.prompt_tokens or 0)
    _add(stats, "output_token_count", response.completion_tokens or 0)
    _add(stats, "llm_call_count", 1)


def record_format_retry(stats: dict[str, Any]) -> None:
    """Count one extra call made because the previous answer had the wrong shape."""
    _add(stats, "llm_retry_count", 1)


def _add(stats: dict[str, Any], key: str, amount: int) -> None:
    stats[key] = stats.get(key, 0) + amount


async def call_model(call: LlmCall, ctx: RunContext, request: LlmRequest) -> LlmResponse:
    """Run a block's ``llm_call`` (a mock may be sync), record usage, and turn a provider failure
    into a block failure. ``LlmError`` is final here: the gateway already retried transport errors."""
    try:
        result = call(ctx, request)
        response = await result if inspect.isawaitable(result) else result
    except LlmError as exc:
        raise LlmBlockFailure(exc.message) from None
    record_usage(ctx.stats, response)
    return response


async def render_prompt(ctx: RunContext, template: str, values: dict[str, str]) -> str:
    """Fill ``{{var}}`` placeholders (bounded sandbox in the template workers; unknown names
    render empty)."""
    try:
        return await render_template(ctx, template, values)
    except Exception as exc:  # noqa: BLE001 - template syntax or sandbox errors come from user text
        raise LlmBlockFailure(f"Could not fill the prompt values into the prompt: {exc}") from None


def fit_to_context(messages: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    """Shorten the longest message texts (cutting out their middle) until the prompt's rough size
    fits half the model's context window, the target AutoGPT's truncation uses. Roughly four
    characters make a token; this only guards against hopeless requests, it is not a tokenizer."""
    info = MODELS.get(model)
    if info is None:
        return list(messages)
    budget_chars = info.context_window // 2 * 4
    out = [dict(m) for m in messages]
    for _ in range(2 * len(out)):
        sizes = [len(m["content"]) if isinstance(m.get("content"), str) else 0 for m in out]
        excess = sum(sizes) + 16 * len(out) - budget_chars
        longest = max(range(len(out)), key=sizes.__getitem__, default=None)
        if excess <= 0 or longest is None or sizes[longest] < 400:
            break
        text = out[longest]["content"]
        keep = max(200, len(text) - excess - 64)
        out[longest]["content"] = f"{text[:keep // 2]}\n[... truncated ...]\n{text[len(text) - keep // 2:]}"
    return out


# -- summary chunking and scripted example replies ----------------------------------------------

def split_words(text: str, max_tokens: int, overlap: int) -> list[str]:
    """AutoGPT's summariser chunking: windows of ``max_tokens`` words that start every
    ``max_tokens - overlap`` words, with caps on text size and chunk count against abuse."""
    words = text[:MAX_SUMMARY_TEXT_CHARS].split()
    step = max(1, max_tokens - overlap)
    return [" ".join(words[i:i + max_tokens]) for i in range(0, len(words), step)[:MAX_SUMMARY_CHUNKS]]


def fake_json_reply(request: LlmRequest, payload: Any, *, tokens: tuple[int, int] = (25, 10)) -> LlmResponse:
    """A scripted answer for conformance examples: ``payload`` wrapped in whatever output tag the
    request asked for, the way a well-behaved model answers."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    for message in request.messages:
        found = re.search(r'<json_output id="[0-9a-f]+">', str(message.get("content", "")))
        if found and message.get("role") == "system":
            text = f"Here you go.\n{found.group(0)}\n{text}\n</json_output>"
            break
    return LlmResponse(text=text, prompt_tokens=tokens[0], completion_tokens=tokens[1], model=request.model)
