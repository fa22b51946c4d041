"""What the benchmark modules share: percentiles, the report line, the output check, the WebSocket
watcher that learns when runs end, and settings for reaching the bench stack's own database."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path

TERMINAL = {"COMPLETED", "FAILED", "TERMINATED"}
ROOT = Path(__file__).resolve().parents[1]


def bench_dir() -> Path:
    """Where ``make bench`` keeps its installation and its figures (``AGENTLOOM_BENCH_DIR``)."""
    return Path(os.environ.get("AGENTLOOM_BENCH_DIR", ROOT / ".agentloom-bench"))


def bench_port() -> int:
    """The API port of the bench's installation (``AGENTLOOM_BENCH_PORT``)."""
    return int(os.environ.get("AGENTLOOM_BENCH_PORT", "8016"))


def own_installation(section: str) -> bool:
    """Whether ``section`` may start installations of its own: not when ``DATABASE_URL`` names the
    user's database (it says so). Forgets the main stack's database, which ``bench_settings`` put
    in the environment, so the section's stacks start their own."""
    if os.environ.get("AGENTLOOM_BENCH_DATABASE_URL_SET"):
        print(f"{section:<22} skipped: DATABASE_URL is set (the section needs installations of its own)")
        return False
    os.environ.pop("DATABASE_URL", None)
    return True


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


FIGURES: dict[str, dict] = {}  # every reported line, for the side-by-side table (bench/peers.py)


def report(name: str, **figures) -> None:
    FIGURES[name] = figures
    parts = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    print(f"{name:<22} {parts}", flush=True)


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"WRONG ANSWER: {what}")


async def finished(client, graph_id: str, exec_id: str, timeout_s: float = 120) -> dict:
    """The execution as REST reports it once it has ended (polled every 2 ms; a run that has not
    ended within ``timeout_s`` aborts the benchmark)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = (await client.get(f"/api/graphs/{graph_id}/executions/{exec_id}")).json()
        if got.get("status") in TERMINAL:
            return got
        await asyncio.sleep(0.002)
    raise SystemExit(f"execution {exec_id} did not end in {timeout_s:g} s")


class Watcher:
    """Learns that runs ended from the WebSocket's graph channel (a push, so the benchmark does not
    load the machine with polling); the time then stops at the REST read that reports it."""

    def __init__(self, stack, graph_id: str) -> None:
        self.url = stack.base.replace("http://", "ws://") + f"/ws?token={stack.token}"
        self.graph_id = graph_id
        self.ended: dict[str, asyncio.Event] = {}
        self.notified: dict[str, datetime] = {}  # execution id -> when its AGENT_RUN notification arrived

    async def __aenter__(self) -> Watcher:
        import orjson
        import websockets

        self.ws = await websockets.connect(self.url, max_size=None)
        await self.ws.send(orjson.dumps({"method": "subscribe_graph_executions",
                                         "data": {"graph_id": self.graph_id}}).decode())
        await self.ws.recv()
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        import orjson

        async for raw in self.ws:
            msg = orjson.loads(raw)
            data = msg.get("data") or {}
            if msg.get("method") == "graph_execution_event" and data.get("status") in TERMINAL:
                self.event_for(data["id"]).set()
            elif msg.get("method") == "notification" and data.get("type") == "AGENT_RUN":
                self.notified[data["data"]["execution_id"]] = datetime.now(UTC)

    def event_for(self, exec_id: str) -> asyncio.Event:
        return self.ended.setdefault(exec_id, asyncio.Event())

    async def __aexit__(self, *exc) -> None:
        self.reader.cancel()
        await self.ws.close()


def bench_settings(stack):
    from services.infra.settings import load_settings

    os.environ["AGENTLOOM_DATA_DIR"] = str(stack.data_dir)
    if not os.environ.get("DATABASE_URL"):
        from services.dev.embedded_pg import open_embedded_postgres

        os.environ["DATABASE_URL"] = open_embedded_postgres(stack.data_dir / "pgdata").get_uri()
    return load_settings(local_default=True)  # the bench's own local stack



def stack_processes(stack) -> list:
    """``agentloom up`` and its children, and the embedded PostgreSQL with its backends (pg_ctl
    detaches the server from ``up``, so it is found by its data directory)."""
    import psutil

    procs = []
    try:
        root = psutil.Process(stack.proc.pid)
        procs += [root, *root.children(recursive=True)]
    except psutil.Error:
        pass
    pgdata = str(stack.data_dir / "pgdata")
    for proc in psutil.process_iter(["cmdline"]):
        if pgdata in (proc.info["cmdline"] or []):
            try:
                procs += [proc, *proc.children()]
            except psutil.Error:
                pass
    return procs


def _cpu_of(proc) -> float | None:
    """User plus system CPU seconds one process has used so far (None once it is gone)."""
    import psutil

    try:
        return sum(proc.cpu_times()[:2])
    except psutil.Error:
        return None


def cpu_seconds(procs) -> float:
    """User plus system CPU seconds the given processes have used so far (those gone are skipped)."""
    return sum(used for used in map(_cpu_of, procs) if used is not None)


def component(proc) -> str:
    """What a stack process is, for a CPU breakdown: the service of ``agentloom serve SERVICE``,
    ``postgres``, ``broker`` (Tansu), or ``up`` (the supervisor)."""
    import psutil

    try:
        cmd = proc.cmdline()
    except psutil.Error:
        return "gone"
    if len(cmd) >= 2 and cmd[-2] == "serve":
        return cmd[-1]
    text = " ".join(cmd)
    return "postgres" if "postgres" in text else "broker" if "tansu" in text else "up"


def cpu_by_component(procs) -> dict[str, float]:
    """``cpu_seconds`` per ``component`` (the processes' names taken now)."""
    totals: dict[str, float] = {}
    for proc in procs:
        used = _cpu_of(proc)
        if used is not None:
            name = component(proc)
            totals[name] = totals.get(name, 0.0) + used
    return totals


def stack_cpu_percent(stack, seconds: float = 1.0) -> float:
    """Percent of one core the stack (``stack_processes``) used over the next ``seconds``."""
    procs = stack_processes(stack)
    before = cpu_seconds(procs)
    time.sleep(seconds)
    return 100 * (cpu_seconds(procs) - before) / seconds


async def settle(stack, *, margin_percent: float = 15.0, timeout_s: float = 180.0) -> float:
    """Wait until the stack uses no more CPU than it did idle (``stack.idle_cpu``, measured at
    start: consumers polling the broker cost something even with nothing to do) plus
    ``margin_percent`` of a core, twice in a row; returns the seconds waited. A section that
    measures steady-state latency calls this first, so the catch-up work an earlier section left
    (the notifier and projector reading 20,000 store events, say) is not counted against it."""
    start = time.monotonic()
    quiet = 0
    while quiet < 2 and time.monotonic() - start < timeout_s:
        used = await asyncio.to_thread(stack_cpu_percent, stack)
        quiet = quiet + 1 if used < stack.idle_cpu + margin_percent else 0
    return time.monotonic() - start
