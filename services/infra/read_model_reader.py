"""Read-model queries for synchronous code: what the command side shows beside a write's result
(a library entry's run figures, a folder's agent count). The command side never decides on these:
they are as fresh as any read, and a write is always decided on its own streams."""

from __future__ import annotations

from typing import Any

from psycopg_pool import ConnectionPool

from services.infra import db
from services.infra.settings import Settings


class ReadModelReader:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadModelReader:
        return cls(db.make_pool(settings, max_size=4))

    def open(self) -> None:
        self.pool.open(wait=False)

    def close(self) -> None:
        self.pool.close()

    def one(self, sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
        with self.pool.connection() as conn:
            return conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            return list(conn.execute(sql, params).fetchall())
