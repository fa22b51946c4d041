"""Language-model blocks with AutoGPT's ids, pins and defaults, so exported graphs run unchanged.

One job: the general-purpose LLM blocks (structured response, text, conversation) and the
``LlmBlockBase`` seam every LLM block shares. They are thin prompts on top of
``llm_structured.generate_structured``: the structured generator's loop of "ask, pull the JSON out,
check the keys, on a bad answer show the model its mistake and ask again". So one place decides
templating, JSON extraction, retries and token accounting, exactly as in AutoGPT. Each block
reaches the model only through its own ``llm_call`` method, the seam its ``test_mock`` replaces.
The summary and list blocks live in ``llm_lists``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from services.blocks.llm_structured import StructuredSpec, generate_structured
from services.blocks.llm_support import (
    TEST_CREDENTIALS_INPUT,
    LlmBlockFailure,
    LlmModelName,
    PromptValues,
    ai_credentials_field,
    fake_json_reply,
    force_json_field,
    max_tokens_field,
    model_field,
    ollama_host_field,
    provider_call,
    sys_prompt_field,
)
from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)
from services.domain.integrations.credentials import CredentialsMeta
from services.domain.llm.types import LlmRequest, LlmResponse


class LlmBlockBase(Block):
    """The model-call seam shared by every LLM block (replaced by ``test_mock`` in examples)."""

    categories = frozenset({BlockCategory.AI})
    external_effects = True  # a model provider call (and its price)

    @classmethod
    def dry_run_output(cls) -> list[tuple[str, Any]]:
        """The example answer; the examples check ``prompt`` (the messages sent) only by type, and a
        dry run sends none, so it shows an empty list there."""
        return [(pin, [] if pin == "prompt" else value) for pin, value in cls.test_output]

    async def llm_call(self, ctx: RunContext, request: LlmRequest) -> LlmResponse:
        return await provider_call(ctx, request)

    async def text_answer(self, ctx: RunContext, spec: StructuredSpec) -> AsyncIterator[tuple[str, Any]]:
        """A plain-text answer (``spec`` expects no keys): ``response`` then the messages sent on
        ``prompt``, or the failure on ``error``."""
        try:
            result = await generate_structured(self.llm_call, ctx, spec)
        except LlmBlockFailure as exc:
            yield "error", str(exc)
            return
        yield "response", result.value["response"]
        yield "prompt", result.messages


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
        async for output in self.text_answer(ctx, spec):
            yield output


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
        async for output in self.text_answer(ctx, spec):
            yield output
