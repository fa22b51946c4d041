"""``LlmGateway``: the one ``LlmCaller`` that really talks to language-model providers.

It routes a request by its model (``models.provider_of``) to the right wire format
(``anthropic`` for Anthropic, ``openai_compat`` for everyone else), refuses credentials issued for
another provider (a key must never be sent to a host it was not made for), and absorbs the
transient failures providers are known for: 429/5xx/529 answers, refused connections and
timeouts are retried with exponential backoff and jitter, honouring ``Retry-After``. Anything
else fails at once.

Every failure surfaces as an ``LlmError`` whose message is shown to users, so the API key is
scrubbed from anything derived from the provider's answer (error bodies can echo the key) and
request headers are never logged. One ``httpx.AsyncClient`` is shared so connections are reused.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from services.blocks.http_fetch import tls_context
from services.blocks.llm_providers import anthropic, openai_compat
from services.domain.integrations.credentials import APIKeyCredentials
from services.domain.llm.models import provider_of
from services.domain.llm.types import LlmError, LlmRequest, LlmResponse

logger = logging.getLogger(__name__)

DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "groq": "https://api.groq.com/openai/v1",
    "open_router": "https://openrouter.ai/api/v1",
    "aiml_api": "https://api.aimlapi.com/v1",
    "llama_api": "https://api.llama.com/compat/v1",
    "v0": "https://api.v0.dev/v1",
    "ollama": "http://localhost:11434/v1",
}
DEFAULT_OLLAMA_HOSTS = ("localhost:11434", "127.0.0.1:11434")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
# A provider answer is a few KB; the cap only guards against a runaway (or user-chosen Ollama) host.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_MAX_DETAIL_CHARS = 500
_REDACTED = "[redacted]"

Parser = Callable[[Any, str], LlmResponse]


class _Retryable(Exception):
    """One failed attempt worth repeating; ``final`` is the user-safe message if it was the last."""

    def __init__(self, final: str, *, log_reason: str, status: int | None = None, delay: float | None = None):
        super().__init__(final)
        self.final = final
        self.log_reason = log_reason
        self.status = status
        self.delay = delay


class LlmGateway:
    """Sends ``LlmRequest``s to the provider serving their model; see the module docstring."""

    def __init__(
        self,
        *,
        base_urls: dict[str, str] | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
        ollama_allow_hosts: tuple[str, ...] = DEFAULT_OLLAMA_HOSTS,
    ) -> None:
        overrides = dict(base_urls or {})
        self._ollama_allow_hosts = {_host_key(h) for h in ollama_allow_hosts}
        self._base_urls = {**DEFAULT_BASE_URLS, **overrides}
        # An operator-pinned Ollama endpoint beats the host a block input names.
        self._ollama_pinned = "ollama" in overrides
        self._timeout_s = timeout_s
        self._max_retries = max(0, max_retries)
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        # The TLS settings every outbound request shares (the CA bundle loaded once per process,
        # here at start, so a run's first web request does not pay for loading it).
        self._client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(timeout_s), verify=tls_context())

    @classmethod
    def from_settings(cls, settings) -> LlmGateway:
        """The gateway a service process runs with (``AGENTLOOM_LLM_*``, ``AGENTLOOM_OLLAMA_ALLOW_HOSTS``)."""
        return cls(base_urls=settings.llm_base_urls, timeout_s=settings.llm_timeout_s,
                   max_retries=settings.llm_max_retries, ollama_allow_hosts=tuple(settings.ollama_allow_hosts))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> LlmGateway:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def complete(self, credentials: APIKeyCredentials, request: LlmRequest) -> LlmResponse:
        provider = provider_of(request.model)
        if provider is None:
            raise LlmError(f"Unknown model: {request.model}")
        if credentials.provider != provider:
            raise LlmError(
                f"Credentials for provider '{credentials.provider}' cannot be used with model "
                f"'{request.model}' (provider '{provider}')"
            )
        api_key = credentials.bearer()
        base_url = self._base_url(provider, request)
        parse: Parser
        if provider == "anthropic":
            url, headers, body = anthropic.build_messages_request(request, base_url=base_url, api_key=api_key)
            parse = anthropic.parse_messages_response
        elif provider in openai_compat.OPENAI_COMPATIBLE_PROVIDERS:
            url, headers, body = openai_compat.build_chat_request(
                request, provider=provider, base_url=base_url, api_key=api_key
            )
            parse = openai_compat.parse_chat_response
        else:
            raise LlmError(f"No client for provider '{provider}'")
        try:
            httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            raise LlmError(f"{provider} endpoint URL is invalid") from None

        payload, retries = await self._post_with_retries(provider, url, headers, body, api_key)
        if isinstance(payload, dict) and "error" in payload and payload["error"]:
            # Some OpenAI-compatible routers report upstream failures inside a 200 answer.
            detail = _truncate(_scrub(_detail_from_json(payload) or "unknown error", api_key))
            raise LlmError(f"{provider} API error: {detail}")
        try:
            response = parse(payload, request.model)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise LlmError(
                f"{provider} API returned a malformed response: {_scrub(str(exc), api_key)}"
            ) from None
        response.transport_retries = retries
        return response

    # -- routing -----------------------------------------------------------------------------

    def _base_url(self, provider: str, request: LlmRequest) -> str:
        if provider == "ollama" and request.ollama_host and not self._ollama_pinned:
            # The host comes from a graph author: only allow-listed ones, or a block could make the
            # executor call any internal service (server-side request forgery).
            if _host_key(request.ollama_host) not in self._ollama_allow_hosts:
                raise LlmError(f"Ollama host '{request.ollama_host}' is not allowed here; an operator can "
                               "allow it with AGENTLOOM_OLLAMA_ALLOW_HOSTS or pin AGENTLOOM_LLM_BASE_URLS")
            return _ollama_base_url(request.ollama_host)
        base = self._base_urls.get(provider)
        if not base:
            raise LlmError(f"No endpoint configured for provider '{provider}'")
        return base

    # -- transport ---------------------------------------------------------------------------

    async def _post_with_retries(
        self, provider: str, url: str, headers: dict[str, str], body: dict[str, Any], api_key: str
    ) -> tuple[Any, int]:
        """POST until a non-retryable answer or the retry budget is spent; (decoded JSON, retries)."""
        retries = 0
        while True:
            try:
                return await self._attempt(provider, url, headers, body, api_key), retries
            except _Retryable as failure:
                if retries >= self._max_retries:
                    raise LlmError(
                        failure.final + _retries_suffix(retries), status=failure.status, retryable=True
                    ) from None
                retries += 1
                delay = failure.delay if failure.delay is not None else self._backoff(retries)
                logger.warning(
                    "%s API %s; retry %d/%d in %.2fs",
                    provider, failure.log_reason, retries, self._max_retries, delay,
                )
                await asyncio.sleep(delay)

    async def _attempt(
        self, provider: str, url: str, headers: dict[str, str], body: dict[str, Any], api_key: str
    ) -> Any:
        """One HTTP exchange bounded by ``timeout_s`` overall (httpx bounds each phase only)."""
        try:
            async with asyncio.timeout(self._timeout_s):
                async with self._client.stream("POST", url, headers=headers, json=body) as response:
                    raw = await _read_capped(response)
                    status, reason, retry_after = response.status_code, response.reason_phrase, _retry_after(response)
        except (httpx.TimeoutException, TimeoutError):
            raise _Retryable(
                f"{provider} API timed out after {self._timeout_s:g}s", log_reason="timed out"
            ) from None
        except httpx.ConnectError as exc:
            detail = _truncate(_scrub(str(exc) or type(exc).__name__, api_key))
            raise _Retryable(
                f"{provider} API could not be reached: {detail}", log_reason=f"unreachable ({detail})"
            ) from None
        except _ResponseTooLarge:
            raise LlmError(f"{provider} API response exceeded {MAX_RESPONSE_BYTES} bytes") from None
        except (httpx.HTTPError, UnicodeError, ValueError) as exc:
            # The library's text may quote the request it refused (headers included): only the kind.
            raise LlmError(f"{provider} API request failed ({type(exc).__name__}); if this persists, "
                           "check that the credential's key is exactly what the provider issued") from None

        if 200 <= status < 300:
            try:
                return json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise LlmError(f"{provider} API returned a malformed response: the body is not JSON") from None

        # Scrub before truncating, so a cut can never leave part of the key behind.
        detail = _truncate(_scrub(_error_detail(raw, reason), api_key))
        message = f"{provider} API error {status}" + (f": {detail}" if detail else "")
        if status in RETRYABLE_STATUSES:
            delay = min(retry_after, self._backoff_max_s) if retry_after is not None else None
            raise _Retryable(message, log_reason=f"answered {status}", status=status, delay=delay)
        raise LlmError(message, status=status)

    def _backoff(self, retry_number: int) -> float:
        """Exponential in the retry number, capped, with jitter so clients don't retry in lockstep."""
        ceiling = min(self._backoff_max_s, self._backoff_base_s * (2 ** (retry_number - 1)))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret


