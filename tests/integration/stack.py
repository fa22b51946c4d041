"""Runs the real services in-process for integration tests: gateway (HTTP), relays, projector
and optionally executors, against the real PostgreSQL and broker."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import uvicorn

from schemas.topics import CONTEXTS
from services import gateway
from services.dev.local_broker import free_port
from services.infra.auth import issue_token
from services.infra.eventstore import make_datastore
from services.infra.kafka import ensure_topics
from services.infra.migrations import migrate
from services.infra.relay import Relay
from services.infra.settings import Settings
from services.projector.runner import Projector
from tests.integration.helpers import eventually


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_url = ""
        self.tasks: dict[str, tuple[asyncio.Task, asyncio.Event]] = {}
        self.projector: Projector | None = None
        self.relays: list[Relay] = []
        self.datastore = None
        self.notifier = None
        self.app = None  # the gateway app, for tests that look at its state

    def token(self, user: str, *, admin: bool = False) -> str:
        return issue_token(self.settings, user, admin=admin)

    def client(self, user: str | None = None, *, admin: bool = False, **kwargs) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token(user, admin=admin)}"} if user else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30, **kwargs)

    def start(self, name: str, factory) -> None:
        stop = asyncio.Event()
        self.tasks[name] = (asyncio.create_task(factory(stop)), stop)

    async def stop(self, name: str) -> None:
        task, stop = self.tasks.pop(name)
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=15)
        except TimeoutError:
            task.cancel()

    async def kill(self, name: str) -> None:
        """Cancel a service abruptly (no graceful shutdown of its work)."""
        task, _ = self.tasks.pop(name)
        task.cancel()
        with contextlib.suppress(BaseException):
            await task

    def start_executor(self, name: str = "executor"):
        from services.executor.service import ExecutorService

        service = ExecutorService(self.settings)
        self.start(name, service.run)
        return service

    async def wait_terminal(self, client, graph_id: str, exec_id: str, timeout: float = 30.0) -> dict:
        async def check():
            r = await client.get(f"/api/graphs/{graph_id}/executions/{exec_id}")
            if r.status_code == 200 and r.json()["status"] in ("COMPLETED", "FAILED", "TERMINATED"):
                return r.json()
            return None

        return await eventually(check, timeout=timeout, interval=0.05, message=f"execution {exec_id} ends")

    def start_notifier(self, name: str = "notifier", **kwargs):
        from services.notifier.service import NotifierService

        service = NotifierService(self.settings, **kwargs)
        self.start(name, service.run)
        return service

    def start_projector(self, name: str = "projector") -> Projector:
        projector = Projector(self.settings)
        self.start(name, projector.run)
        self.projector = projector
        return projector


@contextlib.asynccontextmanager
async def running_stack(settings: Settings, *, projector: bool = True, executors: int = 0, notifier: bool = False):
    await asyncio.to_thread(migrate, settings)
    await ensure_topics(settings)
    stack = Stack(settings)
    stack.datastore = make_datastore(settings, pool_size=2)
    for context in CONTEXTS:
        relay = Relay(settings, context)
        stack.relays.append(relay)
        stack.start(f"relay-{context}", relay.run)
    # Consumers join their groups concurrently: each join waits out the broker's rebalance delay,
    # and waiting for them one after another doubled every module's set-up time.
    joins = []
    if projector:
        proj = stack.start_projector()
        joins.append(eventually(lambda: _ready(proj), timeout=30, message="projector joined its group"))
    for i in range(executors):
        service = stack.start_executor(f"executor-{i}")
        joins.append(eventually(lambda s=service: _ready_flag(s), timeout=30, message="executor joined its group"))
    if notifier:
        stack.notifier = stack.start_notifier()
        joins.append(eventually(lambda: _ready_flag(stack.notifier), timeout=30, message="notifier joined its groups"))
    await asyncio.gather(*joins)
    port = free_port()
    app = stack.app = gateway.create_app(settings, background=[])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    server_task = asyncio.create_task(server.serve())
    stack.base_url = f"http://127.0.0.1:{port}"
    await eventually(lambda: _started(server), timeout=20, message="gateway started")
    try:
        yield stack
    finally:
        server.should_exit = True
        for name in list(stack.tasks):
            await stack.stop(name)
        await asyncio.wait_for(server_task, timeout=15)
        stack.datastore.close()


async def _ready_flag(service) -> bool:
    return service.ready


async def _ready(service) -> bool:
    return service.stats.ready


async def _started(server) -> bool:
    return server.started
