"""Ping a pooled connection before use only when it sat idle for a while.

eventsourcing's ``pre_ping`` sends an empty query on every checkout, so that a connection the
server dropped (a PostgreSQL restart, an idle timeout) is replaced instead of failing the
request. That is one more round trip per store read or append, and a command makes several:
under load each costs a millisecond or more. A connection handed back less than
``IDLE_BEFORE_PING_S`` ago was working then, so it is used as is; one that died in that window
fails its statement with ``OperationalError``, which the recorder's retry answers with another
connection (the pool discards the broken one on return).

The library's pool takes ``check`` and ``reset`` callbacks only at construction, and the
datastore builds its pool itself, so ``install`` sets them on the built pool (psycopg_pool's
``_check`` and ``_reset``; ``install`` raises if they are gone, and
``tests/integration/test_log_append.py`` checks the ping is skipped and a dead connection replaced).
"""

from __future__ import annotations

import time

from psycopg import Connection
from psycopg_pool import ConnectionPool

IDLE_BEFORE_PING_S = 1.0
_RETURNED_AT = "_agentloom_returned_at"


def _stamp(conn: Connection) -> None:
    """The pool's ``reset`` callback: when the connection came back."""
    setattr(conn, _RETURNED_AT, time.monotonic())


def _check(conn: Connection) -> None:
    """The pool's ``check`` callback: ping unless the connection came back a moment ago."""
    returned = getattr(conn, _RETURNED_AT, None)
    if returned is not None and time.monotonic() - returned < IDLE_BEFORE_PING_S:
        return
    ConnectionPool.check_connection(conn)


def install(pool: ConnectionPool) -> None:
    if not (hasattr(pool, "_check") and hasattr(pool, "_reset")):
        raise RuntimeError("psycopg_pool changed: its pool has no _check/_reset to set")
    pool._check, pool._reset = _check, _stamp  # noqa: SLF001 - see the module docstring
