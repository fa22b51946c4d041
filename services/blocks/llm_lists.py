"""The summary and list blocks (AutoGPT ids, pins and defaults), built on the structured generator.

One job: the LLM blocks that break a task into several structured asks or return many items.
``AITextSummarizerBlock`` chunks long text, summarises each chunk and then the summaries;
``AIListGeneratorBlock`` asks for a JSON list of strings and streams each item. Both reach the
model only through ``LlmBlockBase.llm_call`` and ``llm_structured.generate_structured``, like the
general-purpose blocks in ``llm``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import AsyncIterator
from typing import Any

from services.blocks.llm import LlmBlockBase
from services.blocks.llm_structured import StructuredSpec, generate_structured
from services.blocks.llm_support import (
    TEST_CREDENTIALS_INPUT,
    LlmBlockFailure,
    LlmModelName,
    ai_credentials_field,
    fake_json_reply,
    force_json_field,
    max_tokens_field,
    model_field,
    ollama_host_field,
    split_words,
)
from services.domain.blocks.base import (
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)
from services.domain.integrations.credentials import CredentialsMeta
from services.domain.llm.types import LlmRequest, LlmResponse


class SummaryStyle(str, enum.Enum):
    CONCISE = "concise"
    DETAILED = "detailed"
    BULLET_POINTS = "bullet points"
    NUMBERED_LIST = "numbered list"


# Summaries of summaries are re-summarised while still too long; this bounds that recursion.
MAX_SUMMARY_DEPTH = 4


def _fake_summary(ctx: RunContext, request: LlmRequest) -> LlmResponse:
    final = any("final_summary" in str(m.get("content")) for m in request.messages if m.get("role") == "system")
    return fake_json_reply(request, {"final_summary": "A short overview of the whole text."} if final
                           else {"summary": "Summary of one part of the text."})


class AITextSummarizerBlock(LlmBlockBase):
    """Summarises long text the AutoGPT way: word-window chunks, one summary each, then one
    summary of the summaries (re-chunked while that is still longer than ``max_tokens`` words)."""

    id = "a0a69be1-4528-491c-a85a-a4ab6873e3f0"
    description = "Summarises long text with a large language model, with a chosen focus and style."
    categories = frozenset({BlockCategory.AI, BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        text: str = SchemaField(description="The text to summarise.",
                                placeholder="Enter the text to summarize here...")
        model: LlmModelName = model_field("The language model that writes the summary.")
        focus: str = SchemaField("general information", title="Focus",
                                 description="The topic the summary should concentrate on.")
        style: SummaryStyle = SchemaField(SummaryStyle.CONCISE, title="Summary Style",
                                          description="How the summary should be written.")
        credentials: CredentialsMeta = ai_credentials_field()
        max_tokens: int = SchemaField(4096, title="Max Tokens", ge=1,
                                      description="Chunk size in words; also the longest combined summary "
                                                  "that is summarised in one go.")
        chunk_overlap: int = SchemaField(100, title="Chunk Overlap", ge=0,
                                         description="Words shared by neighbouring chunks, to keep context.")
        ollama_host: str = ollama_host_field()

    class Output(BlockSchemaOutput):
        summary: str = SchemaField(description="The final summary.")
        prompt: list = SchemaField(description="The messages of the last call to the language model.")

    test_input = {"text": "The quick brown fox jumps over the lazy dog. " * 60, "max_tokens": 300,
                  "chunk_overlap": 50, "credentials": TEST_CREDENTIALS_INPUT}
    test_output = [("summary", "A short overview of the whole text."), ("prompt", list)]
    test_mock = {"llm_call": _fake_summary}

    async def run(self, input_data: Input, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        try:
            summary, messages = await self._summarize(ctx, input_data, input_data.text, depth=0)
        except LlmBlockFailure as exc:
            yield "error", str(exc)
            return
        yield "summary", summary
        yield "prompt", messages

    async def _summarize(self, ctx: RunContext, inp: Input, text: str, depth: int) -> tuple[str, list]:
        style = inp.style.value
        summaries = []
        for chunk in split_words(text, inp.max_tokens, inp.chunk_overlap):
            prompt = (f"Summarise the text below in a {style} form. Concentrate on `{inp.focus}` if the text "
                      f"covers it; otherwise give a general summary:\n\n```{chunk}```")
            summaries.append((await self._ask(ctx, inp, prompt, "summary", "The summary of the given text."))[0])
        combined = "\n\n".join(summaries)
        if len(combined.split()) > inp.max_tokens and depth < MAX_SUMMARY_DEPTH:
            return await self._summarize(ctx, inp, combined, depth + 1)
        prompt = (f"Write one final summary, in a {style} form, of the section summaries below. Concentrate "
                  f"on `{inp.focus}` if they cover it:\n\n```{combined}```\n\nAnswer only with the final_summary "
                  "in the requested format.")
        return await self._ask(ctx, inp, prompt, "final_summary", "The final summary of all provided summaries.")

    async def _ask(self, ctx: RunContext, inp: Input, prompt: str, key: str, meaning: str) -> tuple[str, list]:
        result = await generate_structured(self.llm_call, ctx, StructuredSpec(
            prompt=prompt, expected_format={key: meaning}, model=inp.model, ollama_host=inp.ollama_host))
        value = result.value[key]
        if not isinstance(value, str):
            raise LlmBlockFailure(f"LLM generation failed: expected the {key} to be a string, but the model "
                                  f"returned {type(value).__name__}: {json.dumps(value)[:500]}")
        return value, result.messages


_PLANETS = ["Zylora Prime", "Kharon-9", "Vortexia", "Oceara", "Draknos"]


def _fake_list(ctx: RunContext, request: LlmRequest) -> LlmResponse:
    return fake_json_reply(request, {"list": _PLANETS})


class AIListGeneratorBlock(LlmBlockBase):
    """Produces a list of strings (from source data, or invented) and also streams each item."""

    id = "9c0b0450-d199-458b-a731-072189dd6593"
    description = ("Generates a list of text items with a large language model, optionally drawn from "
                   "source data, and emits each item separately as well.")
    categories = frozenset({BlockCategory.AI, BlockCategory.TEXT})

    SYSTEM_PROMPT = ("You generate JSON arrays of strings from the user's request.\n\n"
                     "Put the array in the 'list' field of your answer. The array may contain ONLY strings, "
                     'for example: ["string1", "string2", "string3"].\n\n'
                     "Make sure the 'list' field holds a proper JSON array of string values.")

    class Input(BlockSchemaInput):
        focus: str | None = SchemaField(None, advanced=False, description="What the list should be about.",
                                        placeholder="The top 5 most interesting news stories in the data.")
        source_data: str | None = SchemaField(None, advanced=False, description="Text to draw the list from.",
                                              placeholder="News Today: Humans land on Mars: ...")
        model: LlmModelName = model_field("The language model that generates the list.", advanced=True)
        credentials: CredentialsMeta = ai_credentials_field()
        max_retries: int = SchemaField(3, ge=1, le=5, description="How many calls to make at most while "
                                       "the answer is not a valid list.")
        force_json_output: bool = force_json_field()
        max_tokens: int | None = max_tokens_field()
        ollama_host: str = ollama_host_field()

    class Output(BlockSchemaOutput):
        generated_list: list[str] = SchemaField(description="The whole generated list.")
        list_item: str = SchemaField(description="Each item of the list, one at a time.")
        prompt: list = SchemaField(description="The messages sent to the language model.")

    test_input = {"focus": "planets", "credentials": TEST_CREDENTIALS_INPUT,
                  "source_data": "Zylora Prime glows with jungle light, Kharon-9 hides cities under its deserts, "
                                 "Vortexia's storms power floating towns, Oceara is all ocean and icy Draknos "
                                 "buries ancient ruins."}
    test_output = [("generated_list", _PLANETS), ("prompt", list)] + [("list_item", p) for p in _PLANETS]
    test_mock = {"llm_call": _fake_list}

    async def run(self, input_data: Input, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        expected = {"list": "A JSON array containing the generated string values"}
        if input_data.force_json_output:
            expected = {"reasoning": "... (optional)", **expected}
        if input_data.focus:
            prompt = f"Generate a list with this focus:\n<focus>\n\n{input_data.focus}</focus>"
        elif input_data.source_data:
            prompt = ("Turn the main subject of the source data into a list. For a news site, say, list the "
                      "stories rather than the links in its footer.")
        else:
            prompt = "Generate a random list."
        if input_data.source_data:
            prompt += ("\n\nBuild the list from this source data:\n\n<source_data>\n\n"
                       f"{input_data.source_data}</source_data>\n\n"
                       "Do not invent data that the source does not contain.")
        else:
            prompt += "\n\nMake up the data the list is built from."
        try:
            result = await generate_structured(self.llm_call, ctx, StructuredSpec(
                prompt=prompt, sys_prompt=self.SYSTEM_PROMPT, expected_format=expected, model=input_data.model,
                force_json_output=input_data.force_json_output, retry=input_data.max_retries,
                max_tokens=input_data.max_tokens, ollama_host=input_data.ollama_host))
        except LlmBlockFailure as exc:
            yield "error", str(exc)
            return
        items = result.value.get("list") if isinstance(result.value, dict) else result.value
        if not isinstance(items, list):
            yield "error", f"Expected a list, but got {type(items).__name__}: {items}"
            return
        yield "generated_list", items
        yield "prompt", result.messages
        for item in items:
            yield "list_item", item
