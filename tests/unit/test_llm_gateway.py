"""``LlmGateway`` against a real local HTTP server speaking the OpenAI and Anthropic wire formats.

A unit test although it uses real sockets: ``tests.fake_llm.FakeLlmServer`` runs in this process
on the loopback interface, and nothing else (no database, no broker) is needed. Backoff settings
are tiny so that the retry paths run in milliseconds and the whole module takes a few seconds.
"""

from __future__ import annotations

import logging
import time

import pytest
import pytest_asyncio

from services.blocks.llm_providers.gateway import LlmGateway
from services.dev.local_broker import free_port
from services.domain.integrations.credentials import APIKeyCredentials
from services.domain.llm.types import LlmError, LlmRequest
from tests.fake_llm import FakeLlmServer

OPENAI_KEY = "sk-test-openai-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"


def creds(provider: str, key: str) -> APIKeyCredentials:
    return APIKeyCredentials(id=f"cred-{provider}", provider=provider, api_key=key)


OPENAI = creds("openai", OPENAI_KEY)
ANTHROPIC = creds("anthropic", ANTHROPIC_KEY)


def ask(model: str, text: str = "hello there world", **kwargs) -> LlmRequest:
    return LlmRequest(model=model, messages=[{"role": "user", "content": text}], **kwargs)


@pytest.fixture(scope="module")
def server():
    with FakeLlmServer() as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh_server(server):
    server.reset()
    yield


def make_gateway(server: FakeLlmServer, **overrides) -> LlmGateway:
    settings = dict(
        base_urls={
            "openai": server.openai_base_url,
            "groq": server.openai_base_url,
            "open_router": server.openai_base_url,
            "anthropic": server.anthropic_base_url,
        },
        timeout_s=5.0,
        max_retries=3,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
    )
    settings.update(overrides)
    return LlmGateway(**settings)


@pytest_asyncio.fixture
async def gateway(server):
    gw = make_gateway(server)
    yield gw
    await gw.aclose()


# -- success and usage -------------------------------------------------------------------------


async def test_openai_success_with_usage(gateway, server):
    request = LlmRequest(
        model="gpt-4o",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello there world"},
        ],
    )
    response = await gateway.complete(OPENAI, request)

    assert response.text == "echo: hello there world"
    assert response.prompt_tokens == 5  # "Be brief." + "hello there world"
    assert response.completion_tokens == 4
    assert response.stop_reason == "stop"
    assert response.model == "gpt-4o"
    assert response.transport_retries == 0
    [sent] = server.requests
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent["json"]["messages"] == request.messages
    assert "response_format" not in sent["json"]
    assert "max_tokens" not in sent["json"] and "max_completion_tokens" not in sent["json"]


async def test_openai_json_output_asks_for_a_json_object(gateway, server):
    server.enqueue(text='{"answer": 42}')
    response = await gateway.complete(OPENAI, ask("gpt-4o-mini", "answer in json", json_output=True))

    assert response.text == '{"answer": 42}'
    assert server.requests[0]["json"]["response_format"] == {"type": "json_object"}


async def test_anthropic_success_with_usage(gateway, server):
    request = LlmRequest(
        model="claude-sonnet-4-20250514",
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "say something nice"},
        ],
    )
    response = await gateway.complete(ANTHROPIC, request)

    assert response.text == "echo: say something nice"
    assert response.prompt_tokens == 6  # system (3 words) + user (3 words)
    assert response.completion_tokens == 4
    assert response.stop_reason == "end_turn"
    [sent] = server.requests
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == ANTHROPIC_KEY
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent["headers"]
    assert sent["json"]["system"] == "You are terse."
    assert sent["json"]["max_tokens"] == 8192  # the model's 64k output limit, capped
    assert sent["json"]["messages"] == [{"role": "user", "content": "say something nice"}]


