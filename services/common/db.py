"""PostgreSQL connections: the eventsourcing datastore, async pools for read models, migrations.

Every connection sets ``search_path`` to the configured schema, so one database can hold several
isolated agentloom installations (the tests use a schema each).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool

from services.common.settings import Settings

# jsonb columns (read models) decode with orjson: several times faster than the stdlib on the
# read path, same values. Process-wide, for every connection this process opens.
set_json_loads(orjson.loads)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "infra" / "migrations"


def conninfo(settings: Settings) -> dict[str, Any]:
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (agentloom up sets it for the local stack)")
    info = conninfo_to_dict(settings.database_url)
    info.setdefault("host", "localhost")
    info.setdefault("port", "5432")
    info.setdefault("user", "postgres")
    info.setdefault("dbname", info["user"])
    info.setdefault("password", "")
    return info


def make_datastore(settings: Settings, *, pool_size: int | None = None):
    """eventsourcing's datastore (imported here so read-only services never load eventsourcing)."""
    from eventsourcing.postgres import PostgresDatastore

    info = conninfo(settings)
    return PostgresDatastore(
        dbname=info["dbname"], host=info["host"], port=info["port"], user=info["user"],
        password=info["password"], schema=settings.db_schema,
        pool_size=pool_size or settings.db_pool_size, max_overflow=4, pre_ping=True,
        lock_timeout=10, connect_timeout=10,
    )


def _search_path_options(settings: Settings) -> str:
    return f"-c search_path={settings.db_schema},public"


def connect(settings: Settings, **kwargs: Any) -> psycopg.Connection:
    info = conninfo(settings)
    return psycopg.connect(**info, options=_search_path_options(settings), **kwargs)


async def aconnect(settings: Settings, **kwargs: Any) -> psycopg.AsyncConnection:
    info = conninfo(settings)
    return await psycopg.AsyncConnection.connect(**info, options=_search_path_options(settings), **kwargs)


def make_async_pool(settings: Settings, *, min_size: int = 1, max_size: int | None = None,
                    durable_commits: bool = True) -> AsyncConnectionPool:
    """Autocommit connections. ``durable_commits=False`` is for bookkeeping whose loss in a
    database crash is harmless (counters): its commits do not wait for the WAL flush."""
    info = conninfo(settings)
    options = _search_path_options(settings) + ("" if durable_commits else " -c synchronous_commit=off")
    return AsyncConnectionPool(
        kwargs={**info, "options": options, "autocommit": True},
        min_size=min_size, max_size=max_size or settings.db_pool_size, open=False,
    )


def migrate(settings: Settings) -> list[str]:
    """Create the schema, every context's event table and the read-model tables (idempotent)."""
    from services.common.eventstore import EventStore
    from schemas.topics import CONTEXTS

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
