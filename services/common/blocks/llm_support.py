"""Shared pieces of the language-model blocks: input fields, the one model-call seam, usage
accounting, prompt templating, the JSON answer contract (instructions, extraction, checks) and
the structured-generation loop every LLM block is built on.

The blocks never talk to a provider themselves. Each has one ``llm_call(ctx, request)`` method
(so the conformance examples can swap in a scripted fake) that ends in ``ctx.llm.complete``; the
gateway behind that port owns base URLs, HTTP retries and wire formats. What stays here is what
AutoGPT's blocks decide *before* and *after* a call, since exported graphs depend on it: how
``{{var}}`` placeholders are filled, how the model is told to answer in JSON, and how the answer
is picked apart and judged.
"""

from __future__ import annotations

import inspect
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any, Awaitable, Callable

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from services.common.blocks.base import CredentialsField, RunContext, SchemaField
from services.common.blocks.formatting import render_template
from services.common.llm.models import (
    DEFAULT_LLM_MODEL,
    LLM_PROVIDERS,
    MODEL_NAMES,
    MODELS,
    discriminator_mapping,
)
from services.common.llm.types import LlmError, LlmRequest, LlmResponse

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


def render_prompt(template: str, values: dict[str, str]) -> str:
    """Fill ``{{var}}`` placeholders (sandboxed Jinja; unknown names render empty)."""
    try:
        return render_template(template, values)
    except Exception as exc:  # template syntax or sandbox errors come from user text
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


# -- the JSON answer contract ----------------------------------------------------------------------

def new_output_tag() -> str:
    """A one-off tag id, so neither the user's text nor the model's chatter can fake the block."""
    return f'<json_output id="{secrets.token_hex(8)}">'


def format_instructions(expected: dict[str, str], *, list_mode: bool, pure_json: bool, tag: str) -> str:
    shape = json.dumps(expected, indent=2)
    outer = "object"
    if list_mode:
        shape = "[\n  " + shape.replace("\n", "\n  ") + ",\n  ...\n]"
        outer = "array"
        if pure_json:  # JSON mode only allows objects, so the list travels under "results"
            shape = '{\n  "reasoning": "... (optional)",\n  "results": ' + shape.replace("\n", "\n  ") + "\n}"
            outer = "object"
    lines = [f"Your response MUST contain a valid JSON {outer} in exactly this format:"]
    lines.append(shape if pure_json else f"{tag}\n{shape}\n</json_output>")
    lines += ["", "If you cannot answer a key, give an empty string as its value; never leave a key out."]
    if not pure_json:
        lines += ["", f"Wrap your final JSON answer in {tag}...</json_output>, even if the user asks for "
                  "another tag.",
                  f"Give exactly ONE {tag}...</json_output> block, holding only the JSON {outer}. "
                  "Text outside that block is allowed."]
    return "\n".join(lines)


def invalid_answer_feedback(problem: str, *, parseable: bool, list_mode: bool, pure_json: bool,
                            tag: str) -> str:
    outer = "array" if list_mode and not pure_json else "object"
    complaint = (f"Your previous response did not match the expected {outer} format." if parseable
                 else f"Your previous response did not contain a parseable JSON {outer}.")
    ask = (f"Please answer with a {tag}...</json_output> block holding a" if not pure_json
           else "Please answer with a")
    return f"{complaint}\n\n{problem}\n\n{ask} valid JSON {outer} in the expected format."


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def extract_json(text: str, *, pure_json: bool, tag: str) -> Any:
    """The JSON value in a model answer. The tagged block wins when present (as in AutoGPT); else
    the whole text, a ```json fence, or the outermost {...} / [...] span, in that order."""
    if not pure_json and tag in text:
        inner = text.split(tag, 1)[1].rsplit("</json_output>", 1)[0].strip()
        fenced = _FENCE.fullmatch(inner)
        return json.loads(fenced.group(1) if fenced else inner)
    try:
        return json.loads(text)
    except json.JSONDecodeError as first_error:
        for candidate in _candidates(text):
            try:
                return json.loads(candidate)
            except json.JSONDecodeError:
                continue
        if pure_json:
            raise first_error from None
        raise ValueError(f"Response does not contain the expected {tag}...</json_output> block.") from None