async def test_custom_responder_sees_the_wire(gateway, server):
    server.responder = lambda body, wire: f"{wire}:{body['model']}"
    assert (await gateway.complete(OPENAI, ask("gpt-4o"))).text == "openai:gpt-4o"
    assert (await gateway.complete(ANTHROPIC, ask("claude-3-haiku-20240307"))).text == (
        "anthropic:claude-3-haiku-20240307"
    )


async def test_reasoning_fields_are_read(gateway, server):
    for field_name in ("reasoning", "reasoning_content"):
        server.enqueue(body={
            "model": "deepseek/deepseek-r1-0528",
            "choices": [{"message": {"content": "42", field_name: "thought hard"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        })
        response = await gateway.complete(creds("open_router", "or-key"), ask("deepseek/deepseek-r1-0528"))
        assert (response.text, response.reasoning, response.completion_tokens) == ("42", "thought hard", 1)


# -- token limits --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "provider,model,field_name",
    [
        ("openai", "o3-mini", "max_completion_tokens"),
        ("openai", "o1", "max_completion_tokens"),
        ("openai", "gpt-5.2-2025-12-11", "max_completion_tokens"),
        ("openai", "gpt-4o", "max_tokens"),
        ("groq", "llama-3.3-70b-versatile", "max_tokens"),
        ("open_router", "openai/gpt-oss-120b", "max_tokens"),
    ],
)
async def test_token_limit_field_depends_on_model(gateway, server, provider, model, field_name):
    await gateway.complete(creds(provider, "k-123456789"), ask(model, max_tokens=321))

    sent = server.requests[0]["json"]
    assert sent[field_name] == 321
    other = {"max_tokens", "max_completion_tokens"} - {field_name}
    assert not other & sent.keys()


async def test_anthropic_max_tokens_defaults_and_overrides(gateway, server):
    await gateway.complete(ANTHROPIC, ask("claude-3-haiku-20240307"))  # model max 4096
    await gateway.complete(ANTHROPIC, ask("claude-sonnet-4-20250514", max_tokens=100))

    assert [r["json"]["max_tokens"] for r in server.requests] == [4096, 100]


# -- Anthropic message normalisation ----------------------------------------------------------


async def test_anthropic_messages_are_normalised(gateway, server):
    request = LlmRequest(
        model="claude-haiku-4-5-20251001",
        messages=[
            {"role": "system", "content": "Rule one."},
            {"role": "assistant", "content": "I start."},
            {"role": "user", "content": "first"},
            {"role": "user", "content": "second"},
            {"role": "system", "content": "Rule two."},
            {"role": "assistant", "content": "a1"},
            {"role": "assistant", "content": "a2  "},
        ],
    )
    response = await gateway.complete(ANTHROPIC, request)

    sent = server.requests[0]["json"]
    assert sent["system"] == "Rule one.\n\nRule two."
    roles = [m["role"] for m in sent["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert sent["messages"][1] == {"role": "assistant", "content": "I start."}
    assert sent["messages"][2] == {"role": "user", "content": "first\n\nsecond"}
    assert sent["messages"][3] == {"role": "assistant", "content": "a1\n\na2"}
    assert response.text == "echo: first\n\nsecond"


# -- retries -------------------------------------------------------------------------------------


async def test_retries_429_with_retry_after_and_500_then_succeeds(server):
    server.enqueue(status=429, headers={"Retry-After": "0.3"})
    server.enqueue(status=500)
    async with make_gateway(server, backoff_max_s=1.0) as gateway:
        started = time.monotonic()
        response = await gateway.complete(OPENAI, ask("gpt-4o"))
        elapsed = time.monotonic() - started

    assert response.text == "echo: hello there world"
    assert response.transport_retries == 2
    assert len(server.requests) == 3
    assert elapsed >= 0.3  # Retry-After was honoured


async def test_retry_after_is_capped_at_backoff_max(server):
    server.enqueue(status=529, headers={"Retry-After": "60"})
    async with make_gateway(server, backoff_max_s=0.05) as gateway:
        started = time.monotonic()
        response = await gateway.complete(ANTHROPIC, ask("claude-3-haiku-20240307"))

    assert response.transport_retries == 1
    assert time.monotonic() - started < 2


async def test_retries_exhausted_raise(server):
    for _ in range(3):
        server.enqueue(status=503, body={"error": {"message": "overloaded, try later"}})
    async with make_gateway(server, max_retries=2) as gateway:
        with pytest.raises(LlmError) as info:
            await gateway.complete(OPENAI, ask("gpt-4o"))

    assert info.value.message == "openai API error 503: overloaded, try later (2 retries)"
    assert info.value.status == 503 and info.value.retryable
    assert len(server.requests) == 3


async def test_other_4xx_fail_at_once(gateway, server):
    server.enqueue(status=400, body={"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}})

    with pytest.raises(LlmError) as info:
        await gateway.complete(ANTHROPIC, ask("claude-3-haiku-20240307"))

    assert info.value.message == "anthropic API error 400: bad"
    assert info.value.status == 400 and not info.value.retryable
    assert len(server.requests) == 1


async def test_timeout_is_retried_then_fails(server):
    server.enqueue(delay=3.0)
    server.enqueue(delay=3.0)
    async with make_gateway(server, timeout_s=0.3, max_retries=1) as gateway:
        started = time.monotonic()
        with pytest.raises(LlmError) as info:
            await gateway.complete(ANTHROPIC, ask("claude-3-haiku-20240307"))

    assert "timed out" in info.value.message
    assert info.value.message == "anthropic API timed out after 0.3s (1 retry)"
    assert time.monotonic() - started < 2
    assert len(server.requests) == 2


async def test_timeout_then_success(server):
    server.enqueue(delay=3.0)
    async with make_gateway(server, timeout_s=0.3) as gateway:
        response = await gateway.complete(OPENAI, ask("gpt-4o"))

    assert response.text == "echo: hello there world"
    assert response.transport_retries == 1


async def test_connection_refused_is_retried_then_fails(server):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    async with make_gateway(server, base_urls={"openai": dead}, max_retries=2) as gateway:
        with pytest.raises(LlmError) as info:
            await gateway.complete(OPENAI, ask("gpt-4o"))

    assert info.value.message.startswith("openai API could not be reached")
    assert info.value.message.endswith("(2 retries)")


# -- keys never leak -----------------------------------------------------------------------------


@pytest.mark.parametrize("credentials,model", [(OPENAI, "gpt-4o"), (ANTHROPIC, "claude-3-haiku-20240307")])
async def test_401_message_never_contains_the_key(gateway, server, credentials, model):
    server.expected_key = "the-right-key"

    with pytest.raises(LlmError) as info:
        await gateway.complete(credentials, ask(model))

    key = credentials.bearer()
    assert info.value.status == 401
    assert key not in info.value.message and key not in str(info.value)
    assert "401" in info.value.message and "Incorrect API key provided: [redacted]" in info.value.message
    assert len(server.requests) == 1


async def test_retry_logs_never_contain_the_key(gateway, server, caplog):
    echo = {"error": {"message": f"rate limited for key {OPENAI_KEY}"}}
    server.enqueue(status=429, headers={"Retry-After": "0"}, body=echo)
    server.enqueue(status=429, headers={"Retry-After": "0"}, body=echo)
    server.enqueue(status=429, headers={"Retry-After": "0"}, body=echo)
    server.enqueue(status=429, headers={"Retry-After": "0"}, body=echo)

    with caplog.at_level(logging.DEBUG):
        with pytest.raises(LlmError) as info:
            await gateway.complete(OPENAI, ask("gpt-4o"))

    assert OPENAI_KEY not in info.value.message
    assert "[redacted]" in info.value.message
    assert caplog.records, "retries should be logged"
    assert all(OPENAI_KEY not in r.getMessage() for r in caplog.records)


# -- malformed answers ---------------------------------------------------------------------------


async def test_malformed_body_raises(gateway, server):
    server.enqueue(raw=b"{broken")

    with pytest.raises(LlmError) as info:
        await gateway.complete(OPENAI, ask("gpt-4o"))

    assert info.value.message == "openai API returned a malformed response: the body is not JSON"


async def test_wrong_shape_raises(gateway, server):
    server.enqueue(body={"id": "x", "choices": []})
    server.enqueue(body={"id": "msg", "type": "message"})

    with pytest.raises(LlmError, match="openai API returned a malformed response: no choices"):
        await gateway.complete(OPENAI, ask("gpt-4o"))
    with pytest.raises(LlmError, match="anthropic API returned a malformed response: no content blocks"):
        await gateway.complete(ANTHROPIC, ask("claude-3-haiku-20240307"))


async def test_non_json_answer_text_is_passed_through(gateway, server):
    server.enqueue(text="not json at all")
    response = await gateway.complete(OPENAI, ask("gpt-4o", json_output=True))
    assert response.text == "not json at all"


async def test_error_inside_a_200_answer_raises(gateway, server):
    server.enqueue(body={"error": {"message": "upstream provider failed", "code": 502}})

    with pytest.raises(LlmError, match="open_router API error: upstream provider failed"):
        await gateway.complete(creds("open_router", "or-key-123"), ask("google/gemini-2.5-flash"))


# -- routing and credential checks ---------------------------------------------------------------


async def test_unknown_model(gateway, server):
    with pytest.raises(LlmError) as info:
        await gateway.complete(OPENAI, ask("gpt-17-ultra"))
    assert info.value.message == "Unknown model: gpt-17-ultra"
    assert server.requests == []


async def test_credentials_for_another_provider_are_refused(gateway, server):
    with pytest.raises(LlmError) as info:
        await gateway.complete(ANTHROPIC, ask("gpt-4o"))
    assert info.value.message == (
        "Credentials for provider 'anthropic' cannot be used with model 'gpt-4o' (provider 'openai')"
    )
    assert server.requests == []


async def test_ollama_uses_the_block_host_when_allow_listed(server):
    async with make_gateway(server, ollama_allow_hosts=(server.host,)) as gateway:
        response = await gateway.complete(creds("ollama", ""), ask("llama3.2", ollama_host=server.host))

    assert response.text == "echo: hello there world"
    assert server.requests[0]["path"] == "/v1/chat/completions"
    assert server.requests[0]["headers"]["authorization"].startswith("Bearer ")


async def test_ollama_host_not_allow_listed_is_refused_before_any_request(server):
    async with make_gateway(server) as gateway:  # default list: localhost:11434 only
        with pytest.raises(LlmError, match="is not allowed"):
            await gateway.complete(creds("ollama", ""), ask("llama3.2", ollama_host=f"http://{server.host}/v1"))
    assert server.requests == []


async def test_pinned_ollama_url_wins_over_block_host(server):
    dead_host = f"127.0.0.1:{free_port()}"
    async with make_gateway(server, base_urls={"ollama": server.openai_base_url}, max_retries=0) as gateway:
        response = await gateway.complete(creds("ollama", "x"), ask("llama3", ollama_host=dead_host))

    assert response.text == "echo: hello there world"
    assert len(server.requests) == 1


@pytest.mark.parametrize("key", ["sk-SECRET-with-newline\n", "sk-SECRET\r\nX: y", "sk-SECRET-\u00e9t\u00e9"])
async def test_a_key_the_http_library_refuses_is_not_quoted_back(server, key):
    async with make_gateway(server, max_retries=0) as gateway:
        with pytest.raises(LlmError) as info:
            await gateway.complete(creds("openai", key), ask("gpt-4o"))
    assert "SECRET" not in info.value.message and "request failed" in info.value.message
    assert server.requests == []
