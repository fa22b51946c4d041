"""A deliberately thin HTTP/1.1 keep-alive load generator for the read benchmark.

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
        request = (f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.token}\r\n"
                   "Connection: keep-alive\r\n\r\n").encode()
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


async def load(host: str, port: int, token: str, path: str, *, clients: int, seconds: float) -> tuple[list[float], int]:
    """Run ``clients`` connections for ``seconds``; returns latencies and the count of non-200s."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        conn = Connection(host, port, token)
        await conn.open()
        try:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                status, _ = await conn.get(path)
                latencies.append(time.perf_counter() - start)
                errors += status != 200
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, errors
