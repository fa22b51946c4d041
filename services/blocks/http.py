"""SendWebRequestBlock: call an HTTP API from a graph (AutoGPT id, pins and defaults).

The request goes through ``http_fetch.guarded_fetch``, so the deployment's outbound policy holds:
no private, loopback, link-local or cloud-metadata destinations unless allow-listed in
``ctx.http_allow_hosts``, redirects re-checked hop by hop, and capped response size and time.

The response is routed by status class so a graph can branch on it: 2xx on ``response``, 4xx on
``client_error``, anything else on ``server_error``. Bodies labelled JSON are decoded, others are
returned as text. Files are accepted as ``data:`` URIs only (there is no block file store here),
and are sent as multipart form data together with the body's fields.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import httpx

from services.blocks.http_fetch import FetchError, FetchResult, guarded_fetch
from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)


class HttpMethod(str, enum.Enum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    DELETE = "DELETE"
    PATCH = "PATCH"
    OPTIONS = "OPTIONS"
    HEAD = "HEAD"


def _data_uri_file(uri: str, index: int) -> tuple[str, bytes, str]:
    """(file name, bytes, mime type) from a ``data:`` URI."""
    if not uri.startswith("data:") or "," not in uri:
        raise ValueError(f"file {index} must be a data: URI")
    meta, payload = uri[5:].split(",", 1)
    params = meta.split(";")
    mime = params[0] or "application/octet-stream"
    name = next((p.split("=", 1)[1] for p in params[1:] if p.startswith("name=")), f"file{index}")
    try:
        data = (base64.b64decode(payload, validate=True) if "base64" in params[1:]
                else urllib.parse.unquote_to_bytes(payload))
    except binascii.Error as exc:
        raise ValueError(f"file {index} is not valid base64: {exc}") from None
    return urllib.parse.unquote(name), data, mime


def encode_body(body: Any, *, json_format: bool, files: list[str],
                files_name: str) -> tuple[bytes | None, dict[str, str]]:
    """The request body bytes and the headers describing them (content type and length)."""
    if files:
        uploads = [(files_name, _data_uri_file(f, i)) for i, f in enumerate(files)]
        fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (body or {}).items()}
        request = httpx.Request("POST", "http://encode.invalid", data=fields, files=uploads)
    elif body is None:
        return None, {}
    elif json_format:
        request = httpx.Request("POST", "http://encode.invalid", json=body)
    else:
        request = httpx.Request("POST", "http://encode.invalid", data=body)
    content = request.read()
    return content, {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "content-length")}


def decode_response(result: FetchResult) -> Any:
    content_type = next((v for k, v in result.headers.items() if k.lower() == "content-type"), "").lower()
    charset = "utf-8"
    for part in content_type.split(";")[1:]:
        if part.strip().startswith("charset="):
            charset = part.split("=", 1)[1].strip().strip('"') or "utf-8"
    try:
        text = result.body.decode(charset, errors="replace")
    except LookupError:
        text = result.body.decode("utf-8", errors="replace")
    if "json" in content_type.split(";")[0]:
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


async def _example_send(method: str, url: str, headers: dict[str, str], content: bytes | None,
                        allow_hosts: tuple[str, ...]) -> FetchResult:
    """Stands in for the network in the block's own examples."""
    json_type = {"content-type": "application/json"}
    if url.endswith("/missing"):
        return FetchResult(404, json_type, b'{"detail": "not found"}', url)
    if url.endswith("/broken"):
        return FetchResult(502, {"content-type": "text/plain"}, b"bad gateway", url)
    echo = {"method": method, "body": json.loads(content) if content else None}
    return FetchResult(201, json_type, json.dumps(echo).encode(), url)


class SendWebRequestBlock(Block):
    id = "6595ae1f-b924-42cb-9a41-551a0611c4b4"
    description = "Sends an HTTP request to a public URL and returns the response, split by status class."
    categories = frozenset({BlockCategory.OUTPUT})

    class Input(BlockSchemaInput):
        url: str = SchemaField(description="The URL to send the request to.", placeholder="https://api.example.com")
        method: HttpMethod = SchemaField(default=HttpMethod.POST, description="The HTTP method to use.")
        headers: dict[str, str] = SchemaField(
            default_factory=dict, description="Headers to send with the request.", advanced=True)
        json_format: bool = SchemaField(
            default=True, description="Send the body as JSON (form fields when false or when files are sent).")
        body: dict | None = SchemaField(default=None, description="The body of the request.")
        files_name: str = SchemaField(default="file", description="Form field name for the files.", advanced=True)
        files: list[str] = SchemaField(
            default_factory=list, description="Files to upload, as data: URIs.", advanced=True)

    class Output(BlockSchemaOutput):
        response: Any = SchemaField(description="The response body, for 2xx statuses.")
        client_error: Any = SchemaField(description="The response body, for 4xx statuses.")
        server_error: Any = SchemaField(description="The response body, for 5xx and other statuses.")

    test_input = [
        {"url": "https://api.example.com/items", "body": {"name": "widget"}},
        {"url": "https://api.example.com/missing", "method": "GET"},
        {"url": "https://api.example.com/broken", "method": "DELETE"},
    ]
    test_output = [
        ("response", {"method": "POST", "body": {"name": "widget"}}),
        ("client_error", {"detail": "not found"}),
        ("server_error", "bad gateway"),
    ]
    test_mock = {"_send": _example_send}
    external_effects = True  # a request to any URL

    @classmethod
    def safe_to_repeat(cls, data: dict[str, Any]) -> bool:
        """HTTP's idempotent methods (RFC 9110 §9.2.2) may be sent again; POST and PATCH may not."""
        try:
            method = HttpMethod(data.get("method", HttpMethod.POST))
        except ValueError:
            return True  # the block refuses the input without sending anything
        return method not in (HttpMethod.POST, HttpMethod.PATCH)

    @classmethod
    def dry_run_output(cls) -> list[tuple[str, Any]]:
        """The first example only (a 2xx answer): the others answer on the error pins, and a dry
        run yielding all three would take every branch at once."""
        return cls.test_output[:1]

    async def _send(self, method: str, url: str, headers: dict[str, str], content: bytes | None,
                    allow_hosts: tuple[str, ...]) -> FetchResult:
        """The one place that touches the network (replaced in the block's examples)."""
        return await guarded_fetch(method, url, headers=headers, content=content, allow_hosts=allow_hosts)

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        try:
            content, body_headers = encode_body(input_data.body, json_format=input_data.json_format,
                                                files=input_data.files, files_name=input_data.files_name)
            # Headers set by the user win (names compared case-insensitively), except the length,
            # which must match the bytes actually sent.
            merged = httpx.Headers(body_headers)
            for name, value in input_data.headers.items():
                merged[name] = value
            if content is not None:
                merged["Content-Length"] = str(len(content))
            headers = dict(merged.items())
        except (ValueError, TypeError) as exc:
            yield "error", f"Could not build the request: {exc}"
            return
        method = HttpMethod(input_data.method).value
        try:
            result = await self._send(method, input_data.url, headers, content, tuple(ctx.http_allow_hosts))
        except FetchError as exc:
            yield "error", str(exc)
            return
        payload = decode_response(result)
        if 200 <= result.status < 300:
            yield "response", payload
        elif 400 <= result.status < 500:
            yield "client_error", payload
        else:
            yield "server_error", payload
