"""LLM blocks against a scripted fake model: templating, JSON contract, retries, usage, errors."""

import asyncio
import json
import re

import pytest
from pydantic import SecretStr

from services.blocks.ai_condition import AIConditionBlock, parse_boolean_answer
from services.blocks.llm import (
    AIConversationBlock,
    AIStructuredResponseGeneratorBlock,
    AITextGeneratorBlock,
)
from services.blocks.llm_lists import AIListGeneratorBlock, AITextSummarizerBlock
from services.blocks.llm_structured import extract_json
from services.blocks.llm_support import (
    TEST_CREDENTIALS_INPUT,
    fake_json_reply,
    fit_to_context,
    split_words,
)
from services.domain.blocks.base import BlockInputError, RunContext
from services.domain.integrations.credentials import APIKeyCredentials
from services.domain.llm.types import LlmError, LlmRequest, LlmResponse

CREDS = APIKeyCredentials(id=TEST_CREDENTIALS_INPUT["id"], provider="openai", api_key=SecretStr("sk-test"))


class FakeLlm:
    """An ``LlmCaller`` that records requests and plays back scripted answers. A script item is
    a text, an ``LlmResponse``, an ``LlmError`` (raised) or a callable(request) -> any of those."""

    def __init__(self, *script):
        self.script = list(script)
        self.requests: list[LlmRequest] = []
        self.credentials: list[APIKeyCredentials] = []

    async def complete(self, credentials, request):
        self.credentials.append(credentials)
        self.requests.append(request)
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if callable(item):
            item = item(request)
        if isinstance(item, LlmError):
            raise item
        if isinstance(item, LlmResponse):
            return item
        return LlmResponse(text=item, prompt_tokens=10, completion_tokens=5, model=request.model)


def tagged(payload):
    """A well-behaved answer: ``payload`` inside the output tag the request asked for."""
    return lambda request: fake_json_reply(request, payload, tokens=(10, 5))


def run(block_cls, data, llm=None, ctx=None):
    ctx = ctx or RunContext(llm=llm, credentials={"credentials": CREDS})

    async def collect():
        return [out async for out in block_cls().execute({"credentials": TEST_CREDENTIALS_INPUT, **data}, ctx)]

    return asyncio.run(collect()), ctx


def contents(request, role):
    return [m["content"] for m in request.messages if m["role"] == role]


# -- templating ------------------------------------------------------------------------------------

def test_prompt_values_fill_prompt_and_system_prompt():
    llm = FakeLlm("ok")
    out, _ = run(AITextGeneratorBlock, {"prompt": "Hello {{name}}{{missing}}!", "sys_prompt": "Be {{tone}}.",
                                        "prompt_values": {"name": "Ann", "tone": "brief"}}, llm)
    assert out[0] == ("response", "ok")
    assert llm.requests[0].messages == [{"role": "system", "content": "Be brief."},
                                        {"role": "user", "content": "Hello Ann!"}]
    assert out[1] == ("prompt", llm.requests[0].messages)
    assert llm.credentials == [CREDS]


def test_ai_function_style_prompt():
    sys_prompt = ("You are now the following python function:\n```# {{DESCRIPTION}}\n{{FUNCTION}}```\n\n"
                  "Only respond with your `return` value.")
    values = {"DESCRIPTION": "Doubles a number", "FUNCTION": "def double(x: int) -> int:", "ARGS": "21"}
    llm = FakeLlm("42")
    out, _ = run(AITextGeneratorBlock, {"prompt": "{{ARGS}}", "sys_prompt": sys_prompt, "prompt_values": values}, llm)
    assert out[0] == ("response", "42")
    system, user = contents(llm.requests[0], "system")[0], contents(llm.requests[0], "user")[0]
    assert "# Doubles a number\ndef double(x: int) -> int:```" in system and "{{" not in system
    assert user == "21"


