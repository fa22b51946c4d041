"""Language-model blocks with AutoGPT's ids, pins and defaults, so exported graphs run unchanged.

Everything funnels through ``llm_support.generate_structured``: the structured generator's loop of
"ask, pull the JSON out, check the keys, on a bad answer show the model its mistake and ask again". The text,
conversation, summary and list blocks are thin prompts on top of it, exactly as in AutoGPT, so one
place decides templating, JSON extraction, retries and token accounting. Each block reaches the
model only through its own ``llm_call`` method, the seam its ``test_mock`` replaces.
"""

from __future__ import annotations

import enum
import json
from typing import Any, AsyncIterator

from services.common.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    BlockType,
    RunContext,
    SchemaField,
)
from services.common.blocks.llm_support import (
    TEST_CREDENTIALS_INPUT,
    LlmBlockFailure,
    LlmModelName,
    PromptValues,
    StructuredSpec,
    ai_credentials_field,
    fake_json_reply,
    force_json_field,
    generate_structured,
    max_tokens_field,
    model_field,
    ollama_host_field,
    provider_call,
    split_words,
    sys_prompt_field,
)
from services.common.integrations.credentials import CredentialsMeta
from services.common.llm.types import LlmRequest, LlmResponse


class LlmBlockBase(Block):
    """The model-call seam shared by every LLM block (replaced by ``test_mock`` in examples)."""

    block_type = BlockType.AI
    categories = frozenset({BlockCategory.AI})

    async def llm_call(self, ctx: RunContext, request: LlmRequest) -> LlmResponse:
        return await provider_call(ctx, request)


_PROMPT_VALUES_HELP = ("Values for the {{name}} placeholders in the prompt and system prompt; "
                       "an unknown name renders as empty text.")


_SPEC_FIELDS = tuple(StructuredSpec.__dataclass_fields__)  # all of them are structured-generator inputs


def _fake_structured(ctx: RunContext, request: LlmRequest) -> LlmResponse:
    return fake_json_reply(request, {"city": "Paris", "country": "France"})


