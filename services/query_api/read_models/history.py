"""An execution's event history straight from the store's table (the system of record)."""

from __future__ import annotations

from datetime import datetime
import orjson
from psycopg_pool import AsyncConnectionPool

from schemas.events import decode_payload
from services.common.executions.state import ExecutionState

_SQL = ("SELECT originator_version, topic, state FROM executions_events WHERE originator_id = %s "
        "AND originator_version <= %s ORDER BY originator_version")


async def read_history(pool: AsyncConnectionPool, execution_id: str, upto: int | None = None) -> list[tuple]:
    """``[(seq, type, occurred_at, payload, event)]`` in order."""
    async with pool.connection() as conn:
        rows = await (await conn.execute(_SQL, (execution_id, upto if upto is not None else 2**62))).fetchall()
    out = []
    for version, topic, raw in rows:
        data = orjson.loads(bytes(raw))
        payload = decode_payload(topic, data["class_version"], data["payload"])
        out.append((int(version), topic, datetime.fromisoformat(data["occurred_at"]), payload.model_dump(mode="json"),
                    payload))
    return out


def fold(execution_id: str, history: list[tuple]) -> ExecutionState:
    state = ExecutionState(execution_id)
    for _seq, _type, at, _payload, event in history:
        state.apply(event, at)
    return state


def owner(history: list[tuple]) -> str | None:
    return history[0][3].get("user_id") if history else None