def test_non_string_prompt_values_are_rendered_as_text():
    llm = FakeLlm("ok")
    run(AITextGeneratorBlock, {"prompt": "{{n}} {{items}}", "prompt_values": {"n": 3, "items": ["a", "b"]}}, llm)
    assert contents(llm.requests[0], "user") == ['3 ["a", "b"]']


def test_without_prompt_values_braces_are_left_alone():
    llm = FakeLlm("ok")
    run(AITextGeneratorBlock, {"prompt": "Keep {{this}} and {% raw"}, llm)
    assert contents(llm.requests[0], "user") == ["Keep {{this}} and {% raw"]


def test_broken_template_is_an_error():
    out, _ = run(AITextGeneratorBlock, {"prompt": "{% if %}", "prompt_values": {"a": "b"}}, FakeLlm("x"))
    assert out[0][0] == "error" and "prompt values" in out[0][1]


# -- structured output -----------------------------------------------------------------------------

FORMAT = {"city": "the city", "country": "the country"}


def test_structured_success_and_usage():
    llm = FakeLlm(tagged({"city": "Paris", "country": "France", "extra": 1}))
    out, ctx = run(AIStructuredResponseGeneratorBlock, {"prompt": "Eiffel Tower?", "expected_format": FORMAT}, llm)
    assert out[0] == ("response", {"city": "Paris", "country": "France", "extra": 1})
    assert out[1][0] == "prompt" and out[1][1][-1] == {"role": "user", "content": "Eiffel Tower?"}
    instructions = contents(llm.requests[0], "system")[0]
    assert '"city": "the city"' in instructions and re.search(r'<json_output id="[0-9a-f]{16}">', instructions)
    assert llm.requests[0].json_output is False
    assert ctx.stats == {"input_token_count": 10, "output_token_count": 5, "llm_call_count": 1}


def test_retry_on_malformed_json_then_success():
    llm = FakeLlm("I think it is Paris, {not json", tagged({"city": "Paris", "country": "France"}))
    out, ctx = run(AIStructuredResponseGeneratorBlock, {"prompt": "Where?", "expected_format": FORMAT}, llm)
    assert out[0] == ("response", {"city": "Paris", "country": "France"})
    second = llm.requests[1].messages
    assert second[-2] == {"role": "assistant", "content": "I think it is Paris, {not json"}
    assert second[-1]["role"] == "user" and "did not contain a parseable JSON object" in second[-1]["content"]
    assert out[1] == ("prompt", second)
    assert ctx.stats == {"input_token_count": 20, "output_token_count": 10, "llm_call_count": 2,
                         "llm_retry_count": 1}


def test_missing_keys_are_retried_with_feedback():
    llm = FakeLlm(tagged({"city": "Paris"}), tagged({"city": "Paris", "country": "France"}))
    out, _ = run(AIStructuredResponseGeneratorBlock, {"prompt": "Where?", "expected_format": FORMAT}, llm)
    assert out[0] == ("response", {"city": "Paris", "country": "France"})
    feedback = llm.requests[1].messages[-1]["content"]
    assert "did not match the expected object format" in feedback and "Missing keys: 'country'" in feedback


def test_retries_exhausted_yield_error():
    llm = FakeLlm(tagged({"city": "Paris"}))
    out, ctx = run(AIStructuredResponseGeneratorBlock, {"prompt": "Where?", "expected_format": FORMAT, "retry": 2}, llm)
    assert len(out) == 1 and out[0][0] == "error" and "Missing keys: 'country'" in out[0][1]
    assert len(llm.requests) == 2
    assert ctx.stats["llm_call_count"] == 2 and ctx.stats["llm_retry_count"] == 1
    assert ctx.stats["input_token_count"] == 20


def test_zero_retry_still_calls_once():
    llm = FakeLlm("plain")
    out, _ = run(AITextGeneratorBlock, {"prompt": "Hi", "retry": 0}, llm)
    assert out[0] == ("response", "plain") and len(llm.requests) == 1


