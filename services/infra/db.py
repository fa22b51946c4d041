"""PostgreSQL connections: sync connections and the async pools of read models and bookkeeping.

Every connection sets ``search_path`` to the configured schema, so one database can hold several
isolated agentloom installations (the tests use a schema each). The event store's own datastore
is built in ``eventstore`` (the one module that imports eventsourcing), so read-only processes
never load that library.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from services.infra.settings import Settings


def _json_dumps(value: Any) -> str:
    """orjson where it gives the stdlib's value (almost always), else the stdlib: an integer past
    64 bits or a non-string key, which orjson refuses and a user's JSON may hold."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


# jsonb columns (read models) encode and decode with orjson: several times faster than the stdlib
# (the projector writes every node's inputs and outputs), same values. Process-wide, for every
# connection this process opens.
set_json_loads(orjson.loads)
set_json_dumps(_json_dumps)


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


def _search_path_options(settings: Settings) -> str:
    return f"-c search_path={settings.db_schema},public"


def connect(settings: Settings, **kwargs: Any) -> psycopg.Connection:
    info = conninfo(settings)
    return psycopg.connect(**info, options=_search_path_options(settings), **kwargs)


async def aconnect(settings: Settings, **kwargs: Any) -> psycopg.AsyncConnection:
    info = conninfo(settings)
    return await psycopg.AsyncConnection.connect(**info, options=_search_path_options(settings), **kwargs)


def make_async_pool(settings: Settings, *, min_size: int = 1, max_size: int | None = None,
                    durable_commits: bool = True, check: bool = False) -> AsyncConnectionPool:
    """Autocommit connections. ``durable_commits=False`` is for bookkeeping whose loss in a
    database crash is harmless (counters): its commits do not wait for the WAL flush.

    Connections are tested as they are handed out only with ``check`` (a round trip each time):
    most pools serve hot paths (reads, a statement per node), where after a database restart a
    dropped connection fails the one statement it is used for (a request answers 503 with
    Retry-After; a consumer resumes) and the pool discards it. A pool whose failures would land in
    a user's results (the key/value blocks) checks."""
    info = conninfo(settings)
    options = _search_path_options(settings) + ("" if durable_commits else " -c synchronous_commit=off")
    return AsyncConnectionPool(
        kwargs={**info, "options": options, "autocommit": True},
        min_size=min_size, max_size=max_size or settings.db_pool_size, open=False,
        check=AsyncConnectionPool.check_connection if check else None,
    )


def make_pool(settings: Settings, *, min_size: int = 0, max_size: int = 4) -> ConnectionPool:
    """Autocommit connections for synchronous code (command handlers run in worker threads);
    rows come back as dicts. Opened on first use."""
    info = conninfo(settings)
    return ConnectionPool(
        kwargs={**info, "options": _search_path_options(settings), "autocommit": True, "row_factory": dict_row},
        min_size=min_size, max_size=max_size, open=False, check=ConnectionPool.check_connection,
    )