class _ResponseTooLarge(Exception):
    pass


async def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _ResponseTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _host_key(host: str) -> str:
    """``http://Host:11434/v1/`` and ``host:11434`` compare equal."""
    text = host.strip().lower()
    text = text.split("://", 1)[-1]
    return text.split("/", 1)[0]


def _ollama_base_url(host: str) -> str:
    """``host:port`` (AutoGPT's block input) becomes ``http://host:port/v1``; a full URL is kept."""
    host = host.strip().rstrip("/")
    base = host if "://" in host else f"http://{host}"
    return base if base.endswith("/v1") else f"{base}/v1"


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI) or ``Retry-After`` (seconds or HTTP date)."""
    millis = response.headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_detail(raw: bytes, reason_phrase: str) -> str:
    """The provider's own error message if it sent one, else a short plain-text body, else the reason."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        data = None
    detail = _detail_from_json(data) if data is not None else None
    if detail is None:
        text = raw.decode("utf-8", "replace").strip()
        # HTML error pages (load balancers, CDNs) say nothing useful to a user.
        detail = text if text and not text.startswith("<") else reason_phrase
    return detail


def _detail_from_json(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    if isinstance(error, str):
        return error
    for field_name in ("message", "detail"):
        if isinstance(data.get(field_name), str):
            return data[field_name]
    return None


def _truncate(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL_CHARS else text[: _MAX_DETAIL_CHARS - 3] + "..."


def _scrub(text: str, api_key: str) -> str:
    """Remove the key from provider-derived text (error bodies may echo what was sent), in the
    forms it can take there: as sent, escaped as in a repr, and JSON-escaped."""
    if not api_key:
        return text
    for form in {api_key, repr(api_key)[1:-1], json.dumps(api_key)[1:-1]}:
        if form:
            text = text.replace(form, _REDACTED)
    return text


def _retries_suffix(retries: int) -> str:
    if retries == 0:
        return ""
    return f" ({retries} {'retry' if retries == 1 else 'retries'})"
