"""A real local HTTP server that speaks the OpenAI and Anthropic wire formats, for tests.

Why a real server rather than a mocked transport: the gateway's retries, timeouts, header
handling and body parsing are exactly what needs testing, and they only show up over a real
socket. The server answers deterministically (by default ``"echo: " + <last user message>``,
with word counts as token usage), checks auth and the request rules the real APIs enforce (so a
malformed request fails here as it would in production), and can be scripted per request to
answer 429/5xx, stall, or send broken bodies.

    with FakeLlmServer() as server:
        server.enqueue(status=429, headers={"Retry-After": "0"})
        gateway = LlmGateway(base_urls={"openai": server.openai_base_url,
                                        "anthropic": server.anthropic_base_url})
"""

from __future__ import annotations

import json
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any], str], str]

OPENAI_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
ANTHROPIC_PATHS = frozenset({"/v1/messages"})
_OPENAI_REASONING_PREFIXES = ("o1", "o3", "gpt-5")


@dataclass
class ScriptedReply:
    """One scripted answer; see ``FakeLlmServer.enqueue``."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    text: str | None = None
    raw: bytes | None = None


def text_of(content: Any) -> str:
    """Message content as text: a string, or the text parts of a content-block list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def echo_last_user_message(request_json: dict[str, Any], wire: str) -> str:
    """The default answer: ``"echo: "`` + the last user message's text."""
    users = [m for m in request_json.get("messages", []) if isinstance(m, dict) and m.get("role") == "user"]
    return "echo: " + (text_of(users[-1].get("content")) if users else "")


def _words(text: str) -> int:
    return len(text.split())


class FakeLlmServer:
    """``ThreadingHTTPServer`` on 127.0.0.1 (free port) in a daemon thread; see the module docstring."""

    def __init__(self, *, expected_key: str | None = None) -> None:
        self.expected_key = expected_key
        self.responder: Responder = echo_last_user_message
        self.requests: list[dict[str, Any]] = []
        self._script: deque[ScriptedReply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeLlmServer:
        server = self

        class Handler(_Handler):
            fake = server

        self._stopping.clear()
        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping on a scripted delay
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeLlmServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the form of an Ollama block's ``ollama_host`` input."""
        return self.url.removeprefix("http://")

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    # -- scripting ----------------------------------------------------------------------------

    def enqueue(
        self,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        body: Any = None,
        delay: float = 0.0,
        text: str | None = None,
        raw: bytes | None = None,
    ) -> None:
        """Script the next unscripted request's answer (consumed in order, one per request).

        ``status`` != 200: answer that status with ``body`` (a dict is sent as JSON; default an
        OpenAI/Anthropic-style error). ``status=200, body={...}``: answer that exact JSON.
        ``text``: a normal answer with this content. ``raw``: a 200 with these bytes as the body.
        ``delay``: sleep first (interrupted by ``stop``), then answer as otherwise scripted.
        """
        with self._lock:
            self._script.append(ScriptedReply(status, dict(headers or {}), body, delay, text, raw))

    def reset(self) -> None:
        """Forget recorded requests, pending scripts, the responder and the expected key."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
        self.responder = echo_last_user_message
        self.expected_key = None

    def _next_script(self) -> ScriptedReply | None:
        with self._lock:
            return self._script.popleft() if self._script else None

    def _record(self, entry: dict[str, Any]) -> int:
        with self._lock:
            self.requests.append(entry)
            self._counter += 1
            return self._counter


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout tests) leaves a broken pipe; that is expected, not noise.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLlmServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_POST(self) -> None:  # stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            payload = json.loads(raw_body) if raw_body else None
        except ValueError:
            payload = None
        path = self.path.split("?", 1)[0]
        number = self.fake._record({"path": path, "headers": headers, "json": payload})

        if path in OPENAI_PATHS:
            wire = "openai"
        elif path in ANTHROPIC_PATHS:
            wire = "anthropic"
        else:
            return self._send_json(404, _error_body("not_found_error", f"No route for {path}"))

        auth_failure = self._check_auth(wire, headers)
        if auth_failure:
            return self._send_json(401, auth_failure)
        if not isinstance(payload, dict):
            return self._send_json(400, _error_body("invalid_request_error", "The body must be a JSON object"))
        invalid = _validate(wire, payload, headers)
        if invalid:
            return self._send_json(400, _error_body("invalid_request_error", invalid))

        script = self.fake._next_script()
        if script is not None and script.delay:
            if self.fake._stopping.wait(script.delay):
                return
        if script is not None and script.raw is not None:
            return self._send(200, script.raw, "application/json", script.headers)
        if script is not None and script.status != 200:
            body = script.body if script.body is not None else _error_body("api_error", f"scripted {script.status}")
            return self._send_json(script.status, body, script.headers)
        if script is not None and script.body is not None:
            return self._send_json(200, script.body, script.headers)

        answer = script.text if script is not None and script.text is not None else self.fake.responder(payload, wire)
        extra_headers = script.headers if script is not None else {}
        return self._send_json(200, _answer(wire, payload, answer, number), extra_headers)

    def _check_auth(self, wire: str, headers: dict[str, str]) -> dict[str, Any] | None:
        if wire == "openai":
            auth = headers.get("authorization", "")
            if not auth.startswith("Bearer ") or not auth[len("Bearer "):]:
                return _error_body("invalid_request_error", "You didn't provide an API key.")
            key = auth[len("Bearer "):]
        else:
            key = headers.get("x-api-key", "")
            if not key:
                return _error_body("authentication_error", "x-api-key header is required")
        expected = self.fake.expected_key
        if expected is not None and key != expected:
            return _error_body("authentication_error", f"Incorrect API key provided: {key}")
        return None

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(body, bytes):
            data = body
        else:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self._send(status, data, "application/json", headers or {})

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (ConnectionError, TimeoutError):
            pass


def _error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _validate(wire: str, payload: dict[str, Any], headers: dict[str, str]) -> str | None:
    """The request rules the real APIs enforce that a gateway bug would break; None when valid."""
    if not isinstance(payload.get("model"), str) or not payload["model"]:
        return "model: field required"
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    if wire == "openai":
        if "max_tokens" in payload and payload["model"].startswith(_OPENAI_REASONING_PREFIXES):
            return (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead."
            )
        return None
    if "anthropic-version" not in headers:
        return "anthropic-version: header is required"
    if not isinstance(payload.get("max_tokens"), int) or payload["max_tokens"] < 1:
        return "max_tokens: field required"
    expected_role = "user"
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        if role != expected_role:
            return "messages: roles must alternate between 'user' and 'assistant', starting with 'user'"
        if not text_of(message.get("content")).strip():
            return f"messages.{i}: text content blocks must be non-empty"
        expected_role = "assistant" if role == "user" else "user"
    return None


def _answer(wire: str, payload: dict[str, Any], text: str, number: int) -> dict[str, Any]:
    prompt_words = sum(_words(text_of(m.get("content"))) for m in payload["messages"] if isinstance(m, dict))
    if wire == "openai":
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": 0,
            "model": payload["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt_words,
                "completion_tokens": _words(text),
                "total_tokens": prompt_words + _words(text),
            },
        }
    prompt_words += _words(text_of(payload.get("system", "")))
    return {
        "id": f"msg_fake_{number}",
        "type": "message",
        "role": "assistant",
        "model": payload["model"],
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": prompt_words, "output_tokens": _words(text)},
    }
