"""An execution's event history straight from the store's table (the system of record)."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from services.domain.executions.state import ExecutionState
from services.infra import event_log
from services.infra.blobs import READ_BUDGET_BYTES, BlobStore, Refs
from services.infra.event_codec import decode_row
from services.infra.execution_refs import payload_refs, state_refs
from services.infra.http import MAX_SEQ


async def read_history(pool: AsyncConnectionPool, execution_id: str, upto: int | None = None) -> list[tuple]:
    """``[(seq, type, occurred_at, event)]`` in order (decoded and upcast). Used by the audit
    routes and by the WebSocket hub."""
    # ``before`` is exclusive; at the largest ``seq`` a route admits (a bigint) ``upto`` bounds nothing,
    # and +1 would overflow
    before = upto + 1 if upto is not None and upto < MAX_SEQ else None
    async with pool.connection() as conn:
        rows = await event_log.stream_rows(conn, "executions", execution_id, before=before)
    out = []
    for row in rows:
        recorded = decode_row(row)
        out.append((recorded.stream_version, recorded.type, recorded.occurred_at, recorded.decode()))
    return out


def fold(execution_id: str, history: list[tuple]) -> ExecutionState:
    return ExecutionState.from_events(execution_id, ((event, at) for _seq, _type, at, event in history))


def owner(history: list[tuple]) -> str | None:
    return getattr(history[0][3], "user_id", None) if history else None


async def resolved_payloads(pool: AsyncConnectionPool, history: list[tuple]) -> list[tuple]:
    """``[(seq, type, occurred_at, payload dict)]`` with real values in place of blob references
    (resolved against the execution's owner, never anything named in a reference)."""
    entries = [(seq, kind, at, event.model_dump(mode="json")) for seq, kind, at, event in history]
    refs = Refs(READ_BUDGET_BYTES)
    for _seq, kind, _at, payload in entries:
        payload_refs(kind, payload, refs)
    await refs.resolve(BlobStore(pool), owner(history) or "")
    return entries


async def resolved_fold(pool: AsyncConnectionPool, execution_id: str, history: list[tuple]) -> ExecutionState:
    """``fold`` with real values in place of blob references."""
    state = fold(execution_id, history)
    await state_refs(state, READ_BUDGET_BYTES).resolve(BlobStore(pool), state.user_id)
    return state