def _candidates(text: str) -> list[str]:
    found = [m.group(1).strip() for m in _FENCE.finditer(text)]
    for opener, closer in ("{}", "[]"):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            found.append(text[start:end + 1])
    return found


def check_shape(answer: Any, expected: dict[str, str], *, list_mode: bool) -> tuple[Any, str | None]:
    """``(value, None)`` when the answer has the asked-for shape, else ``(answer, problem)``."""
    if list_mode and isinstance(answer, dict):
        if not isinstance(answer.get("results"), list):
            return answer, f"Expected an array of objects under the 'results' key, but got: {answer}"
        answer = answer["results"]
    if list_mode and not isinstance(answer, list):
        return answer, f"Expected a JSON array of objects, but got {type(answer).__name__}"
    if not list_mode and isinstance(answer, list):
        return answer, "Expected a single JSON object, but got an array"
    problems = [p for item in (answer if list_mode else [answer]) if (p := _missing(item, expected))]
    return answer, ("\n".join(problems) or None)


def _missing(item: Any, expected: dict[str, str]) -> str | None:
    if not isinstance(item, dict):
        return f"Expected a JSON object, but got {type(item).__name__}"
    missing = sorted(set(expected) - set(item))
    return f"Missing keys: {', '.join(repr(k) for k in missing)}" if missing else None


# -- the structured generation loop -----------------------------------------------------------

@dataclass
class StructuredSpec:
    """What one structured generation needs; mirrors the structured generator's inputs."""

    prompt: str
    expected_format: dict[str, str]
    model: str = DEFAULT_LLM_MODEL
    sys_prompt: str = ""
    conversation_history: list[dict[str, Any]] = field(default_factory=list)
    list_result: bool = False
    retry: int = 3
    prompt_values: dict[str, str] = field(default_factory=dict)
    max_tokens: int | None = None
    compress_prompt_to_fit: bool = True
    force_json_output: bool = False
    ollama_host: str = OLLAMA_DEFAULT_HOST


@dataclass
class StructuredResult:
    value: Any  # the checked JSON answer, or {"response": text} when no format was asked for
    messages: list[dict[str, Any]]  # what the successful call sent (the ``prompt`` output)


async def generate_structured(call: LlmCall, ctx: RunContext, spec: StructuredSpec) -> StructuredResult:
    """Ask ``spec.model`` until the answer has the expected shape or ``spec.retry`` calls are spent.
    Raises ``LlmBlockFailure`` with the last complaint (or the provider's error)."""
    prompt, sys_prompt = spec.prompt, spec.sys_prompt
    if spec.prompt_values:
        prompt, sys_prompt = render_prompt(prompt, spec.prompt_values), render_prompt(sys_prompt, spec.prompt_values)
    messages = [dict(m) for m in spec.conversation_history if m]
    if sys_prompt:
        messages.append({"role": "system", "content": sys_prompt})
    tag = new_output_tag()
    shape = {"list_mode": spec.list_result, "pure_json": spec.force_json_output, "tag": tag}
    if spec.expected_format:
        messages.append({"role": "system", "content": format_instructions(spec.expected_format, **shape)})
    if prompt:
        messages.append({"role": "user", "content": prompt})

    attempts, complaint = max(1, spec.retry), ""
    for attempt in range(attempts):
        sent = fit_to_context(messages, spec.model) if spec.compress_prompt_to_fit else list(messages)
        request = LlmRequest(model=spec.model, messages=sent, max_tokens=spec.max_tokens,
                             json_output=spec.force_json_output and bool(spec.expected_format),
                             ollama_host=spec.ollama_host)
        text = (await call_model(call, ctx, request)).text
        if not spec.expected_format:
            return StructuredResult({"response": text}, sent)
        try:
            value, problem = check_shape(extract_json(text, pure_json=spec.force_json_output, tag=tag),
                                         spec.expected_format, list_mode=spec.list_result)
            parseable = True
        except ValueError as exc:  # includes JSONDecodeError
            problem, parseable = str(exc), False
        if problem is None:
            return StructuredResult(value, sent)
        complaint = invalid_answer_feedback(problem, parseable=parseable, **shape)
        messages += [{"role": "assistant", "content": text}, {"role": "user", "content": complaint}]
        if attempt + 1 < attempts:
            record_format_retry(ctx.stats)
    raise LlmBlockFailure(complaint)


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
