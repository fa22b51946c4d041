"""Audit F8: a WebSocket upgrade whose request line (or a header) is over websockets' 8 KB line
limit got no answer and was held open. Served the way ``agentloom serve api`` serves it (uvicorn
with ``cli.ws_protocol()``), it is now answered at once and closed; a normal upgrade still works."""

import asyncio
import contextlib
import socket
import time

import pytest
import uvicorn

from services import gateway
from services.cli.main import ws_protocol
from services.dev.local_broker import free_port
from services.infra.migrations import migrate
from tests.integration.helpers import eventually

UPGRADE = ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n")


@pytest.fixture
async def api_port(settings):
    await asyncio.to_thread(migrate, settings)
    port = free_port()
    app = gateway.create_app(settings, background=[])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           ws=ws_protocol(), lifespan="on"))
    task = asyncio.create_task(server.serve())

    async def started():
        return server.started

    await eventually(started, timeout=20, message="api started")
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


def exchange(port: int, request: str, timeout: float = 5.0) -> tuple[bytes, float, bool]:
    """Send a raw request; (first bytes of the answer, seconds until they came, closed by the server)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request.encode())
        start = time.monotonic()
        try:
            answer = conn.recv(4096)
        except TimeoutError:
            return b"", timeout, False
        elapsed = time.monotonic() - start
        closed = False
        with contextlib.suppress(socket.timeout, ConnectionResetError):
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    closed = True
                    break
        return answer, elapsed, closed


@pytest.mark.parametrize("token_chars", [9_000, 100_000])
async def test_f8_oversized_upgrade_request_line_is_answered_and_closed(api_port, token_chars):
    request = f"GET /ws?token={'a' * token_chars} HTTP/1.1\r\nHost: 127.0.0.1\r\n{UPGRADE}\r\n"
    answer, elapsed, closed = await asyncio.to_thread(exchange, api_port, request)
    assert answer.startswith(b"HTTP/1.1 414"), answer[:80]
    assert elapsed < 2 and closed


async def test_f8_oversized_upgrade_header_is_answered_and_closed(api_port):
    request = f"GET /ws?token=t HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {'c' * 9_000}\r\n{UPGRADE}\r\n"
    answer, elapsed, closed = await asyncio.to_thread(exchange, api_port, request)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:80]
    assert elapsed < 2 and closed


async def test_f8_an_upgrade_under_the_limit_still_reaches_the_app(api_port):
    request = f"GET /ws?token={'a' * 8_000} HTTP/1.1\r\nHost: 127.0.0.1\r\n{UPGRADE}\r\n"
    answer, _elapsed, _closed = await asyncio.to_thread(exchange, api_port, request)
    assert answer.startswith(b"HTTP/1.1 101"), answer[:80]  # then closed 4003: not a valid token
