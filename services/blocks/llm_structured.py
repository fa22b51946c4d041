"""The JSON answer contract of the language-model blocks and the structured-generation loop on it.

One job: turn "ask a model for JSON with these keys" into a reliable answer, as AutoGPT's
structured generator does. It writes the format instructions (with a one-off output tag), pulls
the JSON out of a reply, checks its keys, and on a bad answer shows the model its mistake and asks
again until the retries are spent. Every LLM block that wants an answer goes through
``generate_structured``; the model call itself, templating and usage accounting live in
``llm_support``.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from services.blocks.llm_support import (
    OLLAMA_DEFAULT_HOST,
    LlmBlockFailure,
    LlmCall,
    call_model,
    fit_to_context,
    record_format_retry,
    render_prompt,
)
from services.domain.blocks.base import RunContext
from services.domain.llm.models import DEFAULT_LLM_MODEL
from services.domain.llm.types import LlmRequest

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
        prompt = await render_prompt(ctx, prompt, spec.prompt_values)
        sys_prompt = await render_prompt(ctx, sys_prompt, spec.prompt_values)
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