class AIStructuredResponseGeneratorBlock(LlmBlockBase):
    """Asks a model for a JSON object (or list of them) with given keys and insists on getting it."""

    id = "ed55ac19-356e-4243-a6cb-bc599e9b716f"
    description = ("Generates a JSON object with the keys you specify using a large language model, "
                   "re-asking the model when its answer does not fit the format.")

    class Input(BlockSchemaInput):
        prompt: str = SchemaField(description="What to ask the language model.",
                                  placeholder="Enter your prompt here...")
        expected_format: dict[str, str] = SchemaField(
            description="The keys the JSON answer must have, each mapped to a description of its value.")
        list_result: bool = SchemaField(False, title="List Result",
                                        description="Answer with a list of objects in the expected format.")
        model: LlmModelName = model_field("The language model that answers the prompt.")
        force_json_output: bool = force_json_field()
        credentials: CredentialsMeta = ai_credentials_field()
        sys_prompt: str = sys_prompt_field()
        conversation_history: list[dict] | None = SchemaField(
            default_factory=list, description="Earlier messages to send before the prompt.")
        retry: int = SchemaField(3, title="Retry Count", description="How many calls to make at most "
                                 "while the answer does not match the expected format.")
        prompt_values: PromptValues = SchemaField(default_factory=dict, advanced=False,
                                                  description=_PROMPT_VALUES_HELP)
        max_tokens: int | None = max_tokens_field()
        compress_prompt_to_fit: bool = SchemaField(True, advanced=True, description="Shorten over-long "
                                                   "messages so the prompt fits the model's context window.")
        ollama_host: str = ollama_host_field()

    class Output(BlockSchemaOutput):
        response: dict[str, Any] | list[dict[str, Any]] = SchemaField(
            description="The JSON answer (a list of objects when List Result is on).")
        prompt: list = SchemaField(description="The messages sent to the language model.")

    test_input = {"prompt": "Where is the Eiffel Tower?", "credentials": TEST_CREDENTIALS_INPUT,
                  "expected_format": {"city": "the city", "country": "the country"}}
    test_output = [("response", {"city": "Paris", "country": "France"}), ("prompt", list)]
    test_mock = {"llm_call": _fake_structured}

    async def run(self, input_data: Input, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        spec = StructuredSpec(**{name: getattr(input_data, name) for name in _SPEC_FIELDS})
        spec.conversation_history = spec.conversation_history or []
        try:
            result = await generate_structured(self.llm_call, ctx, spec)
        except LlmBlockFailure as exc:
            yield "error", str(exc)
            return
        yield "response", result.value
        yield "prompt", result.messages


def _fake_text(ctx: RunContext, request: LlmRequest) -> LlmResponse:
    return LlmResponse(text="Bonjour tout le monde !", prompt_tokens=14, completion_tokens=6, model=request.model)


class AITextGeneratorBlock(LlmBlockBase):
    """Plain text answers: the structured generator with no expected keys, as in AutoGPT."""

    id = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
    description = "Generates a text answer with a large language model from a prompt and optional system prompt."

    class Input(BlockSchemaInput):
        prompt: str = SchemaField(description="What to ask the language model; may contain {{name}} "
                                  "placeholders filled from Prompt Values.", placeholder="Enter your prompt here...")
        model: LlmModelName = model_field("The language model that answers the prompt.")
        credentials: CredentialsMeta = ai_credentials_field()
        sys_prompt: str = sys_prompt_field()
        retry: int = SchemaField(3, title="Retry Count", description="How many calls to make at most (a text "
                                 "answer is accepted as soon as it arrives).")
        prompt_values: PromptValues = SchemaField(default_factory=dict, advanced=False,
                                                  description=_PROMPT_VALUES_HELP)
        ollama_host: str = ollama_host_field()
        max_tokens: int | None = max_tokens_field()

    class Output(BlockSchemaOutput):
        response: str = SchemaField(description="The model's answer.")
        prompt: list = SchemaField(description="The messages sent to the language model.")

    test_input = {"prompt": "Say hello to {{who}} in French.", "prompt_values": {"who": "everyone"},
                  "credentials": TEST_CREDENTIALS_INPUT}
    test_output = [("response", "Bonjour tout le monde !"),
                   ("prompt", lambda p: p == [{"role": "user", "content": "Say hello to everyone in French."}])]
    test_mock = {"llm_call": _fake_text}

    async def run(self, input_data: Input, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        spec = StructuredSpec(prompt=input_data.prompt, expected_format={}, model=input_data.model,
                              sys_prompt=input_data.sys_prompt, retry=input_data.retry,
                              prompt_values=input_data.prompt_values, max_tokens=input_data.max_tokens,
                              ollama_host=input_data.ollama_host)
        try:
            result = await generate_structured(self.llm_call, ctx, spec)
        except LlmBlockFailure as exc:
            yield "error", str(exc)
            return
        yield "response", result.value["response"]
        yield "prompt", result.messages


def _fake_conversation(ctx: RunContext, request: LlmRequest) -> LlmResponse:
    return LlmResponse(text="It was played at Globe Life Field in Arlington, Texas.", prompt_tokens=40,
                       completion_tokens=12, model=request.model)


class AIConversationBlock(LlmBlockBase):
    """Continues a chat given as a list of role/content messages."""

    id = "32a87eab-381e-4dd4-bdb8-4c47151be35a"
    description = "Continues a multi-turn conversation with a large language model, given its earlier messages."

    class Input(BlockSchemaInput):
        prompt: str = SchemaField("", advanced=False, description="A new user message to add after the "
                                  "conversation (optional).", placeholder="Enter your prompt here...")
        messages: list[Any] = SchemaField(description="The conversation so far: {role, content} messages.")
        model: LlmModelName = model_field("The language model that continues the conversation.")
        credentials: CredentialsMeta = ai_credentials_field()
        max_tokens: int | None = max_tokens_field()
        ollama_host: str = ollama_host_field()

    class Output(BlockSchemaOutput):
        response: str = SchemaField(description="The model's reply.")
        prompt: list = SchemaField(description="The messages sent to the language model.")

    test_input = {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                               {"role": "user", "content": "Who won the World Series in 2020?"},
                               {"role": "assistant", "content": "The Los Angeles Dodgers."},
                               {"role": "user", "content": "Where was it played?"}],
                  "credentials": TEST_CREDENTIALS_INPUT}
    test_output = [("response", "It was played at Globe Life Field in Arlington, Texas."),
                   ("prompt", lambda p: len(p) == 4)]
    test_mock = {"llm_call": _fake_conversation}

    async def run(self, input_data: Input, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        history = [m for m in input_data.messages if isinstance(m, dict)]
        has_messages = any(isinstance(m.get("content"), str) and m["content"].strip() for m in history)
        if not has_messages and not input_data.prompt.strip():
            yield "error", ("Cannot call the language model with no messages and no prompt: provide at "
                            "least one message or a non-empty prompt.")
            return
        spec = StructuredSpec(prompt=input_data.prompt, expected_format={}, model=input_data.model,
                              conversation_history=history, max_tokens=input_data.max_tokens,
                              ollama_host=input_data.ollama_host)
        try:
            result = await generate_structured(self.llm_call, ctx, spec)
        except LlmBlockFailure as exc:
            yield "error", str(exc)
            return
        yield "response", result.value["response"]
        yield "prompt", result.messages



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
                       f"{input_data.source_data}</source_data>\n\nDo not invent data that the source does not contain.")
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