def test_list_result():
    llm = FakeLlm(tagged([{"city": "Paris", "country": "France"}, {"city": "Rome", "country": "Italy"}]))
    out, _ = run(AIStructuredResponseGeneratorBlock,
                 {"prompt": "Two capitals", "expected_format": FORMAT, "list_result": True}, llm)
    assert out[0] == ("response", [{"city": "Paris", "country": "France"}, {"city": "Rome", "country": "Italy"}])
    assert "JSON array" in contents(llm.requests[0], "system")[0]


def test_list_result_in_pure_json_mode_uses_results_key():
    llm = FakeLlm('{"reasoning": "easy"}', '{"reasoning": "easy", "results": [{"city": "Oslo", "country": "Norway"}]}')
    out, ctx = run(AIStructuredResponseGeneratorBlock, {"prompt": "One capital", "expected_format": FORMAT,
                                                        "list_result": True, "force_json_output": True}, llm)
    assert out[0] == ("response", [{"city": "Oslo", "country": "Norway"}])
    assert llm.requests[0].json_output is True
    assert '"results": [' in contents(llm.requests[0], "system")[0]
    assert "'results' key" in llm.requests[1].messages[-1]["content"]
    assert ctx.stats["llm_retry_count"] == 1


def test_object_expected_but_array_given_is_retried():
    llm = FakeLlm(tagged([{"city": "Paris", "country": "France"}]), tagged({"city": "Paris", "country": "France"}))
    out, _ = run(AIStructuredResponseGeneratorBlock, {"prompt": "Where?", "expected_format": FORMAT}, llm)
    assert out[0] == ("response", {"city": "Paris", "country": "France"}) and len(llm.requests) == 2


def test_fenced_json_without_tag_is_accepted():
    answer = 'Sure! Here it is:\n```json\n{"city": "Paris", "country": "France"}\n```\nAnything else?'
    out, _ = run(AIStructuredResponseGeneratorBlock, {"prompt": "Where?", "expected_format": FORMAT}, FakeLlm(answer))
    assert out[0] == ("response", {"city": "Paris", "country": "France"})


def test_extract_json_variants():
    tag = '<json_output id="abc">'
    assert extract_json(f'prose {tag}\n```json\n{{"a": 1}}\n```\n</json_output> more',
                        pure_json=False, tag=tag) == {"a": 1}
    assert extract_json('```json\n{"a": 1}\n```', pure_json=True, tag=tag) == {"a": 1}
    assert extract_json('Answer: {"a": {"b": 2}} done', pure_json=True, tag=tag) == {"a": {"b": 2}}
    with pytest.raises(json.JSONDecodeError):
        extract_json("no json here", pure_json=True, tag=tag)
    with pytest.raises(ValueError, match="json_output"):
        extract_json("no json here", pure_json=False, tag=tag)


def test_empty_expected_format_returns_raw_text():
    out, _ = run(AIStructuredResponseGeneratorBlock, {"prompt": "Hi", "expected_format": {},
                                                      "force_json_output": True}, llm := FakeLlm("hello there"))
    assert out[0] == ("response", {"response": "hello there"})
    assert llm.requests[0].json_output is False and contents(llm.requests[0], "system") == []


def test_conversation_history_goes_first():
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    llm = FakeLlm(tagged({"city": "Paris", "country": "France"}))
    run(AIStructuredResponseGeneratorBlock, {"prompt": "Where?", "expected_format": FORMAT, "sys_prompt": "S",
                                             "conversation_history": history}, llm)
    roles = [m["role"] for m in llm.requests[0].messages]
    assert roles == ["user", "assistant", "system", "system", "user"]


# -- errors ----------------------------------------------------------------------------------------

def test_llm_error_goes_to_error_pin_without_retry():
    llm = FakeLlm(LlmError("Invalid API key for openai", status=401))
    out, ctx = run(AIStructuredResponseGeneratorBlock, {"prompt": "Where?", "expected_format": FORMAT}, llm)
    assert out == [("error", "Invalid API key for openai")]
    assert len(llm.requests) == 1 and "llm_call_count" not in ctx.stats


