"""AIConditionBlock (AutoGPT id): branch on a condition written in plain English.

The model is asked for a bare ``true``/``false``. Its answer is read strictly first and then by
whole words, so "False." or "Yes, it is" still count while "untrue" or an answer mentioning both
sides does not; an unclear answer fails the node rather than silently taking the "no" branch.
Like ConditionBlock it yields ``result`` first, then exactly one of ``yes_output``/``no_output``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from services.blocks.llm_support import (
    TEST_CREDENTIALS_INPUT,
    LlmBlockFailure,
    LlmModelName,
    ai_credentials_field,
    call_model,
    fit_to_context,
    model_field,
    provider_call,
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

# The smallest output budget OpenAI-style APIs accept; a one-word answer fits easily.
MIN_LLM_OUTPUT_TOKENS = 16

SYSTEM_PROMPT = ("You decide whether a condition holds for a given input value. Reply with exactly one "
                 "lowercase word, 'true' or 'false', saying whether the input value meets the condition. "
                 "Take the context and meaning of both the input and the condition into account.")

_TRUE_WORDS, _FALSE_WORDS = ({"true"}, {"yes"}, {"1"}), ({"false"}, {"no"}, {"0"})


def parse_boolean_answer(text: str) -> bool | None:
    """True/False for a clear answer, None when it is unclear or mentions both sides."""
    cleaned = text.strip().lower()
    if cleaned in ("true", "false"):
        return cleaned == "true"
    words = set(re.findall(r"\b(true|false|yes|no|1|0)\b", cleaned))
    if words in _TRUE_WORDS:
        return True
    if words in _FALSE_WORDS:
        return False
    return None


def _fake_condition(ctx: RunContext, request: LlmRequest) -> LlmResponse:
    return LlmResponse(text="true", prompt_tokens=50, completion_tokens=1, model=request.model)


class AIConditionBlock(Block):
    """Evaluates a natural-language condition on a value and routes yes/no like ConditionBlock."""

    id = "553ec5b8-6c45-4299-8d75-b394d05f72ff"
    description = "Uses a language model to check a plain-English condition on a value and branches on the answer."
    categories = frozenset({BlockCategory.AI, BlockCategory.LOGIC})
    external_effects = True  # a model provider call; the dry-run output is the example's "yes"

    class Input(BlockSchemaInput):
        input_value: Any = SchemaField(description="The value the condition is checked against.",
                                       placeholder="Enter the value to be evaluated (text, number, or any data)")
        condition: str = SchemaField(description="The condition, in plain English.",
                                     placeholder="E.g. 'the input is the body of an email'")
        yes_value: Any = SchemaField(None, description="Emitted on yes_output when the condition holds; "
                                     "input_value is emitted when left empty.")
        no_value: Any = SchemaField(None, description="Emitted on no_output when the condition fails; "
                                    "input_value is emitted when left empty.")
        model: LlmModelName = model_field("The language model that judges the condition.")
        credentials: CredentialsMeta = ai_credentials_field()

    class Output(BlockSchemaOutput):
        result: bool = SchemaField(description="Whether the model judged the condition to hold.")
        yes_output: Any = SchemaField(description="Emitted when the condition holds.")
        no_output: Any = SchemaField(description="Emitted when the condition does not hold.")
        error: str = SchemaField(default="", description="Why the evaluation failed or was unclear.")

    test_input = [
        {"input_value": "john@example.com", "condition": "the input is an email address",
         "yes_value": "Valid email", "no_value": "Not an email", "credentials": TEST_CREDENTIALS_INPUT},
    ]
    test_output = [("result", True), ("yes_output", "Valid email")]
    test_mock = {"llm_call": _fake_condition}

    async def llm_call(self, ctx: RunContext, request: LlmRequest) -> LlmResponse:
        return await provider_call(ctx, request)

    async def run(self, input_data: Input, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        question = (f"Input value: {input_data.input_value}\nCondition to evaluate: {input_data.condition}\n\n"
                    "Does the input value meet the condition? Reply with only 'true' or 'false'.")
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]
        request = LlmRequest(model=input_data.model, messages=fit_to_context(messages, input_data.model),
                             max_tokens=MIN_LLM_OUTPUT_TOKENS)
        try:
            answer = (await call_model(self.llm_call, ctx, request)).text
        except LlmBlockFailure as exc:
            yield "error", str(exc)
            return
        result = parse_boolean_answer(answer)
        if result is None:
            yield "error", f"Unclear AI response: '{answer}'"
            return
        yield "result", result
        if result:
            yield "yes_output", input_data.input_value if input_data.yes_value is None else input_data.yes_value
        else:
            yield "no_output", input_data.input_value if input_data.no_value is None else input_data.no_value
