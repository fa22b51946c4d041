"""Background services as real OS processes, so fault tests can kill -9 them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from services.infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def settings_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": settings.database_url, "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "AGENTLOOM_DB_SCHEMA": settings.db_schema, "AGENTLOOM_TOPIC_PREFIX": settings.topic_prefix,
        "AGENTLOOM_TOPIC_PARTITIONS": str(settings.topic_partitions), "AGENTLOOM_JWT_SECRET": settings.jwt_secret,
        "AGENTLOOM_NODE_TIMEOUT_S": str(settings.node_timeout_s), "AGENTLOOM_LOG_LEVEL": "INFO",
        "AGENTLOOM_LOCAL_MODE": str(settings.local_mode).lower(),
        "AGENTLOOM_SMTP_HOST": settings.smtp_host, "AGENTLOOM_SMTP_PORT": str(settings.smtp_port),
        "AGENTLOOM_SMTP_SECURITY": settings.smtp_security, "AGENTLOOM_MAIL_DIR": settings.mail_dir,
        "AGENTLOOM_PUBLIC_URL": settings.public_url,
        "AGENTLOOM_KAFKA_SESSION_TIMEOUT_MS": str(settings.kafka_session_timeout_ms),
        "AGENTLOOM_KAFKA_BACKGROUND_FETCH_MAX_WAIT_MS": str(settings.kafka_background_fetch_max_wait_ms),
        "AGENTLOOM_EXECUTOR_DRAIN_S": str(settings.executor_drain_s),
        "AGENTLOOM_HTTP_ALLOW_HOSTS": json.dumps(settings.http_allow_hosts),
        "AGENTLOOM_CALLBACK_RETRY_DELAYS_S": json.dumps(settings.callback_retry_delays_s),
        "AGENTLOOM_CALLBACK_TIMEOUT_S": str(settings.callback_timeout_s),
        "AGENTLOOM_CALLBACK_LEASE_S": str(settings.callback_lease_s),
        "AGENTLOOM_CALLBACK_POLL_S": str(settings.callback_poll_s),
    })
    return env


class ServiceProcess:
    def __init__(self, name: str, settings: Settings, log_dir: Path) -> None:
        self.name = name
        self.settings = settings
        self.log_path = log_dir / f"{name}-{os.getpid()}-{id(self)}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServiceProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "services.cli.main", "serve", self.name], cwd=ROOT,
                                     env=settings_env(self.settings), stdout=log, stderr=subprocess.STDOUT)
        return self

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]
