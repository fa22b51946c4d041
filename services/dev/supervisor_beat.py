"""``agentloom up`` tells ``/health`` which of its children are down: a heartbeat row of its own
(component ``supervisor``, details ``{"down": [...], "restarts": {...}}``), written each pass of its
loop. A killed executor's last heartbeat stays fresh for a few seconds, and a revived one needs a
moment to rejoin its group; this row is what keeps ``/health`` red for exactly that window.
Nothing is written while the database is away (``/health`` is red for the database then)."""

from __future__ import annotations

import logging

import psycopg
from psycopg.types.json import Jsonb

from services.dev.supervision import Supervisor
from services.infra import db
from services.infra.heartbeat import STALE_AFTER_S, instance_id
from services.infra.settings import Settings

log = logging.getLogger(__name__)
COMPONENT = "supervisor"


class SupervisorBeat:
    def __init__(self, settings: Settings, supervisor: Supervisor) -> None:
        self.settings, self.supervisor = settings, supervisor
        self.conn: psycopg.Connection | None = None

    def beat(self) -> None:
        try:
            if self.conn is None or self.conn.closed:
                self.conn = db.connect(self.settings, autocommit=True, connect_timeout=2)
                self.conn.execute("SET synchronous_commit TO OFF")  # liveness, not data
            rows = self.conn.execute("SELECT instance FROM component_heartbeats WHERE ready "
                                     "AND updated_at > now() - make_interval(secs => %s)", (STALE_AFTER_S,)).fetchall()
            ready_pids = {int(pid) for (instance,) in rows if (pid := instance.rsplit(":", 1)[-1]).isdigit()}
            down = self.supervisor.down(ready_pids)
            self.conn.execute(
                "INSERT INTO component_heartbeats (component, instance, ready, details, updated_at) "
                "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (component, instance) DO UPDATE "
                "SET ready = EXCLUDED.ready, details = EXCLUDED.details, updated_at = now()",
                (COMPONENT, instance_id(), not down, Jsonb({"down": down, "restarts": self.supervisor.restarts})))
        except (psycopg.Error, OSError) as exc:
            log.debug("supervisor heartbeat failed: %s", exc)
            if self.conn is not None:
                self.conn.close()
            self.conn = None

    def close(self) -> None:
        if self.conn is not None and not self.conn.closed:
            try:
                self.conn.execute("DELETE FROM component_heartbeats WHERE component = %s AND instance = %s",
                                  (COMPONENT, instance_id()))
            except psycopg.Error:
                pass
            self.conn.close()