def test_no_provider_configured():
    out, _ = run(AITextGeneratorBlock, {"prompt": "Hi"}, ctx=RunContext(credentials={"credentials": CREDS}))
    assert out == [("error", "No language model provider is configured")]


def test_credentials_not_resolved():
    out, _ = run(AITextGeneratorBlock, {"prompt": "Hi"}, ctx=RunContext(llm=FakeLlm("x")))
    assert out == [("error", "Credentials not resolved for this node")]


def test_unknown_model_is_a_validation_error():
    with pytest.raises(BlockInputError, match="model: .*Unknown model 'gpt-99'"):
        run(AITextGeneratorBlock, {"prompt": "Hi", "model": "gpt-99"}, FakeLlm("x"))


def test_model_accepts_provider_prefix_and_schema_lists_models():
    llm = FakeLlm("x")
    run(AITextGeneratorBlock, {"prompt": "Hi", "model": "anthropic/claude-sonnet-4-20250514"}, llm)
    assert llm.requests[0].model == "claude-sonnet-4-20250514"
    schema = AITextGeneratorBlock.input_schema()["properties"]["model"]
    assert "gpt-4o" in schema["enum"] and schema["default"] == "gpt-5.2-2025-12-11"


def test_fit_to_context_shortens_huge_messages():
    messages = [{"role": "system", "content": "short"}, {"role": "user", "content": "x" * 2_000_000}]
    fitted = fit_to_context(messages, "gpt-4o")  # 128k context -> ~256k characters budget
    assert fitted[0] == messages[0] and len(fitted[1]["content"]) <= 256_000
    assert "[... truncated ...]" in fitted[1]["content"] and len(messages[1]["content"]) == 2_000_000


# -- the other blocks ------------------------------------------------------------------------------

def test_conversation_block():
    llm = FakeLlm("Arlington, Texas.")
    messages = [{"role": "user", "content": "Where was the 2020 World Series?"}, "not a message"]
    out, _ = run(AIConversationBlock, {"messages": messages, "prompt": "Be brief."}, llm)
    assert out[0] == ("response", "Arlington, Texas.")
    assert llm.requests[0].messages == [messages[0], {"role": "user", "content": "Be brief."}]


def test_conversation_block_needs_something_to_send():
    out, _ = run(AIConversationBlock, {"messages": [{"role": "user", "content": "  "}]}, llm := FakeLlm("x"))
    assert out[0][0] == "error" and not llm.requests


def test_split_words_windows():
    text = " ".join(f"w{i}" for i in range(10))
    assert split_words(text, 4, 1) == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9", "w9"]
    assert split_words("", 4, 1) == []
    assert len(split_words("a " * 10_000, 10, 0)) == 100  # chunk cap


def test_summarizer_chunks_then_combines():
    def answer(request):
        system = contents(request, "system")[0]
        key = "final_summary" if "final_summary" in system else "summary"
        return fake_json_reply(request, {key: f"{key} #{len(llm.requests)}"}, tokens=(10, 5))

    llm = FakeLlm(answer)
    text = " ".join(f"word{i}" for i in range(250))
    out, ctx = run(AITextSummarizerBlock, {"text": text, "max_tokens": 100, "chunk_overlap": 20,
                                           "style": "bullet points", "focus": "numbers"}, llm)
    assert len(llm.requests) == 4 + 1  # windows start at 0, 80, 160, 240
    assert out[0] == ("summary", "final_summary #5")
    assert out[1] == ("prompt", llm.requests[-1].messages)
    first = contents(llm.requests[0], "user")[0]
    assert "bullet points" in first and "`numbers`" in first and "word0 " in first and "word100" not in first
    final = contents(llm.requests[-1], "user")[0]
    assert "summary #1\n\nsummary #2\n\nsummary #3\n\nsummary #4" in final
    assert ctx.stats["llm_call_count"] == 5 and ctx.stats["input_token_count"] == 50


