"""A deliberately thin HTTP/1.1 keep-alive load generator for the read and execute benchmarks.

httpx spends about as much CPU per request as the server does; on a 2-core machine that makes the
client the bottleneck. This client only writes a request and reads ``Content-Length`` bytes.
"""

from __future__ import annotations

import asyncio
import time


class Connection:
    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.request("GET", path)

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        content = (f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body is not None else "")
        request = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.token}\r\n"
                   f"{content}Connection: keep-alive\r\n\r\n").encode() + (body or b"")
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        body = await self.reader.readexactly(length)
        return status, body

    async def close(self) -> None:
        if self.writer:
            self.writer.close()


async def post_each(host: str, port: int, token: str, path: str, bodies: list[bytes]) -> list[tuple[int, bytes]]:
    """Every body POSTed to ``path`` at once, each on a connection of its own (opened for it, as a
    burst of separate clients would); the answers in the bodies' order."""

    async def post(body: bytes) -> tuple[int, bytes]:
        conn = Connection(host, port, token)
        await conn.open()
        try:
            return await conn.request("POST", path, body)
        finally:
            await conn.close()

    return await asyncio.gather(*(post(body) for body in bodies))


async def load(host: str, port: int, token: str, path: str, *, clients: int, seconds: float) -> tuple[list[float], int]:
    """Run ``clients`` connections for ``seconds``; returns latencies and the count of non-200s."""
    latencies, answers = await load_requests(host, port, [(token, "GET", path, None)], clients=clients,
                                             seconds=seconds)
    return latencies, sum(1 for status, _ in answers if status != 200)


async def load_requests(host: str, port: int, requests: list[tuple[str, str, str, bytes | None]], *, clients: int,
                        seconds: float) -> tuple[list[float], list[tuple[int, bytes]]]:
    """Run ``clients`` connections for ``seconds``, client ``i`` sending ``requests[i % len]``
    (token, method, path, body) again and again; returns the latencies and every answer."""
    latencies: list[float] = []
    answers: list[tuple[int, bytes]] = []
    deadline = time.perf_counter() + seconds

    async def worker(i: int) -> None:
        token, method, path, body = requests[i % len(requests)]
        conn = Connection(host, port, token)
        await conn.open()
        try:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                answers.append(await conn.request(method, path, body))
                latencies.append(time.perf_counter() - start)
        finally:
            await conn.close()

    await asyncio.gather(*(worker(i) for i in range(clients)))
    return latencies, answers
