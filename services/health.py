"""What ``GET /health`` (readiness) and ``/metrics`` report about the whole stack, decided once.

A component is red, with a reason, when:

- the database does not answer within ``PROBE_TIMEOUT_S`` (every read and write needs it);
- no broker address accepts a connection (the relay, projector, executor, notifier and scheduler
  need it; a request may still be accepted, but nothing moves);
- a background component has no fresh heartbeat (its process is gone or wedged);
- a consumer has open dead letters, or a relay has left recorded events unpublished for longer than
  ``health_relay_behind_s`` (a wedged relay still heartbeats);
- executions are stuck: QUEUED longer than ``stuck_queued_s`` or RUNNING with no event for longer
  than ``stuck_running_s`` (their ids are named, a few at a time);
- ``agentloom up`` reports a child of its down (died and not ready again yet): a killed process's
  last heartbeat stays fresh for a few seconds, this closes that gap.

Liveness (``/health/live``) is only "this process answers": an orchestrator restarts a process that
fails it, and must not restart the API because the database is away.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from services.infra.heartbeat import STALE_AFTER_S, component_status
from services.infra.settings import Settings
from services.metrics import dead_letter_counts, relay_backlog

PROBE_TIMEOUT_S = 2.0
BROKER_PROBE_EVERY_S = 1.0
STUCK_SHOWN = 5


@dataclass
class Report:
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    ok: bool = True
    stuck: dict[str, int] = field(default_factory=lambda: {"QUEUED": 0, "RUNNING": 0})
    problems: list[tuple[str, str]] = field(default_factory=list)  # (component, reason), applied last
    supervised_down: list[str] = field(default_factory=list)  # children agentloom up is restarting

    def red(self, component: str, reason: str) -> None:
        entry = self.components.setdefault(component, {"ready": False})
        entry["ready"] = False
        entry.setdefault("reasons", []).append(reason)


def _broker_addresses(settings: Settings) -> list[tuple[str, int]]:
    out = []
    for item in settings.kafka_bootstrap_servers.split(","):
        host, _, port = item.strip().rpartition(":")
        if host and port.isdigit():
            out.append((host.strip("[]"), int(port)))
    return out


class BrokerProbe:
    """Whether any bootstrap address accepts a TCP connection, asked at most once a second (a
    health endpoint polled by many clients must not open a connection each)."""

    def __init__(self, settings: Settings) -> None:
        self.addresses = _broker_addresses(settings)
        self._checked_at = 0.0
        self._answer: str | None = None
        self._lock = asyncio.Lock()

    async def problem(self) -> str | None:
        async with self._lock:
            if time.monotonic() - self._checked_at >= BROKER_PROBE_EVERY_S:
                self._answer = await self._probe()
                self._checked_at = time.monotonic()
            return self._answer

    async def _probe(self) -> str | None:
        if not self.addresses:
            return "no broker address configured (KAFKA_BOOTSTRAP_SERVERS)"
        errors = []
        for host, port in self.addresses:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=PROBE_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                errors.append(f"{host}:{port}: {exc or type(exc).__name__}")
                continue
            writer.close()
            return None
        return "broker unreachable (" + "; ".join(errors)[:300] + ")"


async def stuck_executions(conn, settings: Settings) -> tuple[dict[str, int], list[str]]:
    """Counts of stuck runs by status, and a few of their ids (oldest first)."""
    rows = await (await conn.execute(
        "SELECT status, count(*), (array_agg(execution_id ORDER BY updated_at))[1:%s] FROM rm_executions "
        "WHERE (status = 'QUEUED' AND updated_at < now() - make_interval(secs => %s)) "
        "   OR (status = 'RUNNING' AND updated_at < now() - make_interval(secs => %s)) GROUP BY status",
        (STUCK_SHOWN, settings.stuck_queued_s, settings.stuck_running_s))).fetchall()
    counts = {"QUEUED": 0, "RUNNING": 0}
    ids: list[str] = []
    for status, count, some in rows:
        counts[status] = int(count)
        ids += [str(i) for i in some or []]
    return counts, ids


async def check(pool, settings: Settings, broker: BrokerProbe, expected: list[str]) -> Report:
    report = Report()
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S * 2):
            async with pool.connection(timeout=PROBE_TIMEOUT_S) as conn:
                await conn.execute("SELECT 1")
                report.components["database"] = {"ready": True}
                await _consumers(conn, settings, report)
            report.components.update(await component_status(pool, expected))
            report.supervised_down = _supervised_down(report.components.pop("supervisor", None))
        for component, reason in report.problems:  # stuck whatever its heartbeat says
            report.red(component, reason)
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        report.components["database"] = {"ready": False, "error": (str(exc) or type(exc).__name__)[:200]}
    database_up = report.components["database"]["ready"]
    report.components["command_api"] = {"ready": database_up}
    report.components["query_api"] = {"ready": database_up}
    problem = await broker.problem()
    report.components["broker"] = {"ready": problem is None}
    if problem:
        report.red("broker", problem)
    for name in report.supervised_down:  # what agentloom up saw die and is bringing back
        report.red(name, "the process died; agentloom up is restarting it")
    for name in expected:  # a component with no fresh heartbeat says why
        entry = report.components.setdefault(name, {"ready": False, "instances": 0})
        if database_up and not entry.get("instances"):
            report.red(name, f"no heartbeat in the last {STALE_AFTER_S:g} s (process down or wedged)")
    counted = {*expected, "database", "broker", "executions"}
    report.ok = not report.problems and not report.supervised_down and all(
        entry.get("ready") for name, entry in report.components.items() if name in counted)
    return report


def _supervised_down(entry: dict[str, Any] | None) -> list[str]:
    """The children a fresh supervisor heartbeat (``agentloom up``) says are down."""
    return sorted({name for details in (entry or {}).get("details") or [] for name in details.get("down", [])})


async def _consumers(conn, settings: Settings, report: Report) -> None:
    for consumer, count in (await dead_letter_counts(conn)).items():
        if count:
            plural = "s" if count != 1 else ""
            report.problems.append((consumer, f"{count} open dead letter{plural} (`agentloom deadletters list`)"))
    for context, lag in (await relay_backlog(conn)).items():
        if lag["behind_s"] > settings.health_relay_behind_s:
            report.problems.append(("relay", f"{context}: {lag['head'] - lag['position']} recorded events unpublished "
                                             f"for {lag['behind_s']:.0f} s (store head {lag['head']}, relay position "
                                             f"{lag['position']})"))
    report.stuck, ids = await stuck_executions(conn, settings)
    report.components["executions"] = {"ready": True}
    if any(report.stuck.values()):
        report.problems.append(("executions", (
            f"{report.stuck['QUEUED']} queued longer than {settings.stuck_queued_s:g} s, "
            f"{report.stuck['RUNNING']} running with no event for {settings.stuck_running_s:g} s "
            f"(oldest: {', '.join(ids)})")))


def health_gauges(report: Report) -> str:
    """The report as Prometheus gauges: one per component (1 ready, 0 red) and the stuck runs."""
    lines = ["# TYPE agentloom_component_ready gauge", "# TYPE agentloom_executions_stuck gauge"]
    lines += [f'agentloom_component_ready{{component="{name}"}} {1 if entry.get("ready") else 0}'
              for name, entry in sorted(report.components.items())]
    lines += [f'agentloom_executions_stuck{{status="{status}"}} {count}' for status, count in report.stuck.items()]
    return "\n".join(lines) + "\n"
