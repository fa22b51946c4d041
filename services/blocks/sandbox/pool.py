"""A small pool of template worker processes with an enforced wall-clock limit.

Why processes: a Jinja render is pure Python holding the GIL, and ``asyncio.timeout`` cannot
preempt synchronous code, so a render on the event loop (or on a thread) can freeze a whole API
worker or the executor. Here a render is a message to another process; the caller awaits the
answer on the event loop (asyncio subprocess pipes, no thread held), and when the limit passes
the worker is SIGKILLed and a fresh one takes its slot on the next render. The worker caps its own
memory (``RLIMIT_AS``, see ``worker.py``).

Workers are fresh interpreters (the spawn model: never a fork of this threaded asyncio process).
They are started with asyncio's subprocess API rather than ``multiprocessing`` so the child does
not re-import the parent's ``__main__`` (uvicorn, pytest, a CLI) before it can take work, and the
pipes need no selector tricks. They start lazily, at most ``workers`` at once, and a full pool
serves waiting renders round-robin by user (``services.infra.fair_slots.Slots``). One pool per
process, opened and closed with the app or the executor, and handed to blocks through
``RunContext.templates``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import sys
from pathlib import Path
from typing import Any

from services.blocks.sandbox.renderer import TemplateRenderError, TemplateTimeout
from services.blocks.sandbox.worker import FRAME
from services.infra.fair_slots import Slots

log = logging.getLogger(__name__)
START_TIMEOUT_S = 60.0  # a cold interpreter imports Jinja first; not counted against a render
_ROOT = str(Path(__file__).resolve().parents[3])  # the directory holding the ``services`` package
_BOOT = "from services.blocks.sandbox.worker import worker_main; worker_main({memory_mb}, {cpu_s})"


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def receive(self) -> tuple:
        header = await self.proc.stdout.readexactly(FRAME.size)
        return pickle.loads(await self.proc.stdout.readexactly(FRAME.unpack(header)[0]))

    async def ask(self, request: bytes) -> tuple:
        self.proc.stdin.write(FRAME.pack(len(request)) + request)
        await self.proc.stdin.drain()
        return await self.receive()

    def kill(self) -> None:
        if self.alive:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass


class TemplatePool:
    """Renders templates in worker processes: ``await pool.render(source, values)``."""

    def __init__(self, workers: int = 2, timeout_s: float = 5.0, memory_mb: int = 512) -> None:
        self.size, self.timeout_s, self.memory_mb = max(1, workers), timeout_s, memory_mb
        self._slots = Slots(self.size, per_user=self.size)  # any user may use every idle worker
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._reaping: set[asyncio.Task] = set()
        self._closed = False
        self.started = 0  # workers started so far (a killed one is replaced by a new start)
        self.killed = 0   # workers killed at the wall-clock limit

    @classmethod
    def from_settings(cls, settings: Any) -> TemplatePool:
        return cls(settings.template_workers, settings.template_timeout_s, settings.template_memory_mb)

    async def render(self, template: str, values: dict[str, Any], *, escape_html: bool = False,
                     owner: str = "") -> str:
        """Render in a worker; ``owner`` (the user) is the unit of fair queueing when all are busy."""
        try:
            request = pickle.dumps((template, values, escape_html), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - values are JSON in practice
            raise TemplateRenderError(f"template values cannot be sent to the renderer: {exc}") from None
        await self._slots.acquire(owner)
        try:
            worker = await self._take()
            answer = await self._ask(worker, request)
        finally:
            self._slots.release(owner)
        if answer[0] == "ok":
            return answer[1]
        raise TemplateRenderError(answer[1])

    async def _ask(self, worker: _Worker, request: bytes) -> tuple:
        keep = False
        try:
            async with asyncio.timeout(self.timeout_s):
                answer = await worker.ask(request)
            keep = not (len(answer) > 2 and answer[2])
            return answer
        except TimeoutError:
            self.killed += 1
            log.warning("template render passed %gs; killing worker pid %s", self.timeout_s, worker.proc.pid)
            raise TemplateTimeout(f"template took longer than {self.timeout_s:g}s") from None
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            raise TemplateRenderError("the template renderer stopped unexpectedly (too much memory?)") from None
        finally:  # also on cancellation: a late answer must never reach the next caller
            if keep and not self._closed:
                self._idle.append(worker)
            else:
                self._retire(worker)

    async def _take(self) -> _Worker:
        if self._closed:
            raise TemplateRenderError("the template renderer is shut down")
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                return worker
            self._retire(worker)
        return await self._start()

    async def _start(self) -> _Worker:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _BOOT.format(memory_mb=int(self.memory_mb), cpu_s=float(2 * self.timeout_s + 1)),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env)
        worker = _Worker(proc)
        self._all.add(worker)
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                hello = await worker.receive()
            if hello[0] != "ready":
                raise OSError(f"unexpected greeting {hello[0]!r}")
        except BaseException as exc:
            self._retire(worker)
            if isinstance(exc, (TimeoutError, asyncio.IncompleteReadError, OSError)):
                raise TemplateRenderError(f"could not start a template worker: {exc}") from None
            raise
        self.started += 1
        return worker

    def _retire(self, worker: _Worker) -> None:
        """Kill the worker and wait for it in the background (callable from a cancelled task)."""
        worker.kill()
        self._all.discard(worker)
        task = asyncio.get_running_loop().create_task(worker.proc.wait())
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)

    async def aclose(self) -> None:
        """Stop every worker; renders still running fail with "stopped unexpectedly"."""
        self._closed = True
        self._idle.clear()
        for worker in list(self._all):
            self._retire(worker)
        if self._reaping:
            await asyncio.wait(list(self._reaping), timeout=5.0)
