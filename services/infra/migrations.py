"""Migrations: the schema, every context's event table, then ``infra/migrations/*.sql`` in order.

Idempotent and serialised by an advisory lock, so every process may run it at start.
"""

from __future__ import annotations

from pathlib import Path

from schemas.topics import CONTEXTS
from services.infra.db import connect
from services.infra.eventstore import EventStore, make_datastore
from services.infra.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "infra" / "migrations"


def migrate(settings: Settings) -> list[str]:
    """Create the schema, every context's event table and the read-model tables (idempotent)."""
    with connect(settings, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{settings.db_schema}"')
    datastore = make_datastore(settings, pool_size=1)
    try:
        for context in CONTEXTS:
            EventStore(datastore, context).create_tables()
    finally:
        datastore.close()
    applied = []
    with connect(settings, autocommit=False) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('agentloom.migrations'))")
        for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
            conn.execute(path.read_text())
            applied.append(path.name)
        conn.commit()
    return applied