def test_summarizer_resummarizes_long_summaries():
    def answer(request):
        if "final_summary" in contents(request, "system")[0]:
            return fake_json_reply(request, {"final_summary": "done"})
        return fake_json_reply(request, {"summary": "long " * 8})

    llm = FakeLlm(answer)
    out, _ = run(AITextSummarizerBlock, {"text": "x " * 30, "max_tokens": 10, "chunk_overlap": 0}, llm)
    # 3 chunks -> 24 summary words > 10 -> 3 more chunks -> 24 words ... until the depth cap, then final.
    assert out[0] == ("summary", "done")
    assert sum("final_summary" in contents(r, "system")[0] for r in llm.requests) == 1


def test_summarizer_rejects_non_string_summary():
    out, _ = run(AITextSummarizerBlock, {"text": "a b c"}, FakeLlm(tagged({"summary": ["a", "b"]})))
    assert out[0][0] == "error" and "expected the summary to be a string" in out[0][1]


def test_list_generator_items():
    llm = FakeLlm(tagged({"list": ["Mercury", "Venus", "Earth"]}))
    out, _ = run(AIListGeneratorBlock, {"focus": "inner planets"}, llm)
    assert [pin for pin, _ in out] == ["generated_list", "prompt", "list_item", "list_item", "list_item"]
    assert out[0] == ("generated_list", ["Mercury", "Venus", "Earth"])
    assert [v for pin, v in out if pin == "list_item"] == ["Mercury", "Venus", "Earth"]
    user = contents(llm.requests[0], "user")[0]
    assert "<focus>\n\ninner planets</focus>" in user and "Make up the data" in user
    assert "JSON arrays of strings" in contents(llm.requests[0], "system")[0]


def test_list_generator_pure_json_and_bad_list():
    llm = FakeLlm('{"reasoning": "r", "list": "Mercury, Venus"}')
    out, _ = run(AIListGeneratorBlock, {"source_data": "Mercury and Venus", "force_json_output": True}, llm)
    assert out == [("error", "Expected a list, but got str: Mercury, Venus")]
    assert llm.requests[0].json_output is True
    assert '"reasoning"' in contents(llm.requests[0], "system")[1]


def test_list_generator_max_retries_bounds():
    with pytest.raises(BlockInputError):
        run(AIListGeneratorBlock, {"focus": "x", "max_retries": 9}, FakeLlm("x"))


# -- AI condition ----------------------------------------------------------------------------------

@pytest.mark.parametrize("answer,expected", [
    ("true", True), (" FALSE ", False), ("Yes, it is.", True), ("no", False), ("1", True),
    ("untrue", None), ("true or false", None), ("maybe", None),
])
def test_parse_boolean_answer(answer, expected):
    assert parse_boolean_answer(answer) is expected


def test_ai_condition_yes_and_no():
    llm = FakeLlm("true", "false")
    data = {"input_value": "john@example.com", "condition": "is an email"}
    yes, ctx = run(AIConditionBlock, {**data, "yes_value": "Valid"}, llm)
    assert yes == [("result", True), ("yes_output", "Valid")]
    no, _ = run(AIConditionBlock, data, llm)
    assert no == [("result", False), ("no_output", "john@example.com")]
    request = llm.requests[0]
    assert request.max_tokens == 16 and "john@example.com" in contents(request, "user")[0]
    assert ctx.stats == {"input_token_count": 10, "output_token_count": 5, "llm_call_count": 1}


def test_ai_condition_unclear_answer_and_llm_error():
    out, _ = run(AIConditionBlock, {"input_value": 5, "condition": "is even"}, FakeLlm("It depends"))
    assert out == [("error", "Unclear AI response: 'It depends'")]
    out, _ = run(AIConditionBlock, {"input_value": 5, "condition": "is even"}, FakeLlm(LlmError("rate limited")))
    assert out == [("error", "rate limited")]
